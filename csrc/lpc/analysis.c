/* The analysis of a block for the encoder: the predictor of each channel, its
 * grid and its offset.  Scalar double arithmetic, one path for every kernel, so
 * that the choices, and the bytes, do not depend on the kernel. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

/* The magnitude a weight's bits must hold (bits_of): v for v >= 0, -v - 1 below. */
static int32_t magnitude(int32_t v) { return v < 0 ? -v - 1 : v; }

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
        if (magnitude(q[i]) > maxabs) maxabs = magnitude(q[i]);
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
/* The error of weights qa / 2^shift (order p) on the frame: w^T C w with w = (1, -qa / 2^s). */
static double weights_error(double cov[][EPHYS_LPC_MAX_ORDER + 1], const int32_t *qa, int p, int shift)
{
    double w[EPHYS_LPC_MAX_ORDER + 1], e = 0;
    w[0] = 1;
    for (int i = 1; i <= p; i++) w[i] = -(double)qa[i - 1] / (double)(1 << shift);
    for (int i = 0; i <= p; i++) {
        double s = 0;
        for (int j = 0; j <= p; j++) s += cov[i][j] * w[j];
        e += w[i] * s;
    }
    return e;
}

int lpc_fit(const double *r, const int32_t *rows, size_t nt, uint32_t nc, uint32_t c, uint32_t width, int32_t d,
            int max_order, int shift, int32_t *q, int *coef_bits, const int32_t *prev_q, int prev_order)
{
    enum { P1 = EPHYS_LPC_MAX_ORDER + 1 };
    double cov[P1][P1], low[P1][P1], z[P1], a[P1];
    int32_t qa[EPHYS_LPC_MAX_ORDER];
    *coef_bits = 1;
    if (r[0] <= 0 || max_order == 0) return 0;
#define Y(t, l) ((double)rows[(ptrdiff_t)(t) * (ptrdiff_t)nc + (ptrdiff_t)(c + l)] - (double)d)
    for (int j = 0; j <= max_order; j++) cov[0][j] = cov[j][0] = r[j];
    for (int i = 1; i <= max_order; i++)
        for (int j = i; j <= max_order; j++) {
            double s = cov[i - 1][j - 1];
            for (uint32_t l = 0; l < width; l++)
                s = s + Y(-i, l) * Y(-j, l) - Y((ptrdiff_t)nt - i, l) * Y((ptrdiff_t)nt - j, l);
            cov[i][j] = cov[j][i] = s;
        }
#undef Y
    nt *= width; /* the samples the costs below count */
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
        double e = weights_error(cov, qa, p, shift); /* of the quantized weights */
        double cost = 0.5 * (double)nt * log2((e > 0 ? e : 0) / (double)nt + 1e-9) + p * (b + ORDER_TOLL * (double)nt);
        if (cost < best_cost) {
            best_cost = cost, best = p;
            memcpy(q, qa, (size_t)p * sizeof(int32_t));
            *coef_bits = b;
        }
    }
    if (prev_q && prev_order <= max_order) { /* their weights' bits are (almost) saved */
        double e = weights_error(cov, prev_q, prev_order, shift);
        double cost = 0.5 * (double)nt * log2((e > 0 ? e : 0) / (double)nt + 1e-9) + prev_order * ORDER_TOLL * (double)nt;
        if (cost <= best_cost) {
            best = prev_order;
            memcpy(q, prev_q, (size_t)prev_order * sizeof(int32_t));
            int32_t maxabs = 0;
            for (int i = 0; i < prev_order; i++) maxabs = magnitude(prev_q[i]) > maxabs ? magnitude(prev_q[i]) : maxabs;
            *coef_bits = bits_of(maxabs);
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

/* Per-channel value dictionaries (version 6).  A channel whose values are
 * sparse on the integer line (a non-integer grid, such as Open Ephys files
 * that store ADC steps of ~24.04 counts) is coded as the rank of each value
 * among its distinct values: the ranks follow the grid's index, so the
 * predictor sees ADC steps, and the stream carries the values once. */

/* Rice bits of the gaps g[0..n) with parameter r (escapes: ESCAPE_Q + 32). */
static uint64_t gap_bits(const uint32_t *g, size_t n, int r)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t q = g[i] >> r;
        bits += q >= ESCAPE_Q ? ESCAPE_Q + 32 : q + 1 + (uint64_t)r;
    }
    return bits;
}

void lpc_dictionary_free(lpc_dictionary_t *d)
{
    free(d->values);
    free(d->rank);
    memset(d, 0, sizeof(*d));
}

