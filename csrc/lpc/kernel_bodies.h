/* The bodies of the kernels, written once: kernel_template.h compiles them per
 * instruction set into the functions of the lpc_kernels_t table (kernels.h), and
 * the AVX2 kernels written with intrinsics use them for their tails.  Each is
 * inlined into its caller, so that the compiler vectorizes it for the caller's
 * target.
 *
 * x points at the frame's first row of an interleaved buffer that holds HIST
 * rows of history before it; coef is [order][nc] (weight of x[t - 1 - i]),
 * zero where a channel's own order is lower.  int32 accumulation is used only
 * where the caller proved it cannot overflow (wide == 0). */
#ifndef EPHYS_LPC_KERNEL_BODIES_H
#define EPHYS_LPC_KERNEL_BODIES_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* ---- encoder and decoder: prediction over time ---- */

/* v limited to [lo, hi], written as max then min (vpmaxsd, vpminsd). */
ATTR_INLINE int32_t clamp32(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* acc = init + sum_i w_i x[t - 1 - i] for the row x[t] of every channel: in
 * int32 where the caller proved it cannot overflow, otherwise in int64. */
ATTR_INLINE void accumulate64(const int32_t *row, uint32_t nc, const int32_t *coef, int order, const int64_t *init,
                              int64_t *acc)
{
    for (uint32_t c = 0; c < nc; c++) acc[c] = init[c];
    for (int i = 0; i < order; i++) {
        const int32_t *past = row - (size_t)(i + 1) * nc, *w = coef + (size_t)i * nc;
        for (uint32_t c = 0; c < nc; c++) acc[c] += (int64_t)w[c] * past[c];
    }
}

/* int32 prediction of one row with a compile-time order (the switches below
 * call it with constants): each channel's sum stays in a register, where the
 * generic accumulate64 passes over memory once per weight. */
ATTR_INLINE int32_t predict32(const int32_t *row, uint32_t nc, uint32_t c, const int32_t *coef, int order,
                              const int32_t *init)
{
    int32_t acc = init[c];
    for (int i = 0; i < order; i++) acc += coef[(size_t)i * nc + c] * row[c - (size_t)(i + 1) * nc];
    return acc;
}

#define ORDER_SWITCH(CALL) /* CALL(order) for the frame orders lpc_frame_setup returns */          \
    switch (order) {                                                                                \
    case 0: CALL(0); break;                                                                         \
    case 1: CALL(1); break;                                                                         \
    case 2: CALL(2); break;                                                                         \
    case 3: CALL(3); break;                                                                         \
    case 4: CALL(4); break;                                                                         \
    case 8: CALL(8); break;                                                                         \
    case 16: CALL(16); break;                                                                       \
    case 32: CALL(32); break;                                                                       \
    default: CALL(order);                                                                           \
    }

ATTR_INLINE void residual32_rows(const int32_t *restrict x, size_t nt, uint32_t nc, const int32_t *restrict coef,
                                 int order, int shift, int32_t lo, int32_t hi, const int32_t *restrict init,
                                 int32_t *restrict e)
{
    for (size_t t = 0; t < nt; t++) {
        const int32_t *row = x + t * nc;
        int32_t *out = e + t * nc;
        for (uint32_t c = 0; c < nc; c++) {
            int32_t p = clamp32(predict32(row, nc, c, coef, order, init) >> shift, lo, hi); /* arithmetic shift */
            out[c] = (int32_t)((uint32_t)row[c] - (uint32_t)p);
        }
    }
}

/* Lossless int32 synthesis; returns nonzero if a sample falls outside [lo, hi]
 * (corrupt: the stored value is clamped so that the next predictions stay in range). */
ATTR_INLINE int synth32_rows(int32_t *restrict x, size_t nt, uint32_t nc, const int32_t *restrict coef, int order,
                             int shift, int32_t lo, int32_t hi, const int32_t *restrict init,
                             const int32_t *restrict e, int32_t *restrict flags)
{
    for (uint32_t c = 0; c < nc; c++) flags[c] = 0;
    for (size_t t = 0; t < nt; t++) {
        int32_t *row = x + t * nc;
        const int32_t *res = e + t * nc;
        for (uint32_t c = 0; c < nc; c++) {
            int32_t p = clamp32(predict32(row, nc, c, coef, order, init) >> shift, lo, hi);
            /* int8 / int16 samples here (int32 ones take the int64 path): a sum of the
             * prediction and a residual outside [lo, hi] marks a corrupt stream, even
             * when it wraps, and the clamped value keeps the next predictions in range */
            int32_t v = (int32_t)((uint32_t)p + (uint32_t)res[c]), kept = clamp32(v, lo, hi);
            flags[c] |= v ^ kept; /* per lane: no reduction per row */
            row[c] = kept;
        }
    }
    int bad = 0;
    for (uint32_t c = 0; c < nc; c++) bad |= flags[c];
    return bad;
}

ATTR_INLINE void residual_body(const int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order,
                               int shift, int wide, int32_t lo, int32_t hi, const acc_init_t *init, int64_t *acc64,
                               int32_t *e)
{
    if (!wide) {
#define RESIDUAL32(K) residual32_rows(x, nt, nc, coef, K, shift, lo, hi, init->i32, e)
/* with the default channel block as a constant, the rows' offsets become
 * immediates, freeing the registers that held them */
#define RESIDUAL32_NC(K) residual32_rows(x, nt, EPHYS_LPC_BLOCK_CHANNELS, coef, K, shift, lo, hi, init->i32, e)
        if (nc == EPHYS_LPC_BLOCK_CHANNELS) {
            ORDER_SWITCH(RESIDUAL32_NC)
        } else {
            ORDER_SWITCH(RESIDUAL32)
        }
        return;
    }
    for (size_t t = 0; t < nt; t++) {
        const int32_t *row = x + t * nc;
        int32_t *out = e + t * nc;
        accumulate64(row, nc, coef, order, init->i64, acc64);
        for (uint32_t c = 0; c < nc; c++) {
            int64_t p = floor_shift(acc64[c], shift);
            p = p < lo ? lo : p > hi ? hi : p;
            out[c] = wrap32((int64_t)row[c] - p);
        }
    }
}

/* Lossless synthesis: x[t] = wrap(pred + e[t]); returns nonzero if a decoded
 * sample falls outside [lo, hi] (the stream is corrupt; the stored value is
 * clamped so that the next predictions stay in range). */
ATTR_INLINE int synth_body(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order, int shift,
                           int wide, int32_t lo, int32_t hi, const acc_init_t *init, int32_t *flags,
                           int64_t *acc64, const int32_t *e)
{
    int bad = 0;
    if (!wide) {
#define SYNTH32(K) bad = synth32_rows(x, nt, nc, coef, K, shift, lo, hi, init->i32, e, flags)
#define SYNTH32_NC(K) bad = synth32_rows(x, nt, EPHYS_LPC_BLOCK_CHANNELS, coef, K, shift, lo, hi, init->i32, e, flags)
        if (nc == EPHYS_LPC_BLOCK_CHANNELS) { /* as in residual_body */
            ORDER_SWITCH(SYNTH32_NC)
        } else {
            ORDER_SWITCH(SYNTH32)
        }
        return bad;
    }
    for (size_t t = 0; t < nt; t++) {
        int32_t *row = x + t * nc;
        const int32_t *res = e + t * nc;
        accumulate64(row, nc, coef, order, init->i64, acc64);
        for (uint32_t c = 0; c < nc; c++) {
            int64_t p = floor_shift(acc64[c], shift);
            p = p < lo ? lo : p > hi ? hi : p;
            int64_t v = (lo == INT32_MIN) ? wrap32(p + res[c]) : p + res[c];
            bad |= (v < lo) | (v > hi);
            row[c] = (int32_t)(v < lo ? lo : v > hi ? hi : v);
        }
    }
    return bad;
}

/* Near-lossless: x[t] = ephys_clamp_i32(pred + q (2k + 1)); the encoder also chooses q
 * (quantize != 0), from the original samples orig, in the same loop. */
ATTR_INLINE void near_body(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order, int shift,
                           int32_t lo, int32_t hi, const acc_init_t *init, int64_t *acc64, int32_t *q,
                           const int32_t *orig, int64_t step)
{
    const int64_t half = step / 2;
    for (size_t t = 0; t < nt; t++) {
        int32_t *row = x + t * nc;
        int32_t *sym = q + t * nc;
        accumulate64(row, nc, coef, order, init->i64, acc64);
        for (uint32_t c = 0; c < nc; c++) {
            int64_t p = floor_shift(acc64[c], shift);
            p = p < lo ? lo : p > hi ? hi : p;
            if (orig) {
                int64_t d = (int64_t)orig[t * nc + c] - p;
                int64_t m = d >= 0 ? (d + half) / step : -((-d + half) / step);
                sym[c] = (int32_t)m; /* |d| <= 2^32 and step >= 3 */
            }
            int64_t v = p + (int64_t)sym[c] * step;
            row[c] = (int32_t)(v < lo ? lo : v > hi ? hi : v);
        }
    }
}

/* Autocorrelation lags 0..order of every channel's x - d over the rows of a
 * frame, history included: r[l * nc + c].  Summed per channel in row order
 * whatever the kernel, so the result does not depend on it (no reassociation,
 * no FMA contraction). */
ATTR_INLINE void autocorr_body(const int32_t *x, size_t nt, uint32_t nc, int order, const int32_t *d, double *r)
{
    for (size_t i = 0; i < (size_t)(order + 1) * nc; i++) r[i] = 0;
    for (size_t t = 0; t < nt; t++) {
        const int32_t *row = x + t * nc;
        for (int l = 0; l <= order; l++) {
            const int32_t *past = row - (size_t)l * nc;
            double *acc = r + (size_t)l * nc;
            for (uint32_t c = 0; c < nc; c++) acc[c] += (double)(row[c] - d[c]) * (double)(past[c] - d[c]);
        }
    }
}

/* ---- the neighbour term (versions 3, 4 and 6) ---- */

/* (G S + 64) >> 7, with S and G S + 64 wrapping modulo 2^32 (for int8 and int16
 * samples they never do), so that the decoder's loops run in 32-bit lanes. */
ATTR_INLINE int32_t neighbour_term32(int32_t gain, uint32_t sum)
{
    return i32_of_u32((uint32_t)gain * sum + (1u << (GAIN_SHIFT - 1))) >> GAIN_SHIFT;
}

/* One channel's column of a partition (versions 3, 4 and 6): coded values u -> residuals
 * e in place, with S (sum) the running sum of the m channels before it;
 * leaving is the column of channel c - m (dropped from S), or NULL. */
ATTR_INLINE void column_residuals_body(uint32_t *col, size_t pn, int32_t gain, uint32_t *sum, const uint32_t *leaving,
                                       int m)
{
    /* three loops, so that none tests per value (a masked load per value in the vectorized tails) */
    if (!m) { /* without neighbours the gain is 0 and sum is not kept */
        for (size_t j = 0; j < pn; j++) col[j] = (col[j] >> 1) ^ (0u - (col[j] & 1));
    } else if (leaving) {
        for (size_t j = 0; j < pn; j++) {
            uint32_t u = col[j], e = ((u >> 1) ^ (0u - (u & 1))) + (uint32_t)neighbour_term32(gain, sum[j]);
            sum[j] += e - leaving[j];
            col[j] = e;
        }
    } else {
        for (size_t j = 0; j < pn; j++) {
            uint32_t u = col[j], e = ((u >> 1) ^ (0u - (u & 1))) + (uint32_t)neighbour_term32(gain, sum[j]);
            sum[j] += e;
            col[j] = e;
        }
    }
}

/* sums[c] = e_{c-1} + ... + e_{max(0, c-m)} modulo 2^32 (all the term of versions 3, 4, 6
 * and 7 needs), over the lanes of one segment: lane v = c S + s (version 7; S = 1
 * before), so channel c's neighbours are the lanes v - S, ..., v - m S; inlined
 * with constants m and S, the loop over lanes vectorizes. */
ATTR_INLINE void window_sums(const int32_t *restrict row, uint32_t nv, int m, uint32_t width, uint32_t *restrict sums)
{
    uint32_t span = (uint32_t)m * width, head = nv < span ? nv : span;
    for (uint32_t v = 0; v < head; v++) {
        sums[v] = 0;
        for (uint32_t i = width; i <= v; i += width) sums[v] += (uint32_t)row[v - i];
    }
    for (size_t v = head; v < nv; v++) {
        const int32_t *at = row + v;
        uint32_t acc = 0;
        for (ptrdiff_t i = 1; i <= m; i++) acc += (uint32_t)at[-i * (ptrdiff_t)width];
        sums[v] = acc;
    }
}

ATTR_INLINE void neighbour_sums(const int32_t *row, uint32_t nv, int m, uint32_t width, uint32_t *sums)
{
    if (m == 4 && width == 1) /* the default neighbours (and no segments) as constants */
        window_sums(row, nv, 4, 1, sums);
    else if (m == 4)
        window_sums(row, nv, 4, width, sums);
    else
        window_sums(row, nv, m, width, sums);
}

/* Encoder: residuals e -> coded values zigzag(e - neighbour term) in place
 * (sums: nv scratch values). */
ATTR_INLINE void code_rows_body(int32_t *e, size_t nt, uint32_t nv, int m, uint32_t width, const int32_t *gain,
                                uint32_t *sums)
{
    if (!m) {
        for (size_t i = 0; i < nt * nv; i++) e[i] = (int32_t)zigzag(e[i]);
        return;
    }
    for (size_t t = 0; t < nt; t++) {
        int32_t *row = e + t * nv;
        neighbour_sums(row, nv, m, width, sums);
        for (uint32_t v = 0; v < nv; v++)
            row[v] = (int32_t)zigzag(i32_of_u32((uint32_t)row[v] - (uint32_t)neighbour_term32(gain[v], sums[v])));
    }
}

#define GAIN_ROW_STEP 4 /* gains are fitted on every 4th row */

/* Least-squares gain of each channel's residual on S, quantized to GAIN_BITS,
 * kept only where it lowers the sum of absolute values (what Rice coding pays
 * for): on faint noise the rounding of the term costs more than the
 * correlation saves.  Fitted on every GAIN_ROW_STEP-th row.  A channel's gain
 * is one over its width lanes (its segments, version 7), written to each. */
ATTR_INLINE int fit_gains_body(const int32_t *e, size_t nt, uint32_t nv, int m, uint32_t width, int32_t *gain,
                               uint32_t *sums)
{
    for (uint32_t v = 0; v < nv; v++) gain[v] = 0;
    if (!m || nv < 2 * width) return EPHYS_OK;
    double *num = calloc(2 * (size_t)nv, sizeof(double));
    if (!num) return EPHYS_ERR_NOMEM;
    double *den = num + nv;
    for (size_t t = 0; t < nt; t += GAIN_ROW_STEP) {
        const int32_t *row = e + t * nv;
        neighbour_sums(row, nv, m, width, sums);
        for (uint32_t v = 0; v < nv; v++) {
            double sv = (double)i32_of_u32(sums[v]); /* exact for int8 and int16 samples */
            num[v] += sv * row[v];
            den[v] += sv * sv;
        }
    }
    int32_t lim = (1 << (GAIN_BITS - 1)) - 1;
    for (uint32_t v = width; v < nv; v += width) {
        double n = num[v], d = den[v];
        for (uint32_t s = 1; s < width; s++) n += num[v + s], d += den[v + s];
        if (!(d > 0)) continue;
        double g = floor(n / d * (1 << GAIN_SHIFT) + 0.5);
        gain[v] = (int32_t)(g > lim ? lim : g < -lim - 1 ? -lim - 1 : g);
        for (uint32_t s = 1; s < width; s++) gain[v + s] = gain[v];
    }
    int64_t *with = (int64_t *)num, *without = (int64_t *)den; /* same size as double */
    for (uint32_t v = 0; v < nv; v++) with[v] = without[v] = 0;
    for (size_t t = 0; t < nt; t += GAIN_ROW_STEP) {
        const int32_t *row = e + t * nv;
        neighbour_sums(row, nv, m, width, sums);
        for (uint32_t v = 0; v < nv; v++) {
            int64_t x = (int64_t)row[v] - neighbour_term32(gain[v], sums[v]);
            with[v] += x < 0 ? -x : x;
            without[v] += row[v] < 0 ? -(int64_t)row[v] : row[v];
        }
    }
    for (uint32_t v = 0; v < nv; v += width) {
        int64_t a = with[v], b = without[v];
        for (uint32_t s = 1; s < width; s++) a += with[v + s], b += without[v + s];
        if (!(a < b - 4))
            for (uint32_t s = 0; s < width; s++) gain[v + s] = 0;
    }
    free(num);
    return EPHYS_OK;
}

/* ---- decoder: grids ---- */

/* from_grid's samples: x = y scale + base modulo 2^32, where y lies within
 * [bounds[c], bounds[nc + c]]; returns nonzero if one does not. */
ATTR_INLINE int grid_body(const int32_t *restrict y, size_t nt, uint32_t nc, const uint32_t *restrict scale,
                          const uint32_t *restrict base, const int32_t *restrict bounds, int32_t *restrict x)
{
    const int32_t *first = bounds, *last = bounds + nc;
    int32_t bad = 0;
    for (size_t t = 0; t < nt; t++) {
        const int32_t *in = y + t * nc;
        int32_t *out = x + t * nc;
        for (uint32_t c = 0; c < nc; c++) {
            bad |= (in[c] < first[c]) | (in[c] > last[c]);
            out[c] = i32_of_u32((uint32_t)in[c] * scale[c] + base[c]);
        }
    }
    return bad;
}

/* ---- partitions: columns, Rice parameters, caps ---- */

/* Channel-major columns (nc of pn values, stride apart) -> interleaved rows (pn x nc), in 8 x 8 tiles;
 * row lane c from column cols[c] (NULL: column c). */
ATTR_INLINE void transpose_body(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc, const uint32_t *cols,
                                int32_t *e)
{
    size_t j0 = 0;
    uint32_t c0 = 0;
#define COLUMN(c) (cm + (size_t)(cols ? cols[c] : (c)) * stride)
    for (; c0 + 8 <= nc; c0 += 8) {
        for (j0 = 0; j0 + 8 <= pn; j0 += 8)
            for (size_t j = j0; j < j0 + 8; j++)
                for (uint32_t c = c0; c < c0 + 8; c++) e[j * nc + c] = i32_of_u32(COLUMN(c)[j]);
        for (size_t j = j0; j < pn; j++)
            for (uint32_t c = c0; c < c0 + 8; c++) e[j * nc + c] = i32_of_u32(COLUMN(c)[j]);
    }
    for (size_t j = 0; j < pn; j++)
        for (uint32_t c = c0; c < nc; c++) e[j * nc + c] = i32_of_u32(COLUMN(c)[j]);
#undef COLUMN
}

/* The Rice parameter with the fewest bits for a partition's values u
 * (ZERO_PARTITION if all are 0): of k0, k0 + 1, k0 + 2 around log2 of their
 * mean, with cost[i] the bits of k0 + i beyond k0 + i + 1 per value: the unary
 * part, or 63 for an escape (n <= 2^12: no overflow in 32 bits). */
ATTR_INLINE int rice_k0_of_sum(uint64_t sum, size_t n)
{
    if (!sum) return -1;
    uint64_t mean = sum / n;
    int k0 = 0;
    while (k0 < 29 && (mean >> (k0 + 1))) k0++;
    return k0 > 0 ? k0 - 1 : 0;
}

ATTR_INLINE int rice_k0(const uint32_t *u, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += u[i];
    return rice_k0_of_sum(sum, n);
}

ATTR_INLINE void rice_costs(const uint32_t *u, size_t n, int k0, uint32_t *cost)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t q0 = u[i] >> k0, q1 = q0 >> 1, q2 = q0 >> 2;
        cost[0] += q0 >= ESCAPE_Q ? ESCAPE_Q + 31 : q0;
        cost[1] += q1 >= ESCAPE_Q ? ESCAPE_Q + 31 : q1;
        cost[2] += q2 >= ESCAPE_Q ? ESCAPE_Q + 31 : q2;
    }
}

