/* The analysis of a block for the encoder: the predictor of each channel, its
 * grid and its offset.  Scalar double arithmetic, one path for every kernel, so
 * that the choices, and the bytes, do not depend on the kernel. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

/* Weights a_1..a_p / 2^shift, rounded with error feedback (as FLAC does): the
 * rounding errors do not add up along the weights. */
static int32_t quantize(const double *a, int p, int shift, int32_t *q)
{
    double carry = 0, lim = 32767;
    int32_t maxabs = 0;
    for (int i = 0; i < p; i++) {
        double v = a[i] * (double)(1 << shift) + carry;
        double rv = floor(v + 0.5);
        if (rv > lim) rv = lim;
        if (rv < -lim - 1) rv = -lim - 1;
        carry = v - rv;
        q[i] = (int32_t)rv;
        int32_t m = q[i] < 0 ? -q[i] - 1 : q[i];
        if (m > maxabs) maxabs = m;
    }
    return maxabs;
}

static int bits_of(int32_t maxabs)
{
    int b = 1;
    while (b < 16 && maxabs >= (1 << (b - 1))) b++;
    return b;
}

/* Covariance method (encoder.h).  The frame's covariances C[i][j] = sum over
 * its rows t of y[t - i] y[t - j] (y = x - d, history included) follow from the
 * autocorrelation r[j] = C[0][j] by C[i][j] = C[i-1][j-1] + y[-i] y[-j] -
 * y[nt-i] y[nt-j].  A Cholesky factorization L of C[1..P][1..P] gives, with
 * z = L^-1 C[0][1..P], the least-squares error of every order p at once
 * (C[0][0] - z_1^2 - ... - z_p^2), and each order's weights by one back
 * substitution.  Each order is judged by the error of its quantized weights
 * (the quadratic form of C, exact for the frame) and the bits of the weights:
 * nt/2 log2(error / nt) + p b.  On steep spectra (wideband recordings) the
 * least-squares weights of the frame predict far better than Levinson-Durbin's
 * Toeplitz approximation, and quantization errors grow with the order, so
 * both are measured rather than assumed.  Each order also pays a toll per
 * sample (ORDER_TOLL): decoding time grows with the order, and a higher order
 * must save more than that to be chosen. */
#define ORDER_TOLL (1.0 / 1024)
int lpc_fit(const double *r, const int32_t *rows, size_t nt, uint32_t nc, uint32_t c, int32_t d, int max_order,
            int shift, int32_t *q, int *coef_bits)
{
    enum { P1 = EPHYS_LPC_MAX_ORDER + 1 };
    double cov[P1][P1], low[P1][P1], z[P1], a[P1];
    int32_t qa[EPHYS_LPC_MAX_ORDER];
    *coef_bits = 1;
    if (r[0] <= 0 || max_order == 0) return 0;
#define Y(t) ((double)rows[(ptrdiff_t)(t) * (ptrdiff_t)nc + (ptrdiff_t)c] - (double)d)
    for (int j = 0; j <= max_order; j++) cov[0][j] = cov[j][0] = r[j];
    for (int i = 1; i <= max_order; i++)
        for (int j = i; j <= max_order; j++)
            cov[i][j] = cov[j][i] =
                cov[i - 1][j - 1] + Y(-i) * Y(-j) - Y((ptrdiff_t)nt - i) * Y((ptrdiff_t)nt - j);
#undef Y
    /* Cholesky of C[1..P][1..P], one order at a time; it stops where the
     * matrix is (numerically) singular: no higher order is tried */
    int top = 0;
    double err = r[0];
    for (int i = 1; i <= max_order; i++) {
        for (int j = 1; j <= i; j++) {
            double s = cov[i][j];
            for (int k = 1; k < j; k++) s -= low[i][k] * low[j][k];
            if (j < i) {
                low[i][j] = s / low[j][j];
            } else {
                if (!(s > 1e-9 * cov[i][i])) break;
                low[i][i] = sqrt(s);
                top = i;
            }
        }
        if (top < i) break;
        double s = cov[0][i];
        for (int k = 1; k < i; k++) s -= low[i][k] * z[k];
        z[i] = s / low[i][i];
        err -= z[i] * z[i];
        if (!(err > 0)) break;
    }
    double best_cost = 0.5 * (double)nt * log2(r[0] / (double)nt + 1e-9);
    int best = 0;
    for (int p = 1; p <= top; p++) {
        for (int i = p; i >= 1; i--) { /* L^T a = z */
            double s = z[i];
            for (int k = i + 1; k <= p; k++) s -= low[k][i] * a[k];
            a[i] = s / low[i][i];
        }
        int b = bits_of(quantize(a + 1, p, shift, qa));
        /* the error of the quantized weights: w^T C w with w = (1, -qa / 2^s) */
        double w[P1], e = 0;
        w[0] = 1;
        for (int i = 1; i <= p; i++) w[i] = -(double)qa[i - 1] / (double)(1 << shift);
        for (int i = 0; i <= p; i++) {
            double s = 0;
            for (int j = 0; j <= p; j++) s += cov[i][j] * w[j];
            e += w[i] * s;
        }
        double cost = 0.5 * (double)nt * log2((e > 0 ? e : 0) / (double)nt + 1e-9) + p * (b + ORDER_TOLL * (double)nt);
        if (cost < best_cost) {
            best_cost = cost, best = p;
            memcpy(q, qa, (size_t)p * sizeof(int32_t));
            *coef_bits = b;
        }
    }
    return best;
}