#define BITMAP_WORDS (65536 / 64) /* one bit per int16 value */
#define DICTIONARY_GROUP 64         /* candidate channels whose bitmaps are filled in one pass over the rows */
#define DICTIONARY_PROBE_ROWS 256   /* rows that decide which channels are candidates */

/* The distinct values of bitmap seen and how many of them have their next
 * value (v + 1) seen too. */
static size_t bitmap_count(const uint64_t *seen, size_t words, size_t *adjacent)
{
    size_t count = 0;
    *adjacent = 0;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = seen[i], next = i + 1 < words ? seen[i + 1] & 1 : 0;
        count += (size_t)__builtin_popcountll(w);
        *adjacent += (size_t)__builtin_popcountll(w & ((w >> 1) | (next << 63)));
    }
    return count;
}

/* Sparse: most gaps between neighbouring distinct values at least 2. */
static int sparse(size_t count, size_t adjacent) { return count >= 2 && 2 * adjacent < count - 1; }

/* The values rows[t stride + c] - first (each in [0, 65536)) into seen. */
static void bitmap_add(uint64_t *seen, const int32_t *rows, size_t nt, uint32_t stride, uint32_t c, int32_t first)
{
    for (size_t t = 0; t < nt; t++) {
        uint32_t v = (uint32_t)(rows[t * stride + c] - first);
        seen[v >> 6] |= (uint64_t)1 << (v & 63);
    }
}

/* Whether a channel with the values of bitmap seen (n samples) gets a
 * dictionary: its distinct values must be sparse and the bits saved on the
 * samples (log2 of the mean gap each) at least twice the dictionary's.
 * Fills d if so. */
static int choose_dictionary(const uint64_t *seen, size_t n, lpc_dictionary_t *d)
{
    size_t adjacent, count = bitmap_count(seen, BITMAP_WORDS, &adjacent);
    if (!sparse(count, adjacent) || count > n / 2) return EPHYS_OK;
    d->values = malloc(count * sizeof(int32_t));
    uint32_t *gaps = malloc((count - 1) * sizeof(uint32_t));
    if (!d->values || !gaps) {
        free(gaps);
        return EPHYS_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < BITMAP_WORDS; i++)
        for (uint64_t w = seen[i]; w; w &= w - 1) d->values[k++] = (int32_t)(64 * i + (size_t)__builtin_ctzll(w)) - 32768;
    for (size_t i = 1; i < count; i++) gaps[i - 1] = (uint32_t)(d->values[i] - d->values[i - 1] - 1);
    uint64_t best = UINT64_MAX;
    for (int r = 0; r <= 16; r++) {
        uint64_t bits = gap_bits(gaps, count - 1, r);
        if (bits < best) best = bits, d->gap_rice = r;
    }
    free(gaps);
    double mean_gap = (double)(d->values[count - 1] - d->values[0]) / (double)(count - 1);
    double saved = (double)n * log2(mean_gap), cost = (double)best + DICTIONARY_HEADER_BITS;
    if (saved < 2 * cost) {
        lpc_dictionary_free(d);
        return EPHYS_OK;
    }
    d->count = (uint32_t)count;
    d->rank = malloc(((size_t)(d->values[count - 1] - d->values[0]) + 1) * sizeof(int32_t));
    if (!d->rank) return EPHYS_ERR_NOMEM;
    for (size_t i = 0; i < count; i++) d->rank[d->values[i] - d->values[0]] = (int32_t)i - (int32_t)(count / 2);
    return EPHYS_OK;
}

/* The first DICTIONARY_PROBE_ROWS rows pick the candidates (sparse there, no
 * grid): continuous signals are dropped at that cost, a bitmap over the
 * probe's range of values.  Then the candidates'
 * bitmaps over all rows, DICTIONARY_GROUP channels per pass. */