/* Also the bits of the unary parts with the chosen parameter (q + 1 per
 * value, ESCAPE_Q + 32 per escape). */
static inline int rice_choice(const uint32_t *cost, size_t n, int k0, uint64_t *unary_bits)
{
    int best = 0;
    for (int i = 1; i < 3; i++)
        if (cost[i] + (uint64_t)i * n < cost[best] + (uint64_t)best * n) best = i;
    *unary_bits = cost[best] + (uint64_t)n;
    return k0 + best;
}

ATTR_INLINE int rice_parameter_body(const uint32_t *u, size_t n, uint64_t *unary_bits)
{
    int k0 = rice_k0(u, n);
    uint32_t cost[3] = {0, 0, 0};
    *unary_bits = 0;
    if (k0 < 0) return ZERO_PARTITION;
    rice_costs(u, n, k0, cost);
    return rice_choice(cost, n, k0, unary_bits);
}

/* The unary bits of each capped code tried (UINT32_MAX where r - cap_drop < 0):
 * each value whose high part q = u >> k reaches T = 2^b - 1 has q - T in
 * unary, q - T + 1 bits, or an escape of ESCAPE_Q + 32 bits. */
ATTR_INLINE uint32_t cap_bits(uint32_t q, uint32_t t)
{
    /* masks and a minimum, so that the loop vectorizes */
    uint32_t z = (q - t + 1) & (0u - (uint32_t)(q >= t)), c = z < ESCAPE_Q + 1 ? z : ESCAPE_Q + 1;
    return c + ((0u - (uint32_t)(c == ESCAPE_Q + 1)) & 31);
}

