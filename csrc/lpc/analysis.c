/* The analysis of a block for the encoder: the predictor of each channel, its
 * grid and its offset.  Scalar double arithmetic, one path for every kernel, so
 * that the choices, and the bytes, do not depend on the kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

/* Levinson-Durbin (encoder.h). */
int lpc_fit(const double *r, int max_order, size_t nt, int shift, int32_t *q, int *coef_bits)
{
    double a[EPHYS_LPC_MAX_ORDER + 1][EPHYS_LPC_MAX_ORDER + 1];
    double err = r[0], best_cost = 0;
    int best = 0;
    *coef_bits = 1;
    if (r[0] <= 0 || max_order == 0) return 0;
    best_cost = 0.5 * (double)nt * log2(err / (double)nt + 1e-9);
    double prev[EPHYS_LPC_MAX_ORDER + 1] = {0};
    for (int m = 1; m <= max_order; m++) {
        double acc = r[m];
        for (int i = 1; i < m; i++) acc -= prev[i] * r[m - i];
        double k = acc / err;
        if (!(fabs(k) < 1)) break;
        double cur[EPHYS_LPC_MAX_ORDER + 1];
        for (int i = 1; i < m; i++) cur[i] = prev[i] - k * prev[m - i];
        cur[m] = k;
        err *= 1 - k * k;
        if (err <= 0) break;
        memcpy(prev, cur, sizeof(cur));
        memcpy(a[m], cur, sizeof(cur));
        double cost = 0.5 * (double)nt * log2(err / (double)nt + 1e-9) + m * (shift + 3);
        if (cost < best_cost) best_cost = cost, best = m;
    }
    if (!best) return 0;
    /* quantize with error feedback, as FLAC does */
    double carry = 0, lim = 32767;
    int32_t maxabs = 0;
    for (int i = 1; i <= best; i++) {
        double v = a[best][i] * (double)(1 << shift) + carry;
        double rv = floor(v + 0.5);
        if (rv > lim) rv = lim;
        if (rv < -lim - 1) rv = -lim - 1;
        carry = v - rv;
        q[i - 1] = (int32_t)rv;
        int32_t m = q[i - 1] < 0 ? -q[i - 1] - 1 : q[i - 1];
        if (m > maxabs) maxabs = m;
    }
    int b = 1;
    while (b < 16 && maxabs >= (1 << (b - 1))) b++;
    *coef_bits = b;
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