int lpc_find_dictionaries(const ephys_view_t *src, uint64_t c0, uint32_t nc, int32_t *scratch, size_t rows,
                          const uint32_t *scale, lpc_dictionary_t *dict, int *any)
{
    size_t n = src->n_samples, probe = n < DICTIONARY_PROBE_ROWS ? n : DICTIONARY_PROBE_ROWS;
    int err = EPHYS_OK;
    *any = 0;
    for (uint32_t c = 0; c < nc; c++) memset(&dict[c], 0, sizeof(dict[c]));
    if ((src->dtype != EPHYS_DTYPE_INT8 && src->dtype != EPHYS_DTYPE_INT16) || !n) return EPHYS_OK;
    uint32_t *candidates = malloc(nc * sizeof(uint32_t));
    uint64_t *seen = malloc(BITMAP_WORDS * sizeof(uint64_t));
    int32_t *low = malloc(2 * (size_t)nc * sizeof(int32_t)), *high = low ? low + nc : NULL;
    if (!candidates || !seen || !low) {
        free(candidates);
        free(seen);
        free(low);
        return EPHYS_ERR_NOMEM;
    }
    if (probe > rows) probe = rows;
    ephys_view_load(src, 0, probe, c0, nc, scratch);
    memcpy(low, scratch, nc * sizeof(int32_t));
    memcpy(high, scratch, nc * sizeof(int32_t));
    for (size_t t = 1; t < probe; t++)
        for (uint32_t c = 0; c < nc; c++) {
            int32_t v = scratch[t * nc + c];
            low[c] = v < low[c] ? v : low[c];
            high[c] = v > high[c] ? v : high[c];
        }
    uint32_t n_candidates = 0;
    for (uint32_t c = 0; c < nc; c++) {
        size_t adjacent, count;
        if (scale[c] > 1) continue;
        size_t words = (size_t)((uint32_t)(high[c] - low[c]) >> 6) + 1; /* the probe's range only */
        memset(seen, 0, words * sizeof(uint64_t));
        bitmap_add(seen, scratch, probe, nc, c, low[c]);
        count = bitmap_count(seen, words, &adjacent);
        if (sparse(count, adjacent)) candidates[n_candidates++] = c;
    }
    uint32_t group = n_candidates < DICTIONARY_GROUP ? n_candidates : DICTIONARY_GROUP;
    if (group > 1) {
        uint64_t *more = realloc(seen, (size_t)group * BITMAP_WORDS * sizeof(uint64_t));
        if (!more) err = EPHYS_ERR_NOMEM;
        else seen = more;
    }
    for (uint32_t g0 = 0; g0 < n_candidates && !err; g0 += group) {
        uint32_t gn = n_candidates - g0 < group ? n_candidates - g0 : group;
        memset(seen, 0, (size_t)gn * BITMAP_WORDS * sizeof(uint64_t));
        for (size_t t0 = 0; t0 < n; t0 += rows) {
            size_t nt = n - t0 < rows ? n - t0 : rows;
            ephys_view_load(src, t0, nt, c0, nc, scratch);
            for (uint32_t i = 0; i < gn; i++)
                bitmap_add(seen + (size_t)i * BITMAP_WORDS, scratch, nt, nc, candidates[g0 + i], -32768);
        }
        for (uint32_t i = 0; i < gn && !err; i++) {
            lpc_dictionary_t *d = &dict[candidates[g0 + i]];
            err = choose_dictionary(seen + (size_t)i * BITMAP_WORDS, n, d);
            *any |= d->count > 0;
        }
    }
    free(candidates);
    free(seen);
    free(low);
    return err;
}

void lpc_to_dictionary(int32_t *rows, size_t nt, uint32_t nc, const lpc_dictionary_t *dict)
{
    for (uint32_t c = 0; c < nc; c++) {
        if (!dict[c].count) continue;
        for (size_t t = 0; t < nt; t++) rows[t * nc + c] = dict[c].rank[rows[t * nc + c] - dict[c].values[0]];
    }
}

/* The frame's offset d per channel: its rounded mean (0 for int32 samples,
 * whose differences could overflow); the history of a block's first frame is
 * set to d. */
void lpc_centre(block_t *block, int first, size_t nt, uint32_t nc, uint32_t width, int dtype, int32_t *sum)
{
    const int32_t *rows = block->x + (size_t)HIST * nc;
    for (uint32_t c = 0; c < nc; c++) block->mean[c] = 0;
    if (dtype != EPHYS_DTYPE_INT32) { /* int8 / int16: a lane's sum over a frame fits in int32 (2^16 x 2^15) */
        for (uint32_t c = 0; c < nc; c++) sum[c] = 0;
        for (size_t t = 0; t < nt; t++)
            for (uint32_t c = 0; c < nc; c++) sum[c] += rows[t * nc + c];
        for (uint32_t c = 0; c < nc; c += width) { /* one offset per channel, over its lanes */
            int64_t total = 0;
            for (uint32_t l = 0; l < width; l++) total += sum[c + l];
            int32_t mean = (int32_t)floor((double)total / (double)(nt * width) + 0.5);
            for (uint32_t l = 0; l < width; l++) block->mean[c + l] = mean;
        }
    }
    if (first) lpc_frame_fill_history(block, nc);
}