ATTR_INLINE void cap_costs_body(const uint32_t *u, size_t n, int r, uint32_t *bits)
{
    int k[CAP_TRIES]; /* shifts clamped at 0; those tries are dropped at the end */
    uint32_t t[CAP_TRIES], sum[CAP_TRIES] = {0}, top = 0;
    for (int i = 0; i < CAP_TRIES; i++) {
        k[i] = r >= cap_drop[i] ? r - cap_drop[i] : 0;
        t[i] = (1u << cap_b[i]) - 1;
    }
    /* one pass for all tries, without escapes: max(q, T - 1) - (T - 1) = q - T + 1 or 0 */
    for (size_t j = 0; j < n; j++) {
        uint32_t v = u[j];
        top = top > v ? top : v;
        for (int i = 0; i < CAP_TRIES; i++) {
            uint32_t q = v >> k[i];
            sum[i] += (q > t[i] - 1 ? q : t[i] - 1) - (t[i] - 1);
        }
    }
    int escapes = 0;
    for (int i = 0; i < CAP_TRIES; i++) escapes |= (top >> k[i]) - t[i] >= ESCAPE_Q && top >> k[i] >= t[i];
    if (escapes) { /* rare: again, with the escapes' lengths */
        memset(sum, 0, sizeof(sum));
        for (size_t j = 0; j < n; j++)
            for (int i = 0; i < CAP_TRIES; i++) sum[i] += cap_bits(u[j] >> k[i], t[i]);
    }
    for (int i = 0; i < CAP_TRIES; i++) bits[i] = r >= cap_drop[i] ? sum[i] : UINT32_MAX;
}