/* Per-channel grids.  Samples that all sit on a grid x = y * scale + base (data
 * scaled by a constant before storage, e.g. 12 units per ADC step) are coded as
 * y.  The encoder finds scale as the gcd of the differences to the first sample. */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Exact division of a multiple of g (|v| < 2^33): correctly rounded double
 * division of an exact integer quotient is that quotient, and costs far less
 * than a 64-bit integer division. */
static inline int64_t exact_div(int64_t v, uint32_t g) { return (int64_t)((double)v / (double)g); }

#define GRID_PROBE_ROWS 256

/* The gcd of the first GRID_PROBE_ROWS rows is the candidate, which every
 * sample must then divide. */
int lpc_find_grids(const ephys_view_t *src, uint64_t c0, uint32_t nc, int32_t *scratch, size_t rows,
                   uint32_t *scale, uint32_t *base)
{
    size_t n = src->n_samples;
    uint64_t *g = calloc(nc, sizeof(uint64_t));
    int32_t *first = malloc(nc * sizeof(int32_t));
    int any = 0;
    for (uint32_t c = 0; c < nc; c++) scale[c] = 1, base[c] = 0;
    if (!g || !first || !n) {
        free(g);
        free(first);
        return 0; /* no grid: still a valid stream */
    }
    size_t probe = n < GRID_PROBE_ROWS ? n : GRID_PROBE_ROWS;
    if (probe > rows) probe = rows;
    ephys_view_load(src, 0, probe, c0, nc, scratch);
    memcpy(first, scratch, nc * sizeof(int32_t));
    for (size_t t = 1; t < probe; t++)
        for (uint32_t c = 0; c < nc; c++) {
            if (g[c] == 1) continue;
            int64_t d = (int64_t)scratch[t * nc + c] - first[c];
            g[c] = gcd64(g[c], (uint64_t)(d < 0 ? -d : d));
        }
    uint32_t open = 0;
    for (uint32_t c = 0; c < nc; c++) {
        if (g[c] > 1 && g[c] <= UINT32_MAX) scale[c] = (uint32_t)g[c], open++;
    }
    for (size_t t0 = 0; t0 < n && open; t0 += rows) {
        size_t nt = n - t0 < rows ? n - t0 : rows;
        ephys_view_load(src, t0, nt, c0, nc, scratch);
        for (size_t t = 0; t < nt && open; t++) {
            const int32_t *row = scratch + t * nc;
            for (uint32_t c = 0; c < nc; c++) {
                if (scale[c] < 2) continue;
                int64_t d = (int64_t)row[c] - first[c];
                if (exact_div(d, scale[c]) * (int64_t)scale[c] != d) scale[c] = 1, open--;
            }
        }
    }
    for (uint32_t c = 0; c < nc; c++) {
        if (scale[c] > 1) {
            int64_t gg = scale[c];
            base[c] = (uint32_t)(((int64_t)first[c] % gg + gg) % gg);
            any = 1;
        }
    }
    free(g);
    free(first);
    return any;
}

/* Exact: every x of a channel is base + a multiple of scale. */
void lpc_to_grid(int32_t *rows, size_t nt, uint32_t nc, const uint32_t *scale, const uint32_t *base)
{
    for (size_t t = 0; t < nt; t++)
        for (uint32_t c = 0; c < nc; c++)
            if (scale[c] > 1)
                rows[t * nc + c] = (int32_t)exact_div((int64_t)rows[t * nc + c] - base[c], scale[c]);
}

/* The frame's offset d per channel: its rounded mean (0 for int32 samples,
 * whose differences could overflow); the history of a block's first frame is
 * set to d. */
void lpc_centre(frame_t *fr, int first, size_t nt, uint32_t nc, int dtype, int32_t *sum)
{
    const int32_t *rows = fr->x + (size_t)HIST * nc;
    for (uint32_t c = 0; c < nc; c++) fr->mean[c] = 0;
    if (dtype != EPHYS_DTYPE_INT32) { /* int8 / int16: a frame's sum fits in int32 (2^16 x 2^15) */
        for (uint32_t c = 0; c < nc; c++) sum[c] = 0;
        for (size_t t = 0; t < nt; t++)
            for (uint32_t c = 0; c < nc; c++) sum[c] += rows[t * nc + c];
        for (uint32_t c = 0; c < nc; c++) fr->mean[c] = (int32_t)floor((double)sum[c] / (double)nt + 0.5);
    }
    if (first) lpc_frame_fill_history(fr, nc);
}