/* A capped channel's low fields into fields: (min(q, T) << k) | the k low bits
 * of u, with q = u >> k and T = 2^b - 1; the values q - T of those whose q
 * reaches T moved to u's front, in order.  Returns how many. */
ATTR_INLINE size_t cap_split_body(uint32_t *u, size_t pn, int k, int b, uint32_t *fields)
{
    uint32_t t = (1u << b) - 1, low = (1u << k) - 1;
    size_t moved = 0;
    for (size_t j = 0; j < pn; j++) {
        uint32_t v = u[j], q = v >> k, over = q >= t;
        fields[j] = over ? (t << k) | (v & low) : v;
        u[moved] = q - t; /* moved <= j: u[j] is read already */
        moved += over;
    }
    return moved;
}

/* ---- encoder: the bit writer's bulk writes ---- */

/* The k low bits of each of u[0..count) (0 < k < 32). */
ATTR_INLINE void write_lows_body(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (size_t)k / 8, &b)) return;
    for (size_t j = 0; j < count; j++) bulk_low(&b, u[j] & ((1u << k) - 1), k);
    bulk_end(w, &b);
}

/* The unary parts u >> k of u[0..count). */
ATTR_INLINE void write_unary_body(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (ESCAPE_Q + 32) / 8, &b)) return;
    for (size_t j = 0; j < count; j++) bulk_unary(&b, u[j] >> k);
    bulk_end(w, &b);
}

/* ---- decoder, versions 1 and 2 ---- */

/* Four channels' partitions side by side: four independent bit streams, so
 * the CPU overlaps their serial bit-parsing chains.  Only where every lane
 * holds at least 8 bytes per value still to read (plus 16), so that refills
 * need no bounds checks (lane_t); returns 0 where one does not. */
ATTR_INLINE int rice_lanes_body(bitreader_t *r, const int *k, int32_t *out, size_t pn, uint32_t nc)
{
    for (int i = 0; i < 4; i++)
        if ((size_t)(r[i].end - r[i].p) < pn * 8 + 16 || r[i].n < 0) return 0;
    lane_t l0 = {r[0].p, r[0].acc, r[0].n}, l1 = {r[1].p, r[1].acc, r[1].n};
    lane_t l2 = {r[2].p, r[2].acc, r[2].n}, l3 = {r[3].p, r[3].acc, r[3].n};
    int k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3];
    uint64_t bad = 0;
    for (size_t j = 0; j < pn; j++) {
        int32_t *o = out + j * nc;
        o[0] = lane_rice(&l0, k0, &bad);
        o[1] = lane_rice(&l1, k1, &bad);
        o[2] = lane_rice(&l2, k2, &bad);
        o[3] = lane_rice(&l3, k3, &bad);
    }
    lane_t *ls[4] = {&l0, &l1, &l2, &l3};
    for (int i = 0; i < 4; i++) {
        /* back to the checked reader: drop bits past n (they will be reloaded) */
        r[i].p = ls[i]->p;
        r[i].n = ls[i]->n;
        r[i].acc = ls[i]->n ? ls[i]->acc & ~(UINT64_MAX >> ls[i]->n) : 0;
        if (bad) r[i].err = 1;
    }
    return 1;
}

/* ---- decoder, versions 3, 4 and 6 ---- */

/* One channel's partition is pn low parts of k bits each (in the
 * partition's low-bits area) and pn unary parts (in one of its two unary
 * areas).  The unary parts are parsed a 56-bit window at a time: each one bit
 * ends a value, so the values of a window are the gaps between its one bits
 * (tzcnt, then clear the lowest one bit), with no serial shift of a bit
 * buffer per value. */
#define UNARY_WINDOW (((uint64_t)1 << 56) - 1)

/* n one bits within the first n + ESCAPE_Q - 1 bits of a window end n whole
 * values with fewer than ESCAPE_Q zero bits between them: no escape among them. */
#define NO_ESCAPE_IN(w, n) (__builtin_popcountll((w) & (((uint64_t)1 << ((n) + ESCAPE_Q - 1)) - 1)) >= (n))

/* The first n (8 or 16) values of window w into q; returns the bits they take. */
ATTR_INLINE uint32_t take_values(uint64_t w, uint32_t *q, int n)
{
    uint32_t start = 0;
    for (int i = 0; i < 16; i++) {
        if (i == n) break;
        uint32_t b = (uint32_t)__builtin_ctzll(w);
        q[i] = b - start;
        start = b + 1;
        w &= w - 1;
    }
    return start;
}

/* The values of one window at *pos (up to pn - *j of them) into q + *j;
 * returns 0 on a corrupt stream. */
ATTR_INLINE int unary_window(const uint8_t *buf, size_t len, uint64_t *pos, uint32_t *q, size_t *jp, size_t pn)
{
    uint64_t p = *pos, w = peek_bits(buf, len, p) & UNARY_WINDOW;
    size_t j = *jp;
    if (j + 8 <= pn && NO_ESCAPE_IN(w, 8)) { /* the common case: no branch per value */
        int n = j + 16 <= pn && NO_ESCAPE_IN(w, 16) ? 16 : 8;
        *pos = p + take_values(w, q + j, n);
        *jp = j + (size_t)n;
        return 1;
    }
    int last = -1, escape = !w; /* 56 zero bits: an escape */
    while (w && j < pn) {
        int b = __builtin_ctzll(w);
        uint32_t gap = (uint32_t)(b - last - 1);
        if (gap >= ESCAPE_Q) {
            escape = 1;
            break;
        }
        q[j++] = gap;
        last = b;
        w &= w - 1;
    }
    p += (uint64_t)(last + 1);
    if (escape) { /* ESCAPE_Q zero bits, then u >> k in 32 bits */
        if (p + ESCAPE_Q + 32 > 8 * (uint64_t)len) return 0;
        q[j++] = (uint32_t)peek_bits(buf, len, p + ESCAPE_Q);
        p += ESCAPE_Q + 32;
    }
    *pos = p;
    *jp = j;
    return 1;
}

/* Two channels' unary parts, na and nb of them, from the two unary areas side
 * by side: their serial parsing chains overlap. */
ATTR_INLINE int unary_areas_body(const uint8_t *buf, size_t len, uint64_t *pos_a, uint32_t *qa, size_t na,
                                 uint64_t *pos_b, uint32_t *qb, size_t nb)
{
    size_t ja = 0, jb = 0;
    uint64_t pa = *pos_a, pb = *pos_b;
    while (ja + 16 <= na && jb + 16 <= nb) {
        uint64_t wa = peek_bits(buf, len, pa) & UNARY_WINDOW, wb = peek_bits(buf, len, pb) & UNARY_WINDOW;
        if (NO_ESCAPE_IN(wa, 16) && NO_ESCAPE_IN(wb, 16)) {
            pa += take_values(wa, qa + ja, 16);
            pb += take_values(wb, qb + jb, 16);
            ja += 16;
            jb += 16;
            continue;
        }
        if (!unary_window(buf, len, &pa, qa, &ja, na) || !unary_window(buf, len, &pb, qb, &jb, nb)) return 0;
    }
    while (ja < na)
        if (!unary_window(buf, len, &pa, qa, &ja, na)) return 0;
    while (jb < nb)
        if (!unary_window(buf, len, &pb, qb, &jb, nb)) return 0;
    *pos_a = pa;
    *pos_b = pb;
    return 1;
}

/* u = (q << k) | the k low bits at bit lpos (q: u's high part); returns
 * nonzero if a u does not fit 32 bits (corrupt). */
ATTR_INLINE int join_lows_body(const uint8_t *buf, size_t len, uint64_t lpos, int k, const uint32_t *q, uint32_t *u,
                               size_t pn)
{
    uint64_t over = 0, mask = ((uint64_t)1 << k) - 1;
    if (((lpos + (uint64_t)pn * k) >> 3) + 8 <= len) {
        for (size_t j = 0; j < pn; j++) {
            uint64_t at = lpos + (uint64_t)j * k;
            uint64_t v = ((uint64_t)q[j] << k) | ((load_le64(buf + (at >> 3)) >> (at & 7)) & mask);
            over |= v >> 32;
            u[j] = (uint32_t)v;
        }
    } else {
        for (size_t j = 0; j < pn; j++) {
            uint64_t v = ((uint64_t)q[j] << k) | (peek_bits(buf, len, lpos + (uint64_t)j * k) & mask);
            over |= v >> 32;
            u[j] = (uint32_t)v;
        }
    }
    return over != 0;
}

/* Version 4: a capped channel's pn low fields of k + b bits at bit lpos into
 * col; returns how many reach the cap (top b bits all ones). */
ATTR_INLINE size_t capped_fields_body(const uint8_t *buf, size_t len, uint64_t lpos, int k, int b, uint32_t *col,
                                      size_t pn)
{
    uint32_t t = (1u << b) - 1, mask = (1u << (k + b)) - 1;
    size_t at_cap = 0;
    for (size_t j = 0; j < pn; j++) {
        uint32_t f = (uint32_t)peek_bits(buf, len, lpos + (uint64_t)j * (uint64_t)(k + b)) & mask;
        col[j] = f;
        at_cap += (f >> k) == t;
    }
    return at_cap;
}

/* The unary parts of the capped values (unary, in order) added to their high
 * parts; returns how many were taken, or UNARY_OVERFLOW if a value does not
 * fit 32 bits.  unary has room for 8 more. */
ATTR_INLINE size_t add_unary_parts_body(uint32_t *col, size_t pn, int k, int b, const uint32_t *unary)
{
    uint32_t t = (1u << b) - 1;
    uint64_t over = 0;
    size_t i = 0;
    for (size_t j = 0; j < pn; j++) {
        uint64_t capped = (col[j] >> k) == t, v = col[j] + (((uint64_t)unary[i] << k) & (0 - capped));
        over |= v >> 32;
        col[j] = (uint32_t)v;
        i += capped;
    }
    return over ? UNARY_OVERFLOW : i;
}

/* Version 8: a rANS channel's symbols from value j0 on (the groups before it
 * decoded already) into col; returns how many of them reach the cap, or
 * SIZE_MAX if the words run out. */
ATTR_INLINE size_t ans_symbols_body(ans_decoder_t *d, const uint32_t *table, uint32_t *col, size_t n, size_t j0)
{
    size_t at_cap = 0;
    for (size_t j = j0; j < n; j += (size_t)d->lanes) {
        int m = n - j < (size_t)d->lanes ? (int)(n - j) : d->lanes;
        if (ans_group_scalar(d, table, col + j, m)) return SIZE_MAX;
        for (int l = 0; l < m; l++) at_cap += col[j + (size_t)l] == ANS_ESCAPE;
    }
    return at_cap;
}

#endif
