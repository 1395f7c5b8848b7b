/* EphysLPC: per-frame linear prediction over time, prediction of each channel's
 * residual from the channels before it, partitioned Rice coding.  The format is
 * described in lpc_codec.h.
 *
 * Samples of a block live in an interleaved int32 buffer (time outside,
 * channels inside), so the prediction loops run across channels: one SIMD
 * register holds the same sample of 4 or 8 channels.  Those loops are compiled
 * three times (scalar, SSE2, AVX2) from one body; a few that compilers leave
 * scalar (the 8 x 8 transpose, the low-bits unpacking, the Rice costs) have an
 * AVX2 version written with intrinsics beside that body, which stays the
 * reference.  All are integer-exact, so every kernel writes the same bytes. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block_codec.h"
#include "lpc_codec.h"

#define STREAM_VERSION 4 /* written; 1 to 3 still decode */
#define STREAM_HEADER 20
#define LANES 4 /* versions 1 and 2: channel c is coded in bit stream c % LANES */
#define LANE_TABLE (4 * LANES)
#define HIST EPHYS_LPC_MAX_ORDER /* rows of history kept before a frame */
#define GAIN_BITS 10
#define GAIN_SHIFT 7
#define GAIN_ROW_STEP 4 /* gains are fitted on every 4th row */
#define ESCAPE_Q 32
#define ZERO_PARTITION 31
#define CAP_BITS 2          /* version 4: width of a channel's cap b in a partition */
#define MAX_CAPPED_FIELD 25 /* version 4: r + b at the most when b > 0 */
#define CAP_TRIES 3
#define MIN_FRAME_LOG2 4
#define MAX_FRAME_LOG2 16
#define MAX_PARTITION_LOG2 12
#define MAX_NEIGHBOURS 8
#define ATTR_INLINE static inline __attribute__((always_inline))

/* Version 3: channels [0, h) have their unary parts in area A, the rest in B. */
static inline uint32_t unary_split(uint32_t nc) { return nc - nc / 2; }


/* Two's complement conversions without implementation-defined behaviour. */
static inline int32_t i32_of_u32(uint32_t v) { return v <= INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1; }
static inline int32_t wrap32(int64_t v) { return i32_of_u32((uint32_t)(uint64_t)v); }
static inline int64_t floor_shift(int64_t v, int s) { return v >= 0 ? v >> s : -((-v - 1) >> s) - 1; }
static inline int64_t floor_div(int64_t v, int64_t g) { return v >= 0 ? v / g : -((-v - 1) / g) - 1; } /* g > 0 */
static inline uint32_t zigzag(int32_t v) { return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31)); }
static inline int32_t unzigzag(uint32_t u) { return i32_of_u32((u >> 1) ^ (0u - (u & 1))); }

static void dtype_range(int dtype, int32_t *lo, int32_t *hi)
{
    switch (dtype) {
    case EPHYS_DTYPE_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case EPHYS_DTYPE_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    default: *lo = INT32_MIN; *hi = INT32_MAX;
    }
}

/* ---- parameters ---- */

int ephys_lpc_default_params(int level, uint32_t max_error, ephys_lpc_params_t *p)
{
    /* Measured on the real recordings: ephys traces are low-order processes, so
     * orders above 4 and weights finer than 1/16 gain less than their bits cost;
     * long frames and partitions keep the side information small, except where
     * the amplitude swings within a frame (LFP bands: 64-sample partitions gain
     * 5% there), which level 3 tries too.  Capped low fields gain 0.4-2.6% on
     * near-Gaussian residuals for ~5% of the encoding speed. */
    static const int orders[] = {0, 2, 4, 4};
    if (!p || level < 1 || level > 3 || max_error > EPHYS_LPC_MAX_ERROR) return EPHYS_ERR_ARGS;
    p->max_order = orders[level];
    p->frame_log2 = 13;
    p->partition_log2 = 11;
    p->alt_partition_log2 = level == 3 ? 6 : 0;
    p->capped = level >= 2;
    p->coef_shift = 4;
    p->neighbours = 4;
    p->max_error = max_error;
    return EPHYS_OK;
}

static int params_ok(const ephys_lpc_params_t *p)
{
    return p && p->max_order >= 0 && p->max_order <= EPHYS_LPC_MAX_ORDER && p->frame_log2 >= MIN_FRAME_LOG2 &&
           p->frame_log2 <= MAX_FRAME_LOG2 && p->partition_log2 >= 4 && p->partition_log2 <= MAX_PARTITION_LOG2 &&
           p->partition_log2 <= p->frame_log2 && p->coef_shift >= 1 && p->coef_shift <= 15 &&
           (!p->alt_partition_log2 || (p->alt_partition_log2 >= 4 && p->alt_partition_log2 <= MAX_PARTITION_LOG2 &&
                                       p->alt_partition_log2 <= p->frame_log2)) &&
           p->neighbours >= 0 && p->neighbours <= MAX_NEIGHBOURS && p->max_error <= EPHYS_LPC_MAX_ERROR &&
           (p->capped == 0 || p->capped == 1);
}

/* ---- bit writer (version 3: least significant bit first) ---- */

ATTR_INLINE uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

typedef struct {
    ephys_buf_t *out;
    uint64_t acc; /* the low n bits are pending */
    int n;
    int err;
} bitwriter_t;

/* Room for extra more bytes, plus the 8 a flush may write; nonzero on failure. */
static int bw_reserve(bitwriter_t *w, size_t extra)
{
    ephys_buf_t *b = w->out;
    if (w->err) return w->err;
    if (b->cap - b->len >= extra + 16) return 0;
    size_t cap = b->cap ? 2 * b->cap : 4096;
    while (cap - b->len < extra + 16) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return w->err = EPHYS_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Writes the whole bytes of the pending bits as one 8-byte store (the bytes
 * past them are rewritten by the next flush). */
static void bw_flush(bitwriter_t *w)
{
    ephys_buf_t *b = w->out;
    if (bw_reserve(w, 0)) {
        w->n &= 7;
        return;
    }
    ephys_put_le64(b->data + b->len, w->acc);
    int bytes = w->n >> 3;
    b->len += (size_t)bytes;
    w->acc = bytes == 8 ? 0 : w->acc >> (8 * bytes);
    w->n &= 7;
}

static inline void bw_put(bitwriter_t *w, uint32_t v, int nbits) /* nbits <= 32, v < 2^nbits */
{
    if (w->n + nbits > 64) bw_flush(w);
    w->acc |= (uint64_t)v << (w->n & 63); /* n == 64 only with nbits == 0, v == 0 */
    w->n += nbits;
}


/* Bulk writes keep the pending bits in a local copy (fewer than 32 of them
 * between values) and store 4 bytes at a time; room is reserved beforehand. */
typedef struct {
    uint8_t *o;
    uint64_t acc;
    int n;
} bulk_t;

ATTR_INLINE int bulk_begin(bitwriter_t *w, size_t bytes, bulk_t *b)
{
    bw_flush(w);
    if (bw_reserve(w, bytes)) return 1;
    b->o = w->out->data + w->out->len;
    b->acc = w->acc;
    b->n = w->n;
    return 0;
}

ATTR_INLINE void bulk_spill(bulk_t *b)
{
    if (b->n >= 32) {
        ephys_put_le32(b->o, (uint32_t)b->acc);
        b->o += 4;
        b->acc >>= 32;
        b->n -= 32;
    }
}

ATTR_INLINE void bulk_end(bitwriter_t *w, const bulk_t *b)
{
    w->out->len = (size_t)(b->o - w->out->data);
    w->acc = b->acc;
    w->n = b->n;
}

ATTR_INLINE void bulk_low(bulk_t *b, uint32_t v, int k) /* v < 2^k */
{
    b->acc |= (uint64_t)v << b->n;
    b->n += k;
    bulk_spill(b);
}

/* q zero bits and a one bit, or an escape (ESCAPE_Q zero bits, then q in 32 bits). */
ATTR_INLINE void bulk_unary(bulk_t *b, uint32_t q)
{
    if (q < ESCAPE_Q) {
        b->acc |= (uint64_t)1 << (b->n + (int)q);
        b->n += (int)q + 1;
    } else {
        b->n += ESCAPE_Q;
        bulk_spill(b);
        b->acc |= (uint64_t)q << b->n;
        b->n += 32;
    }
    bulk_spill(b);
}

/* For writers that add whole words of bits (b->n + bits < 64): stores 8 bytes,
 * keeps fewer than 8 bits pending. */
ATTR_INLINE void bulk_word(bulk_t *b, uint64_t word, int bits)
{
    b->acc |= word << b->n;
    b->n += bits;
    ephys_put_le64(b->o, b->acc);
    b->o += b->n >> 3;
    b->acc >>= b->n & 56;
    b->n &= 7;
}

/* The k low bits of each of u[0..count) (0 < k < 32). */
static void bw_lows(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (size_t)k / 8, &b)) return;
    for (size_t j = 0; j < count; j++) bulk_low(&b, u[j] & ((1u << k) - 1), k);
    bulk_end(w, &b);
}

/* The unary parts u >> k of u[0..count). */
static void bw_unary(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (ESCAPE_Q + 32) / 8, &b)) return;
    for (size_t j = 0; j < count; j++) bulk_unary(&b, u[j] >> k);
    bulk_end(w, &b);
}

static void bw_signed(bitwriter_t *w, int32_t v, int nbits)
{
    bw_put(w, (uint32_t)v & (uint32_t)(((uint64_t)1 << nbits) - 1), nbits);
}

static void bw_finish(bitwriter_t *w)
{
    if (w->n & 7) bw_put(w, 0, 8 - (w->n & 7));
    bw_flush(w);
}

/* ---- kernels ----
 * x points at the frame's first row of an interleaved buffer that holds HIST
 * rows of history before it; coef is [order][nc] (weight of x[t - 1 - i]),
 * zero where a channel's own order is lower.  int32 accumulation is used only
 * where the caller proved it cannot overflow (wide == 0). */

/* v limited to [lo, hi], written as max then min (vpmaxsd, vpminsd). */
ATTR_INLINE int32_t clamp32(int32_t v, int32_t lo, int32_t hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* Each channel's accumulator starts at 2^(s-1) (rounding) plus its offset term
 * d (2^s - sum a_i); both widths are filled, for the int32 and int64 paths. */
typedef struct {
    int32_t *i32;
    int64_t *i64;
} acc_init_t;

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

#define ORDER_SWITCH(CALL) /* CALL(order) for the orders the default levels use */                 \
    switch (order) {                                                                                \
    case 0: CALL(0); break;                                                                         \
    case 1: CALL(1); break;                                                                         \
    case 2: CALL(2); break;                                                                         \
    case 3: CALL(3); break;                                                                         \
    case 4: CALL(4); break;                                                                         \
    case 8: CALL(8); break;                                                                         \
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

/* Autocorrelation lags 0..order of every channel's x - d over every ROW_STEP-th
 * row of a frame (an estimate is all the predictor fit needs), history
 * included: r[l * nc + c].  Summed per channel in row order whatever the
 * kernel, so the result does not depend on it (no reassociation, no FMA
 * contraction). */
#define ROW_STEP 1
ATTR_INLINE void autocorr_body(const int32_t *x, size_t nt, uint32_t nc, int order, const int32_t *d, double *r)
{
    for (size_t i = 0; i < (size_t)(order + 1) * nc; i++) r[i] = 0;
    for (size_t t = 0; t < nt; t += ROW_STEP) {
        const int32_t *row = x + t * nc;
        for (int l = 0; l <= order; l++) {
            const int32_t *past = row - (size_t)l * nc;
            double *acc = r + (size_t)l * nc;
            for (uint32_t c = 0; c < nc; c++) acc[c] += (double)(row[c] - d[c]) * (double)(past[c] - d[c]);
        }
    }
}

/* Version 3 neighbour term: S and G S + 64 wrap modulo 2^32 (for int8 and
 * int16 samples they never do), so the decoder's loops run in 32-bit lanes. */
ATTR_INLINE int32_t neighbour_term32(int32_t gain, uint32_t sum)
{
    return i32_of_u32((uint32_t)gain * sum + (1u << (GAIN_SHIFT - 1))) >> GAIN_SHIFT;
}

/* One channel's column of a version 3 partition: coded values u -> residuals
 * e in place, with S (sum) the running sum of the m channels before it;
 * leaving is the column of channel c - m (dropped from S), or NULL. */
ATTR_INLINE void column_body(uint32_t *col, size_t pn, int32_t gain, uint32_t *sum, const uint32_t *leaving, int m)
{
    for (size_t j = 0; j < pn; j++) {
        uint32_t u = col[j], e = (u >> 1) ^ (0u - (u & 1));
        if (m) { /* without neighbours the gain is 0 and sum is not kept */
            e += (uint32_t)neighbour_term32(gain, sum[j]);
            sum[j] += e - (leaving ? leaving[j] : 0);
        }
        col[j] = e;
    }
}

/* sums[c] = e_{c-1} + ... + e_{max(0, c-m)} modulo 2^32 (all the version 3 term
 * needs); inlined with a constant m, the loop over channels vectorizes. */
ATTR_INLINE void window_sums(const int32_t *restrict row, uint32_t nc, int m, uint32_t *restrict sums)
{
    uint32_t head = nc < (uint32_t)m ? nc : (uint32_t)m;
    for (uint32_t c = 0; c < head; c++) {
        sums[c] = 0;
        for (uint32_t i = 1; i <= c; i++) sums[c] += (uint32_t)row[c - i];
    }
    for (size_t c = head; c < nc; c++) {
        const int32_t *at = row + c;
        uint32_t acc = 0;
        for (ptrdiff_t i = 1; i <= m; i++) acc += (uint32_t)at[-i];
        sums[c] = acc;
    }
}

ATTR_INLINE void neighbour_sums(const int32_t *row, uint32_t nc, int m, uint32_t *sums)
{
    switch (m) { /* the default neighbours as a constant */
    case 4: window_sums(row, nc, 4, sums); break;
    default: window_sums(row, nc, m, sums);
    }
}

/* Encoder: residuals e -> coded values zigzag(e - neighbour term) in place
 * (sums: nc scratch values). */
ATTR_INLINE void code_rows_body(int32_t *e, size_t nt, uint32_t nc, int m, const int32_t *gain, uint32_t *sums)
{
    if (!m) {
        for (size_t i = 0; i < nt * nc; i++) e[i] = (int32_t)zigzag(e[i]);
        return;
    }
    for (size_t t = 0; t < nt; t++) {
        int32_t *row = e + t * nc;
        neighbour_sums(row, nc, m, sums);
        for (uint32_t c = 0; c < nc; c++)
            row[c] = (int32_t)zigzag(i32_of_u32((uint32_t)row[c] - (uint32_t)neighbour_term32(gain[c], sums[c])));
    }
}

/* Least-squares gain of each channel's residual on S, quantized to GAIN_BITS,
 * kept only where it lowers the sum of absolute values (what Rice coding pays
 * for): on faint noise the rounding of the term costs more than the
 * correlation saves.  Fitted on every GAIN_ROW_STEP-th row. */
ATTR_INLINE int fit_gains_body(const int32_t *e, size_t nt, uint32_t nc, int m, int32_t *gain, uint32_t *sums)
{
    for (uint32_t c = 0; c < nc; c++) gain[c] = 0;
    if (!m || nc < 2) return EPHYS_OK;
    double *num = calloc(2 * (size_t)nc, sizeof(double));
    if (!num) return EPHYS_ERR_NOMEM;
    double *den = num + nc;
    for (size_t t = 0; t < nt; t += GAIN_ROW_STEP) {
        const int32_t *row = e + t * nc;
        neighbour_sums(row, nc, m, sums);
        for (uint32_t c = 0; c < nc; c++) {
            double sv = (double)i32_of_u32(sums[c]); /* exact for int8 and int16 samples */
            num[c] += sv * row[c];
            den[c] += sv * sv;
        }
    }
    int32_t lim = (1 << (GAIN_BITS - 1)) - 1;
    for (uint32_t c = 1; c < nc; c++) {
        if (!(den[c] > 0)) continue;
        double g = floor(num[c] / den[c] * (1 << GAIN_SHIFT) + 0.5);
        gain[c] = (int32_t)(g > lim ? lim : g < -lim - 1 ? -lim - 1 : g);
    }
    int64_t *with = (int64_t *)num, *without = (int64_t *)den; /* same size as double */
    for (uint32_t c = 0; c < nc; c++) with[c] = without[c] = 0;
    for (size_t t = 0; t < nt; t += GAIN_ROW_STEP) {
        const int32_t *row = e + t * nc;
        neighbour_sums(row, nc, m, sums);
        for (uint32_t c = 0; c < nc; c++) {
            int64_t v = (int64_t)row[c] - neighbour_term32(gain[c], sums[c]);
            with[c] += v < 0 ? -v : v;
            without[c] += row[c] < 0 ? -(int64_t)row[c] : row[c];
        }
    }
    for (uint32_t c = 0; c < nc; c++)
        if (!(with[c] < without[c] - 4)) gain[c] = 0;
    free(num);
    return EPHYS_OK;
}

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

/* Channel-major columns (nc of pn values, stride apart) -> interleaved rows (pn x nc), in 8 x 8 tiles. */
ATTR_INLINE void transpose_body(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc, int32_t *e)
{
    size_t j0 = 0;
    uint32_t c0 = 0;
    for (; c0 + 8 <= nc; c0 += 8) {
        for (j0 = 0; j0 + 8 <= pn; j0 += 8)
            for (size_t j = j0; j < j0 + 8; j++)
                for (uint32_t c = c0; c < c0 + 8; c++) e[j * nc + c] = i32_of_u32(cm[c * stride + j]);
        for (size_t j = j0; j < pn; j++)
            for (uint32_t c = c0; c < c0 + 8; c++) e[j * nc + c] = i32_of_u32(cm[c * stride + j]);
    }
    for (size_t j = 0; j < pn; j++)
        for (uint32_t c = c0; c < nc; c++) e[j * nc + c] = i32_of_u32(cm[c * stride + j]);
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
static int rice_choice(const uint32_t *cost, size_t n, int k0, uint64_t *unary_bits)
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

/* The capped codes tried beside Rice parameter r: (r, 2), (r - 1, 2) and
 * (r - 1, 3) as (r - cap_drop, cap_b); on the recordings and the simulated
 * probes the other pairs are almost never the shortest. */
static const int cap_drop[CAP_TRIES] = {0, 1, 1}, cap_b[CAP_TRIES] = {2, 2, 3};

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
    size_t held = 0;
    for (size_t j = 0; j < pn; j++) {
        uint32_t v = u[j], q = v >> k, over = q >= t;
        fields[j] = over ? (t << k) | (v & low) : v;
        u[held] = q - t; /* held <= j: u[j] is read already */
        held += over;
    }
    return held;
}

#define KERNEL_SET(SUFFIX, ATTR)                                                                              \
    ATTR static void residual_##SUFFIX(const int32_t *x, size_t nt, uint32_t nc, const int32_t *coef,          \
                                       int order, int shift, int wide, int32_t lo, int32_t hi,                \
                                       const acc_init_t *init, int64_t *a64, int32_t *e)                      \
    {                                                                                                         \
        residual_body(x, nt, nc, coef, order, shift, wide, lo, hi, init, a64, e);                             \
    }                                                                                                         \
    ATTR static int synth_##SUFFIX(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order,         \
                                   int shift, int wide, int32_t lo, int32_t hi, const acc_init_t *init,       \
                                   int32_t *flags, int64_t *a64, const int32_t *e)                            \
    {                                                                                                         \
        return synth_body(x, nt, nc, coef, order, shift, wide, lo, hi, init, flags, a64, e);                  \
    }                                                                                                         \
    ATTR static void near_##SUFFIX(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order,         \
                                   int shift, int32_t lo, int32_t hi, const acc_init_t *init, int64_t *a64,   \
                                   int32_t *q, const int32_t *orig, int64_t step)                             \
    {                                                                                                         \
        near_body(x, nt, nc, coef, order, shift, lo, hi, init, a64, q, orig, step);                           \
    }                                                                                                         \
    ATTR static void autocorr_##SUFFIX(const int32_t *x, size_t nt, uint32_t nc, int order, const int32_t *d, \
                                       double *r, uint32_t *scratch)                                          \
    {                                                                                                         \
        (void)scratch;                                                                                        \
        autocorr_body(x, nt, nc, order, d, r);                                                                \
    }                                                                                                         \
    ATTR static void column_##SUFFIX(uint32_t *col, size_t pn, int32_t gain, uint32_t *sum,                    \
                                     const uint32_t *leaving, int m)                                          \
    {                                                                                                         \
        column_body(col, pn, gain, sum, leaving, m);                                                          \
    }                                                                                                         \
    ATTR static int fit_gains_##SUFFIX(const int32_t *e, size_t nt, uint32_t nc, int m, int32_t *gain,         \
                                       uint32_t *sums)                                                        \
    {                                                                                                         \
        return fit_gains_body(e, nt, nc, m, gain, sums);                                                      \
    }                                                                                                         \
    ATTR static int from_grid_##SUFFIX(const int32_t *y, size_t nt, uint32_t nc, const uint32_t *scale,       \
                                       const uint32_t *base, const int32_t *bounds, int32_t *x)                \
    {                                                                                                         \
        return grid_body(y, nt, nc, scale, base, bounds, x);                                                  \
    }                                                                                                         \
    ATTR static void code_rows_##SUFFIX(int32_t *e, size_t nt, uint32_t nc, int m, const int32_t *gain,        \
                                        uint32_t *sums)                                                       \
    {                                                                                                         \
        code_rows_body(e, nt, nc, m, gain, sums);                                                             \
    }                                                                                                         \
    ATTR static void cap_costs_##SUFFIX(const uint32_t *u, size_t n, int r, uint32_t *bits)                    \
    {                                                                                                         \
        cap_costs_body(u, n, r, bits);                                                                        \
    }

typedef struct {
    void (*residual)(const int32_t *, size_t, uint32_t, const int32_t *, int, int, int, int32_t, int32_t,
                     const acc_init_t *, int64_t *, int32_t *);
    int (*synth)(int32_t *, size_t, uint32_t, const int32_t *, int, int, int, int32_t, int32_t,
                 const acc_init_t *, int32_t *, int64_t *, const int32_t *);
    void (*near)(int32_t *, size_t, uint32_t, const int32_t *, int, int, int32_t, int32_t, const acc_init_t *,
                 int64_t *, int32_t *, const int32_t *, int64_t);
    void (*autocorr)(const int32_t *, size_t, uint32_t, int, const int32_t *, double *, uint32_t *);
    void (*column)(uint32_t *, size_t, int32_t, uint32_t *, const uint32_t *, int);
    int (*rice_parameter)(const uint32_t *, size_t, uint64_t *);
    void (*transpose)(const uint32_t *, size_t, size_t, uint32_t, int32_t *);
    void (*lows)(bitwriter_t *, const uint32_t *, size_t, int);
    void (*unary)(bitwriter_t *, const uint32_t *, size_t, int);
    int (*fit_gains)(const int32_t *, size_t, uint32_t, int, int32_t *, uint32_t *);
    void (*code_rows)(int32_t *, size_t, uint32_t, int, const int32_t *, uint32_t *);
    int (*from_grid)(const int32_t *, size_t, uint32_t, const uint32_t *, const uint32_t *, const int32_t *,
                     int32_t *);
    void (*cap_costs)(const uint32_t *, size_t, int, uint32_t *);
    size_t (*cap_split)(uint32_t *, size_t, int, int, uint32_t *);
} kernels_t;

#if defined(__GNUC__) && !defined(__clang__)
#define ATTR_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define ATTR_SCALAR
#endif
KERNEL_SET(scalar, ATTR_SCALAR)
KERNEL_SET(vector, )
ATTR_SCALAR static void transpose_scalar(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc, int32_t *e)
{
    transpose_body(cm, stride, pn, nc, e);
}
static void transpose_vector(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc, int32_t *e)
{
    transpose_body(cm, stride, pn, nc, e);
}
ATTR_SCALAR static int rice_parameter_scalar(const uint32_t *u, size_t n, uint64_t *unary_bits)
{
    return rice_parameter_body(u, n, unary_bits);
}
static int rice_parameter_vector(const uint32_t *u, size_t n, uint64_t *unary_bits)
{
    return rice_parameter_body(u, n, unary_bits);
}
ATTR_SCALAR static size_t cap_split_scalar(uint32_t *u, size_t pn, int k, int b, uint32_t *fields)
{
    return cap_split_body(u, pn, k, b, fields);
}
static size_t cap_split_vector(uint32_t *u, size_t pn, int k, int b, uint32_t *fields)
{
    return cap_split_body(u, pn, k, b, fields);
}
static const kernels_t kernels_scalar = {residual_scalar, synth_scalar, near_scalar, autocorr_scalar, column_scalar, rice_parameter_scalar, transpose_scalar, bw_lows, bw_unary, fit_gains_scalar, code_rows_scalar, from_grid_scalar, cap_costs_scalar, cap_split_scalar};
static const kernels_t kernels_vector = {residual_vector, synth_vector, near_vector, autocorr_vector, column_vector, rice_parameter_vector, transpose_vector, bw_lows, bw_unary, fit_gains_vector, code_rows_vector, from_grid_vector, cap_costs_vector, cap_split_vector};

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86 1
#include <immintrin.h>
KERNEL_SET(avx2, __attribute__((target("avx2"))))

/* transpose_body in 8 x 8 tiles of registers. */
__attribute__((target("avx2"))) static void transpose_avx2(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc,
                                                           int32_t *e)
{
    uint32_t c0 = 0;
    size_t j0 = 0;
    for (; c0 + 8 <= nc; c0 += 8) {
        for (j0 = 0; j0 + 8 <= pn; j0 += 8) {
            __m256i r[8], a[8], b[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_si256((const __m256i *)(cm + (c0 + i) * stride + j0));
            for (int i = 0; i < 8; i += 2) {
                a[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
                a[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                b[i] = _mm256_unpacklo_epi64(a[i], a[i + 2]);
                b[i + 1] = _mm256_unpackhi_epi64(a[i], a[i + 2]);
                b[i + 2] = _mm256_unpacklo_epi64(a[i + 1], a[i + 3]);
                b[i + 3] = _mm256_unpackhi_epi64(a[i + 1], a[i + 3]);
            }
            for (int i = 0; i < 4; i++) {
                int32_t *lo = e + (j0 + i) * nc + c0, *hi = e + (j0 + i + 4) * nc + c0;
                _mm256_storeu_si256((__m256i *)lo, _mm256_permute2x128_si256(b[i], b[i + 4], 0x20));
                _mm256_storeu_si256((__m256i *)hi, _mm256_permute2x128_si256(b[i], b[i + 4], 0x31));
            }
        }
        for (size_t j = j0; j < pn; j++)
            for (uint32_t c = c0; c < c0 + 8; c++) e[j * nc + c] = i32_of_u32(cm[c * stride + j]);
    }
    for (size_t j = 0; j < pn; j++)
        for (uint32_t c = c0; c < nc; c++) e[j * nc + c] = i32_of_u32(cm[c * stride + j]);
}

/* rice_costs 8 values at a time (the compilers leave its loop scalar). */
__attribute__((target("avx2"))) static int rice_parameter_avx2(const uint32_t *u, size_t n, uint64_t *unary_bits)
{
    __m256i sum = _mm256_setzero_si256(), most = sum;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(u + i));
        most = _mm256_max_epu32(most, v);
        sum = _mm256_add_epi64(sum, _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)),
                                                     _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1))));
    }
    uint64_t sums[4], total = 0;
    uint32_t maxima[8], top = 0;
    _mm256_storeu_si256((__m256i *)sums, sum);
    _mm256_storeu_si256((__m256i *)maxima, most);
    for (int l = 0; l < 4; l++) total += sums[l];
    for (int l = 0; l < 8; l++) top = maxima[l] > top ? maxima[l] : top;
    for (; i < n; i++) total += u[i], top = u[i] > top ? u[i] : top;
    int k0 = rice_k0_of_sum(total, n);
    uint32_t cost[3] = {0, 0, 0};
    *unary_bits = 0;
    if (k0 < 0) return ZERO_PARTITION;
    const __m256i esc = _mm256_set1_epi32(ESCAPE_Q), esc_cost = _mm256_set1_epi32(ESCAPE_Q + 31);
    const __m128i shift = _mm_cvtsi32_si128(k0);
    const int escapes = (top >> k0) >= ESCAPE_Q;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0;
    i = 0;
    for (; !escapes && i + 8 <= n; i += 8) { /* the common case: no value escapes with k0 */
        __m256i q0 = _mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(u + i)), shift);
        a0 = _mm256_add_epi32(a0, q0);
        a1 = _mm256_add_epi32(a1, _mm256_srli_epi32(q0, 1));
        a2 = _mm256_add_epi32(a2, _mm256_srli_epi32(q0, 2));
    }
    for (; i + 8 <= n; i += 8) {
        __m256i q0 = _mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(u + i)), shift);
        __m256i q1 = _mm256_srli_epi32(q0, 1), q2 = _mm256_srli_epi32(q0, 2);
        a0 = _mm256_add_epi32(a0, _mm256_blendv_epi8(q0, esc_cost, _mm256_cmpeq_epi32(_mm256_min_epu32(q0, esc), esc)));
        a1 = _mm256_add_epi32(a1, _mm256_blendv_epi8(q1, esc_cost, _mm256_cmpeq_epi32(_mm256_min_epu32(q1, esc), esc)));
        a2 = _mm256_add_epi32(a2, _mm256_blendv_epi8(q2, esc_cost, _mm256_cmpeq_epi32(_mm256_min_epu32(q2, esc), esc)));
    }
    uint32_t lanes[3][8];
    _mm256_storeu_si256((__m256i *)lanes[0], a0);
    _mm256_storeu_si256((__m256i *)lanes[1], a1);
    _mm256_storeu_si256((__m256i *)lanes[2], a2);
    for (int l = 0; l < 8; l++) cost[0] += lanes[0][l], cost[1] += lanes[1][l], cost[2] += lanes[2][l];
    rice_costs(u + i, n - i, k0, cost);
    return rice_choice(cost, n, k0, unary_bits);
}

/* autocorr_body with int16 products where every x - d of the frame and of
 * its history is within +-AUTOCORR_INT16_MAX (so 2 (x - d)^2 < 2^31): for 8
 * channels, vpmaddwd multiplies each channel's samples (t, t + 1) by its
 * samples (t - l, t + 1 - l) and adds the two products; the int32 sums go to
 * int64 before they could overflow.  They are exact, as the double sums of
 * autocorr_body are (below 2^53), so r is the same.  scratch: (HIST + nt) x 8. */
#define AUTOCORR_INT16_MAX 23170
__attribute__((target("avx2"))) ATTR_INLINE void pair_products(const uint32_t *pairs, size_t nt, int order,
                                                               size_t run, int64_t *sums)
{
    __m256i acc[EPHYS_LPC_MAX_ORDER + 1];
    for (size_t t0 = 0; t0 < nt; t0 += 2 * run) {
        size_t t1 = nt - t0 < 2 * run ? nt : t0 + 2 * run;
        for (int l = 0; l <= order; l++) acc[l] = _mm256_setzero_si256();
        for (size_t t = t0; t < t1; t += 2) {
            const uint32_t *now = pairs + 8 * t;
            __m256i v = _mm256_loadu_si256((const __m256i *)now);
            for (int l = 0; l <= order; l++)
                acc[l] = _mm256_add_epi32(
                    acc[l], _mm256_madd_epi16(v, _mm256_loadu_si256((const __m256i *)(now - 8 * l))));
        }
        for (int l = 0; l <= order; l++) {
            __m256i *lo = (__m256i *)(sums + 8 * l), *hi = lo + 1;
            _mm256_storeu_si256(lo, _mm256_add_epi64(_mm256_loadu_si256(lo),
                                                     _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc[l]))));
            _mm256_storeu_si256(hi, _mm256_add_epi64(_mm256_loadu_si256(hi),
                                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc[l], 1))));
        }
    }
}

__attribute__((target("avx2"))) static void autocorr_int16_avx2(const int32_t *x, size_t nt, uint32_t nc, int order,
                                                                const int32_t *d, double *r, uint32_t *scratch)
{
    const int32_t *first = x - (size_t)order * nc;
    size_t rows = (size_t)order + nt;
    uint32_t most = 0, c8 = nc - nc % 8;
    for (size_t i = 0; i < rows; i++)
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t a = (uint32_t)(first[i * nc + c] - d[c]); /* d = 0 for int32 samples: no overflow */
            a = a >> 31 ? 0u - a : a;
            most = a > most ? a : most;
        }
    if (most > AUTOCORR_INT16_MAX) {
        autocorr_avx2(x, nt, nc, order, d, r, scratch);
        return;
    }
    size_t run = most ? (size_t)INT32_MAX / (2 * (size_t)most * most) : nt; /* row pairs per int32 sum */
    int64_t sums[(EPHYS_LPC_MAX_ORDER + 1) * 8];
    for (uint32_t c0 = 0; c0 < c8; c0 += 8) {
        const __m256i dv = _mm256_loadu_si256((const __m256i *)(d + c0)), low = _mm256_set1_epi32(0xffff);
        __m256i y = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(first + c0)), dv);
        for (size_t i = 0; i < rows; i++) { /* pairs (t, t + 1) as int16, t + 1 = nt as 0 */
            __m256i next = _mm256_setzero_si256();
            if (i + 1 < rows) next = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(first + (i + 1) * nc + c0)), dv);
            _mm256_storeu_si256((__m256i *)(scratch + 8 * i), _mm256_or_si256(_mm256_and_si256(y, low), _mm256_slli_epi32(next, 16)));
            y = next;
        }
        memset(sums, 0, sizeof(sums));
        const uint32_t *pairs = scratch + 8 * (size_t)order;
#define PAIR_PRODUCTS(K) pair_products(pairs, nt, K, run, sums)
        ORDER_SWITCH(PAIR_PRODUCTS)
        for (int l = 0; l <= order; l++)
            for (int i = 0; i < 8; i++) r[(size_t)l * nc + c0 + i] = (double)sums[8 * l + i];
    }
    for (uint32_t c = c8; c < nc; c++)
        for (int l = 0; l <= order; l++) {
            int64_t s = 0;
            for (size_t t = 0; t < nt; t++)
                s += (int64_t)(x[t * nc + c] - d[c]) * (x[((ptrdiff_t)t - l) * (ptrdiff_t)nc + c] - d[c]);
            r[(size_t)l * nc + c] = (double)s;
        }
}

/* The OR of a register's four 64-bit lanes. */
__attribute__((target("avx2"))) static inline uint64_t or_lanes(__m256i v)
{
    __m128i x = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(_mm_or_si128(x, _mm_unpackhi_epi64(x, x)));
}

/* bw_lows 8 values at a time: for k <= 14, 4 values make one word of 4k bits
 * (for k <= 7, 8 values one word of 8k bits), placed by 64-bit variable shifts. */
__attribute__((target("avx2"))) static void bw_lows_avx2(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (size_t)k / 8, &b)) return;
    const uint32_t mask = (1u << k) - 1;
    size_t j = 0;
    if (k <= 14) {
        const int one_word = k <= 7;
        const __m256i m = _mm256_set1_epi32((int)mask), at = _mm256_setr_epi64x(0, k, 2 * k, 3 * k);
        const __m256i at_hi = _mm256_add_epi64(at, _mm256_set1_epi64x(one_word ? 4 * k : 0));
        bulk_word(&b, 0, 0); /* fewer than 8 bits pending: room for 56 */
        for (; j + 8 <= count; j += 8) {
            __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(u + j)), m);
            __m256i lo = _mm256_sllv_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)), at);
            __m256i hi = _mm256_sllv_epi64(_mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)), at_hi);
            if (one_word) {
                bulk_word(&b, or_lanes(_mm256_or_si256(lo, hi)), 8 * k);
            } else {
                bulk_word(&b, or_lanes(lo), 4 * k);
                bulk_word(&b, or_lanes(hi), 4 * k);
            }
        }
    }
    for (; j < count; j++) bulk_low(&b, u[j] & mask, k);
    bulk_end(w, &b);
}

/* bw_unary 8 values at a time: where none escapes and their codes fit beside
 * the pending bits, the 8 codes are one word with a one bit at each inclusive
 * prefix sum of the code lengths q + 1, less one. */
__attribute__((target("avx2"))) static void bw_unary_avx2(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (ESCAPE_Q + 32) / 8, &b)) return;
    const __m128i shift = _mm_cvtsi32_si128(k);
    const __m256i one = _mm256_set1_epi32(1), one64 = _mm256_set1_epi64x(1);
    const __m256i escapes = _mm256_set1_epi32(-ESCAPE_Q); /* bits of q >= ESCAPE_Q (a power of 2) */
    size_t j = 0;
    for (; j + 8 <= count; j += 8) {
        __m256i q = _mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(u + j)), shift);
        __m256i end = _mm256_add_epi32(q, one);
        end = _mm256_add_epi32(end, _mm256_slli_si256(end, 4));
        end = _mm256_add_epi32(end, _mm256_slli_si256(end, 8));
        end = _mm256_add_epi32(end, _mm256_shuffle_epi32(_mm256_permute2x128_si256(end, end, 0x08), 0xFF));
        int bits = _mm256_extract_epi32(end, 7);
        if (!_mm256_testz_si256(q, escapes) || b.n + bits >= 64) {
            for (int i = 0; i < 8; i++) bulk_unary(&b, u[j + i] >> k);
            continue;
        }
        end = _mm256_sub_epi32(end, one);
        __m256i ones = _mm256_or_si256(_mm256_sllv_epi64(one64, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(end))),
                                       _mm256_sllv_epi64(one64, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(end, 1))));
        bulk_word(&b, or_lanes(ones), bits);
    }
    for (; j < count; j++) bulk_unary(&b, u[j] >> k);
    bulk_end(w, &b);
}

/* Lane permutations from an 8-bit lane mask (BMI2): each mask bit widened to a
 * byte selects (pext) or places (pdep) the lane indices 0..7. */
#define LANE_INDICES 0x0706050403020100ull
__attribute__((target("avx2,bmi2"))) static inline uint64_t mask_bytes(uint32_t mask)
{
    return _pdep_u64(mask, 0x0101010101010101ull) * 0xff;
}

/* The indices of the set lanes, packed to the front. */
__attribute__((target("avx2,bmi2"))) static inline __m256i packed_lanes(uint32_t mask)
{
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)_pext_u64(LANE_INDICES, mask_bytes(mask))));
}

/* For each set lane, its rank among the set lanes (the inverse of packed_lanes). */
__attribute__((target("avx2,bmi2"))) static inline __m256i lane_ranks(uint32_t mask)
{
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)_pdep_u64(LANE_INDICES, mask_bytes(mask))));
}

/* cap_split_body eight values at a time: the fields with a blend, the values
 * over the cap packed with a lane permutation (stores at u + held <= u + j
 * overwrite only values loaded already). */
__attribute__((target("avx2,bmi2,popcnt"))) static size_t cap_split_avx2(uint32_t *u, size_t pn, int k, int b,
                                                                               uint32_t *fields)
{
    const uint32_t t = (1u << b) - 1;
    const __m256i tv = _mm256_set1_epi32((int)t), below = _mm256_set1_epi32((int)(t - 1));
    const __m256i capped_high = _mm256_set1_epi32((int)(t << k)), low = _mm256_set1_epi32((int)((1u << k) - 1));
    const __m128i kk = _mm_cvtsi32_si128(k);
    size_t held = 0, j = 0;
    for (; j + 8 <= pn; j += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(u + j)), q = _mm256_srl_epi32(v, kk);
        /* q >= t, unsigned: max(q, t - 1) != t - 1 */
        __m256i over = _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(q, below), below), _mm256_set1_epi32(-1));
        __m256i f = _mm256_blendv_epi8(v, _mm256_or_si256(capped_high, _mm256_and_si256(v, low)), over);
        _mm256_storeu_si256((__m256i *)(fields + j), f);
        uint32_t mask = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(over));
        __m256i rest = _mm256_permutevar8x32_epi32(_mm256_sub_epi32(q, tv), packed_lanes(mask));
        _mm256_storeu_si256((__m256i *)(u + held), rest);
        held += (size_t)__builtin_popcount(mask);
    }
    if (j < pn) {
        /* the tail: its values after the packed ones (held <= j) */
        size_t tail = cap_split_body(u + j, pn - j, k, b, fields + j);
        memmove(u + held, u + j, tail * sizeof(uint32_t));
        held += tail;
    }
    return held;
}

static const kernels_t kernels_avx2 = {residual_avx2, synth_avx2, near_avx2, autocorr_int16_avx2, column_avx2, rice_parameter_avx2, transpose_avx2, bw_lows_avx2, bw_unary_avx2, fit_gains_avx2, code_rows_avx2, from_grid_avx2, cap_costs_avx2, cap_split_avx2};
#else
#define HAVE_X86 0
#endif

static int selected_kernel; /* EPHYS_LPC_KERNEL_*; 0 = automatic */

static int cpu_has_avx2(void)
{
#if HAVE_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#else
    return 0;
#endif
}

int ephys_lpc_set_kernel(int kernel)
{
    switch (kernel) {
    case EPHYS_LPC_KERNEL_AUTO: case EPHYS_LPC_KERNEL_SCALAR: break;
    case EPHYS_LPC_KERNEL_SSE2: if (!HAVE_X86) return EPHYS_ERR_ARGS; break;
    case EPHYS_LPC_KERNEL_AVX2: if (!cpu_has_avx2()) return EPHYS_ERR_ARGS; break;
    default: return EPHYS_ERR_ARGS;
    }
    selected_kernel = kernel;
    return EPHYS_OK;
}

int ephys_lpc_kernel(void)
{
    if (selected_kernel) return selected_kernel;
    if (cpu_has_avx2()) return EPHYS_LPC_KERNEL_AVX2;
    return HAVE_X86 ? EPHYS_LPC_KERNEL_SSE2 : EPHYS_LPC_KERNEL_SCALAR;
}

static const kernels_t *kernels(void)
{
    switch (ephys_lpc_kernel()) {
#if HAVE_X86
    case EPHYS_LPC_KERNEL_AVX2: return &kernels_avx2;
#endif
    case EPHYS_LPC_KERNEL_SCALAR: return &kernels_scalar;
    default: return &kernels_vector; /* SSE2 is the x86-64 baseline the default code is built for */
    }
}

/* ---- bit reader (version 3: least significant bit first) ----
 * A position in a byte buffer; reads past the end see zero bits and set err. */

typedef struct {
    const uint8_t *buf;
    size_t len;   /* bytes */
    uint64_t pos; /* bits read */
    int err;
} posreader_t;

/* At least 57 bits from bit position pos (zeros past the end). */
ATTR_INLINE uint64_t peek_bits(const uint8_t *buf, size_t len, uint64_t pos)
{
    size_t b = (size_t)(pos >> 3);
    uint64_t v = 0;
    if (b + 8 <= len)
        v = load_le64(buf + b);
    else
        for (size_t i = 0; b + i < len && i < 8; i++) v |= (uint64_t)buf[b + i] << (8 * i);
    return v >> (pos & 7);
}

static uint32_t pr_get(posreader_t *r, int nbits) /* 0 <= nbits <= 32 */
{
    if (r->pos + (uint64_t)nbits > 8 * (uint64_t)r->len) {
        r->err = 1;
        return 0;
    }
    uint32_t v = (uint32_t)(peek_bits(r->buf, r->len, r->pos) & (((uint64_t)1 << nbits) - 1));
    r->pos += (uint64_t)nbits;
    return v;
}

/* ---- bit reader (versions 1 and 2: most significant bit first) ---- */

typedef struct {
    const uint8_t *p, *end;
    uint64_t acc; /* the top n bits are the next ones */
    int n;
    int err;
} bitreader_t;

static inline void br_refill(bitreader_t *r)
{
    if (r->end - r->p >= 8) {
        uint64_t v;
        memcpy(&v, r->p, 8);
        v = __builtin_bswap64(v);
        r->acc |= v >> r->n;
        r->p += (63 - r->n) >> 3;
        r->n |= 56;
    } else {
        while (r->n <= 56 && r->p < r->end) {
            r->acc |= (uint64_t)*r->p++ << (56 - r->n);
            r->n += 8;
        }
    }
}

static inline uint32_t br_get(bitreader_t *r, int nbits) /* 1 <= nbits <= 32 */
{
    if (r->n < nbits) {
        br_refill(r);
        if (r->n < nbits) {
            r->err = 1;
            return 0;
        }
    }
    uint32_t v = (uint32_t)(r->acc >> (64 - nbits));
    r->acc <<= nbits;
    r->n -= nbits;
    return v;
}

static inline uint32_t br_rice(bitreader_t *r, int k)
{
    if (r->n < ESCAPE_Q + 1) br_refill(r); /* then any unary part but an escape is in acc */
    int z = r->acc ? __builtin_clzll(r->acc) : 64;
    if (z >= ESCAPE_Q) {
        if (r->n < ESCAPE_Q) {
            r->err = 1;
            return 0;
        }
        r->acc <<= ESCAPE_Q;
        r->n -= ESCAPE_Q;
        return br_get(r, 32);
    }
    if (z + 1 > r->n) {
        r->err = 1;
        return 0;
    }
    r->acc <<= z + 1;
    r->n -= z + 1;
    uint64_t u = (uint64_t)z << k;
    if (k) u |= br_get(r, k);
    if (u > UINT32_MAX) r->err = 1;
    return (uint32_t)u;
}

/* Four channels' partitions side by side: four independent bit streams, so
 * the CPU overlaps their serial bit-parsing chains.  Used where every lane
 * holds at least 8 bytes per value still to read (plus 16), so that refills
 * need no bounds checks: a value never takes more than 64 bits. */
typedef struct {
    const uint8_t *p;
    uint64_t acc;
    int n;
} lane_t;

ATTR_INLINE uint64_t load_be64(const uint8_t *p) { return __builtin_bswap64(load_le64(p)); }

ATTR_INLINE void lane_refill(lane_t *l)
{
    l->acc |= load_be64(l->p) >> l->n;
    l->p += (63 - l->n) >> 3;
    l->n |= 56;
}

ATTR_INLINE int32_t lane_rice(lane_t *l, int k, uint64_t *bad)
{
    lane_refill(l); /* every time: cheaper than a mispredicted branch */
    int z = __builtin_clzll(l->acc | 1);
    /* a refill leaves at least 56 bits: enough for the unary part and, up to
     * k = 23, the low bits too; a larger k may need a second refill */
    uint64_t u;
    if (__builtin_expect(z >= ESCAPE_Q, 0)) {
        l->acc <<= ESCAPE_Q;
        l->n -= ESCAPE_Q;
        lane_refill(l);
        u = l->acc >> 32;
        l->acc <<= 32;
        l->n -= 32;
    } else {
        l->acc <<= z + 1;
        l->n -= z + 1;
        if (l->n < k) lane_refill(l);
        u = ((uint64_t)z << k) | ((l->acc >> 1) >> (63 - k));
        l->acc <<= k;
        l->n -= k;
    }
    *bad |= u >> 32;
    return unzigzag((uint32_t)u);
}

ATTR_INLINE int rice4_body(bitreader_t *r, const int *k, int32_t *out, size_t pn, uint32_t nc)
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

#define RICE_SET(SUFFIX, ATTR)                                                                                \
    ATTR static int rice4_##SUFFIX(bitreader_t *r, const int *k, int32_t *out, size_t pn, uint32_t nc)       \
    {                                                                                                         \
        return rice4_body(r, k, out, pn, nc);                                                                 \
    }
RICE_SET(scalar, ATTR_SCALAR)
RICE_SET(vector, )
#if HAVE_X86
RICE_SET(avx2, __attribute__((target("avx2,bmi,bmi2,lzcnt,popcnt"))))
#endif

static int rice_partition4(bitreader_t *r, const int *k, int32_t *out, size_t pn, uint32_t nc)
{
    switch (ephys_lpc_kernel()) {
#if HAVE_X86
    case EPHYS_LPC_KERNEL_AVX2: return rice4_avx2(r, k, out, pn, nc);
#endif
    case EPHYS_LPC_KERNEL_SCALAR: return rice4_scalar(r, k, out, pn, nc);
    default: return rice4_vector(r, k, out, pn, nc);
    }
}

/* Version 3: one channel's partition is pn low parts of k bits each (in the
 * partition's low-bits area) and pn unary parts (in one of its two unary
 * areas).  The unary parts are parsed a 56-bit window at a time: each one bit
 * ends a value, so the values of a window are the gaps between its one bits
 * (tzcnt, then clear the lowest one bit), with no serial shift of a bit
 * buffer per value. */
#define UNARY_WINDOW (((uint64_t)1 << 56) - 1)

/* Whole values of 8 (16) one bits within the first 39 (47) bits of a window
 * have at most 31 zero bits between them: no escape among them. */
#define FAST8(w) (__builtin_popcountll((w) & (((uint64_t)1 << 39) - 1)) >= 8)
#define FAST16(w) (__builtin_popcountll((w) & (((uint64_t)1 << 47) - 1)) >= 16)

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
    if (j + 8 <= pn && FAST8(w)) { /* the common case: no branch per value */
        int n = j + 16 <= pn && FAST16(w) ? 16 : 8;
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
ATTR_INLINE int unary3_body(const uint8_t *buf, size_t len, uint64_t *pos_a, uint32_t *qa, size_t na, uint64_t *pos_b,
                            uint32_t *qb, size_t nb)
{
    size_t ja = 0, jb = 0;
    uint64_t pa = *pos_a, pb = *pos_b;
    while (ja + 16 <= na && jb + 16 <= nb) {
        uint64_t wa = peek_bits(buf, len, pa) & UNARY_WINDOW, wb = peek_bits(buf, len, pb) & UNARY_WINDOW;
        if (FAST16(wa) && FAST16(wb)) {
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
ATTR_INLINE int lows3_body(const uint8_t *buf, size_t len, uint64_t lpos, int k, const uint32_t *q, uint32_t *u,
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
    size_t held = 0;
    for (size_t j = 0; j < pn; j++) {
        uint32_t f = (uint32_t)peek_bits(buf, len, lpos + (uint64_t)j * (uint64_t)(k + b)) & mask;
        col[j] = f;
        held += (f >> k) == t;
    }
    return held;
}

/* The unary parts of the capped values (held, in order) added to their high
 * parts; returns how many were taken, or HELD_OVERFLOW if a value does not fit
 * 32 bits.  held has room for 8 more. */
#define HELD_OVERFLOW SIZE_MAX
ATTR_INLINE size_t add_held_body(uint32_t *col, size_t pn, int k, int b, const uint32_t *held)
{
    uint32_t t = (1u << b) - 1;
    uint64_t over = 0;
    size_t i = 0;
    for (size_t j = 0; j < pn; j++) {
        uint64_t capped = (col[j] >> k) == t, v = col[j] + (((uint64_t)held[i] << k) & (0 - capped));
        over |= v >> 32;
        col[j] = (uint32_t)v;
        i += capped;
    }
    return over ? HELD_OVERFLOW : i;
}

#define UNARY_SET(SUFFIX, ATTR)                                                                               \
    ATTR static int unary3_##SUFFIX(const uint8_t *buf, size_t len, uint64_t *pos_a, uint32_t *qa, size_t na, \
                                    uint64_t *pos_b, uint32_t *qb, size_t nb)                                 \
    {                                                                                                         \
        return unary3_body(buf, len, pos_a, qa, na, pos_b, qb, nb);                                           \
    }
#define LOWS_SET(SUFFIX, ATTR)                                                                                \
    ATTR static int lows3_##SUFFIX(const uint8_t *buf, size_t len, uint64_t lpos, int k, const uint32_t *q,    \
                                   uint32_t *u, size_t pn)                                                    \
    {                                                                                                         \
        return lows3_body(buf, len, lpos, k, q, u, pn);                                                       \
    }
#define CAPPED_SET(SUFFIX, ATTR)                                                                              \
    ATTR static size_t capped_fields_##SUFFIX(const uint8_t *buf, size_t len, uint64_t lpos, int k, int b,     \
                                              uint32_t *col, size_t pn)                                       \
    {                                                                                                         \
        return capped_fields_body(buf, len, lpos, k, b, col, pn);                                             \
    }                                                                                                         \
    ATTR static size_t add_held_##SUFFIX(uint32_t *col, size_t pn, int k, int b, const uint32_t *held)         \
    {                                                                                                         \
        return add_held_body(col, pn, k, b, held);                                                            \
    }
UNARY_SET(scalar, ATTR_SCALAR)
LOWS_SET(scalar, ATTR_SCALAR)
CAPPED_SET(scalar, ATTR_SCALAR)
UNARY_SET(vector, )
LOWS_SET(vector, )
CAPPED_SET(vector, )
#if HAVE_X86
#define ATTR_AVX2_BITS __attribute__((target("avx2,bmi,bmi2,lzcnt,popcnt")))
UNARY_SET(avx2, ATTR_AVX2_BITS)
LOWS_SET(avx2_tail, ATTR_AVX2_BITS)
CAPPED_SET(avx2_tail, ATTR_AVX2_BITS)

/* Fields of width w (1..25) from bit lpos, eight a group: the eight fields of a
 * group start at bits phase + i w of the group's first byte; each lane gathers
 * the 4 bytes holding its field (vpshufb within 128-bit halves, the upper half
 * loaded from the byte of field 4) and shifts it into place.  groups: how many
 * whole groups lie in the buffer (the loads of group g end at byte
 * byte0 + g w + upper + 16); the rest is for the scalar bodies. */
typedef struct {
    __m256i shuf, shift, mask;
    size_t byte0, groups, w, upper;
} fields8_t;

ATTR_AVX2_BITS static fields8_t fields8_begin(size_t len, uint64_t lpos, int w, size_t pn)
{
    uint8_t shuffle[32];
    uint32_t sh[8];
    int phase = (int)(lpos & 7), upper = (phase + 4 * w) >> 3;
    for (int i = 0; i < 8; i++) {
        int off = phase + i * w, first = (off >> 3) - (i < 4 ? 0 : upper);
        for (int j = 0; j < 4; j++) shuffle[4 * i + j] = (uint8_t)(first + j);
        sh[i] = (uint32_t)(off & 7);
    }
    fields8_t g = {_mm256_loadu_si256((const __m256i *)shuffle), _mm256_loadu_si256((const __m256i *)sh),
                   _mm256_set1_epi32((int)((1u << w) - 1)), (size_t)(lpos >> 3), pn / 8, (size_t)w, (size_t)upper};
    while (g.groups && g.byte0 + (g.groups - 1) * g.w + g.upper + 16 > len) g.groups--;
    return g;
}

ATTR_AVX2_BITS static inline __m256i fields8_at(const fields8_t *g, const uint8_t *buf, size_t gi)
{
    const uint8_t *at = buf + g->byte0 + gi * g->w;
    __m256i v = _mm256_loadu2_m128i((const __m128i *)(at + g->upper), (const __m128i *)at);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(v, g->shuf), g->shift), g->mask);
}

/* capped_fields_body eight fields at a time (fields of up to 25 bits: r + b
 * is at most MAX_CAPPED_FIELD). */
ATTR_AVX2_BITS static size_t capped_fields_avx2(const uint8_t *buf, size_t len, uint64_t lpos, int k, int b,
                                                uint32_t *col, size_t pn)
{
    int w = k + b;
    fields8_t g = fields8_begin(len, lpos, w, pn);
    const __m256i t = _mm256_set1_epi32((int)((1u << b) - 1));
    const __m128i kk = _mm_cvtsi32_si128(k);
    size_t held = 0;
    for (size_t gi = 0; gi < g.groups; gi++) {
        __m256i f = fields8_at(&g, buf, gi);
        _mm256_storeu_si256((__m256i *)(col + 8 * gi), f);
        __m256i capped = _mm256_cmpeq_epi32(_mm256_srl_epi32(f, kk), t);
        held += (size_t)__builtin_popcount((uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(capped)));
    }
    size_t j = 8 * g.groups;
    return held + capped_fields_avx2_tail(buf, len, lpos + (uint64_t)j * (uint64_t)w, k, b, col + j, pn - j);
}

/* add_held_body eight values at a time: each capped lane takes the next held
 * value (its rank among the capped lanes, by BMI2 deposit, picks the lane of
 * a permutation). */
ATTR_AVX2_BITS static size_t add_held_avx2(uint32_t *col, size_t pn, int k, int b, const uint32_t *held)
{
    const __m256i t = _mm256_set1_epi32((int)((1u << b) - 1));
    const __m128i kk = _mm_cvtsi32_si128(k), top = _mm_cvtsi32_si128(32 - k);
    __m256i over = _mm256_setzero_si256();
    size_t i = 0, j = 0;
    for (; j + 8 <= pn; j += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(col + j));
        __m256i capped = _mm256_cmpeq_epi32(_mm256_srl_epi32(v, kk), t);
        uint32_t mask = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(capped));
        __m256i h = _mm256_and_si256(
            _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(held + i)), lane_ranks(mask)), capped);
        /* h << k must fit, and so must the sum (k = 0: the shift test is 0, the carry test is not) */
        __m256i add = _mm256_add_epi32(v, _mm256_sll_epi32(h, kk));
        over = _mm256_or_si256(over, _mm256_srl_epi32(h, top));
        over = _mm256_or_si256(over, _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(add, v), add),
                                                      _mm256_set1_epi32(-1)));
        _mm256_storeu_si256((__m256i *)(col + j), add);
        i += (size_t)__builtin_popcount(mask);
    }
    size_t tail = add_held_avx2_tail(col + j, pn - j, k, b, held + i);
    return _mm256_testz_si256(over, over) && tail != HELD_OVERFLOW ? i + tail : HELD_OVERFLOW;
}

/* lows3 and column fused, eight values at a time (fields8_t: fields up to 25
 * bits; the rest, and the tail, in the scalar bodies). */
ATTR_AVX2_BITS static int column3_avx2(const uint8_t *buf, size_t len, uint64_t lpos, int k, const uint32_t *q,
                                       uint32_t *u, size_t pn,
                                       int32_t gain, uint32_t *sum, const uint32_t *leaving, int m)
{
    size_t j = 0;
    if (k >= 1 && k <= 25) {
        fields8_t fg = fields8_begin(len, lpos, k, pn);
        const __m256i one = _mm256_set1_epi32(1);
        const __m256i g = _mm256_set1_epi32(gain), round = _mm256_set1_epi32(1 << (GAIN_SHIFT - 1));
        const __m128i kk = _mm_cvtsi32_si128(k), top = _mm_cvtsi32_si128(32 - k);
        __m256i over = _mm256_setzero_si256();
        for (size_t gi = 0; gi < fg.groups; gi++) {
            __m256i low = fields8_at(&fg, buf, gi);
            __m256i hi = _mm256_loadu_si256((const __m256i *)(q + 8 * gi));
            over = _mm256_or_si256(over, _mm256_srl_epi32(hi, top));
            __m256i uu = _mm256_or_si256(_mm256_sll_epi32(hi, kk), low);
            __m256i e = _mm256_xor_si256(_mm256_srli_epi32(uu, 1), _mm256_sub_epi32(_mm256_setzero_si256(),
                                                                                   _mm256_and_si256(uu, one)));
            if (m) {
                __m256i s = _mm256_loadu_si256((const __m256i *)(sum + 8 * gi));
                e = _mm256_add_epi32(e, _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(g, s), round), GAIN_SHIFT));
                s = _mm256_add_epi32(s, e);
                if (leaving) s = _mm256_sub_epi32(s, _mm256_loadu_si256((const __m256i *)(leaving + 8 * gi)));
                _mm256_storeu_si256((__m256i *)(sum + 8 * gi), s);
            }
            _mm256_storeu_si256((__m256i *)(u + 8 * gi), e);
        }
        if (!_mm256_testz_si256(over, over)) return 1;
        j = 8 * fg.groups;
    }
    if (lows3_avx2_tail(buf, len, lpos + (uint64_t)j * k, k, q + j, u + j, pn - j)) return 1;
    column_avx2(u + j, pn - j, gain, sum + j, leaving ? leaving + j : NULL, m);
    return 0;
}
#endif

/* Kernel dispatch of the version 3 entropy decoding; 0 on a corrupt stream. */
static int read_unary3(const uint8_t *buf, size_t len, uint64_t *pos_a, uint32_t *qa, size_t na, uint64_t *pos_b,
                       uint32_t *qb, size_t nb)
{
    switch (ephys_lpc_kernel()) {
#if HAVE_X86
    case EPHYS_LPC_KERNEL_AVX2: return unary3_avx2(buf, len, pos_a, qa, na, pos_b, qb, nb);
#endif
    case EPHYS_LPC_KERNEL_SCALAR: return unary3_scalar(buf, len, pos_a, qa, na, pos_b, qb, nb);
    default: return unary3_vector(buf, len, pos_a, qa, na, pos_b, qb, nb);
    }
}

/* A channel's low bits joined to its unary parts in u, then its column
 * (kern->column) in place; 0 on a corrupt stream. */
static int read_lows3(const kernels_t *kern, const uint8_t *buf, size_t len, uint64_t lpos, int k, const uint32_t *q,
                      uint32_t *u, size_t pn, int32_t gain, uint32_t *sum, const uint32_t *leaving, int m)
{
    int bad;
    switch (ephys_lpc_kernel()) {
#if HAVE_X86
    case EPHYS_LPC_KERNEL_AVX2: return !column3_avx2(buf, len, lpos, k, q, u, pn, gain, sum, leaving, m);
#endif
    case EPHYS_LPC_KERNEL_SCALAR: bad = lows3_scalar(buf, len, lpos, k, q, u, pn); break;
    default: bad = lows3_vector(buf, len, lpos, k, q, u, pn);
    }
    if (!bad) kern->column(u, pn, gain, sum, leaving, m);
    return !bad;
}

static size_t read_capped_fields(const uint8_t *buf, size_t len, uint64_t lpos, int k, int b, uint32_t *col,
                                 size_t pn)
{
    switch (ephys_lpc_kernel()) {
#if HAVE_X86
    case EPHYS_LPC_KERNEL_AVX2: return capped_fields_avx2(buf, len, lpos, k, b, col, pn);
#endif
    case EPHYS_LPC_KERNEL_SCALAR: return capped_fields_scalar(buf, len, lpos, k, b, col, pn);
    default: return capped_fields_vector(buf, len, lpos, k, b, col, pn);
    }
}

static size_t add_held(uint32_t *col, size_t pn, int k, int b, const uint32_t *held)
{
    switch (ephys_lpc_kernel()) {
#if HAVE_X86
    case EPHYS_LPC_KERNEL_AVX2: return add_held_avx2(col, pn, k, b, held);
#endif
    case EPHYS_LPC_KERNEL_SCALAR: return add_held_scalar(col, pn, k, b, held);
    default: return add_held_vector(col, pn, k, b, held);
    }
}

/* Decode one partition into a strided column; the reader lives in locals. */
static void rice_partition(bitreader_t *r, int k, int32_t *out, size_t pn, uint32_t nc)
{
    bitreader_t br = *r;
    for (size_t j = 0; j < pn; j++) out[j * nc] = unzigzag(br_rice(&br, k));
    *r = br;
}

/* ---- stream geometry ---- */

typedef struct {
    int version, dtype, capped;
    int frame_log2, partition_log2, shift, neighbours;
    uint32_t max_error;
    uint64_t n_samples;
    uint32_t nc;
} stream_t;

/* The fewest bits the frames of a stream can take (every partition a zero one). */
static uint64_t min_stream_bits(const stream_t *s)
{
    uint64_t f = (uint64_t)1 << s->frame_log2, part = (uint64_t)1 << s->partition_log2, bits = 0;
    uint64_t full = s->n_samples / f, rest = s->n_samples % f;
    uint64_t head = s->version >= 2 ? 6 + 5 : 6; /* order, m */
    uint64_t area = s->version >= 3 ? 32 : 0; /* per partition: the length of unary area A */
    bits += s->nc; /* grid flags */
    bits += full * (s->nc * (head + 5 * (f / part)) + area * (f / part));
    if (rest) bits += (uint64_t)s->nc * (head + 5 * ((rest + part - 1) / part)) + area * ((rest + part - 1) / part);
    return bits;
}

static uint64_t lpc_min_bytes(uint64_t n_samples, uint64_t n_channels)
{
    if (!n_samples || !n_channels) return 0;
    return STREAM_HEADER + (n_channels * 12 + 7) / 8; /* grid flag, one frame, one partition */
}

/* ---- analysis (encoder only; scalar double arithmetic, one path) ---- */

/* Levinson-Durbin: chooses the order with the fewest estimated bits and
 * returns its weights quantized to integers / 2^shift. */
static int fit_lpc(const double *r, int max_order, size_t nt, int shift, int32_t *q, int *coef_bits)
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

/* ---- per-block work areas ---- */

typedef struct {
    int32_t *x;     /* (HIST + F) x nc samples, history first */
    int32_t *e;     /* F x nc residuals / symbols */
    int32_t *orig;  /* near-lossless encoder: F x nc original samples */
    int32_t *coef;  /* order x nc weights of the frame */
    int32_t *flags; /* decoder: per channel corruption flags of the int32 synthesis */
    int64_t *acc64;
    int *order;     /* per channel */
    int *bits;      /* per channel coefficient bits */
    int32_t *gain;  /* per channel neighbour gain */
    uint32_t *nsum; /* encoder: neighbour sums S of one row */
    uint32_t *scale, *base; /* per channel grid: x = y * scale + base */
    int32_t *mean;  /* per channel offset d of the frame (its rounded mean) */
    acc_init_t init; /* per channel accumulator start */
    uint32_t *cm;   /* version 3: one partition channel-major (nc x P), coded values */
    uint32_t *sum;  /* version 3 decoder: P running neighbour sums */
    int *rice;      /* version 3: per channel Rice parameter of a partition */
    int *cap;       /* version 4: per channel cap b of a partition (0: plain Rice) */
    uint32_t *held; /* encoder: per channel its values over the cap; decoder: the unary parts' values (areas A, B) */
    uint32_t **held_at; /* decoder: per channel its next unary parts' values (in area A or B of held) */
    uint32_t *fields; /* version 4 encoder: P capped low fields */
    uint64_t *lows_at; /* version 3 decoder: per channel bit position of its low bits in the partition */
} work_t;

static void work_free(work_t *w)
{
    free(w->x); free(w->e); free(w->orig); free(w->coef); free(w->flags); free(w->acc64);
    free(w->order); free(w->bits); free(w->gain); free(w->nsum); free(w->scale); free(w->base);
    free(w->mean); free(w->init.i32); free(w->init.i64); free(w->cm); free(w->sum); free(w->rice); free(w->lows_at);
    free(w->cap); free(w->held); free(w->held_at); free(w->fields);
}

/* near_encoder: 1 near-lossless encoder, 0 lossless encoder, -1 decoder */
static int work_alloc(work_t *w, size_t f, size_t part, uint32_t nc, int near_encoder)
{
    memset(w, 0, sizeof(*w));
    w->x = malloc((HIST + f) * nc * sizeof(int32_t)); /* each frame row is written before it is read */
    w->e = malloc((HIST + f) * nc * sizeof(int32_t)); /* HIST more: autocorr scratch */
    w->orig = near_encoder > 0 ? malloc(f * nc * sizeof(int32_t)) : NULL;
    w->coef = malloc((size_t)EPHYS_LPC_MAX_ORDER * nc * sizeof(int32_t));
    w->flags = malloc(nc * sizeof(int32_t));
    w->acc64 = malloc(nc * sizeof(int64_t));
    w->order = malloc(nc * sizeof(int));
    w->bits = malloc(nc * sizeof(int));
    w->gain = malloc(nc * sizeof(int32_t));
    w->nsum = malloc(nc * sizeof(uint32_t));
    w->scale = malloc(nc * sizeof(uint32_t));
    w->base = malloc(nc * sizeof(uint32_t));
    w->mean = calloc(nc, sizeof(int32_t));
    w->init.i32 = malloc(nc * sizeof(int32_t));
    w->init.i64 = malloc(nc * sizeof(int64_t));
    w->cm = malloc(part * nc * sizeof(uint32_t));
    w->sum = malloc(part * sizeof(uint32_t));
    w->rice = malloc(nc * sizeof(int));
    w->lows_at = malloc(nc * sizeof(uint64_t));
    w->cap = calloc(nc, sizeof(int));
    w->held = malloc((nc * part + 16) * sizeof(uint32_t)); /* + 8 after each area: the AVX2 expand reads 8 at a time */
    w->held_at = malloc(nc * sizeof(uint32_t *));
    w->fields = malloc(part * sizeof(uint32_t));
    if (!w->cap || !w->held || !w->held_at || !w->fields || !w->cm || !w->sum || !w->rice || !w->lows_at || !w->x || !w->e || (near_encoder > 0 && !w->orig) || !w->coef || !w->flags || !w->acc64 || !w->order ||
        !w->bits || !w->gain || !w->nsum || !w->scale || !w->base || !w->mean || !w->init.i32 ||
        !w->init.i64) {
        work_free(w);
        return EPHYS_ERR_NOMEM;
    }
    memset(w->x, 0, (size_t)HIST * nc * sizeof(int32_t)); /* version 1 streams start from zeros */
    return EPHYS_OK;
}

/* Keep the last HIST rows of the frame (nt rows after the history) as the
 * next frame's history. */
static void shift_history(work_t *w, size_t nt, uint32_t nc)
{
    memmove(w->x, w->x + nt * nc, (size_t)HIST * nc * sizeof(int32_t));
}

/* The frame's accumulator starts, its highest order, and whether int32
 * accumulation could overflow (then the int64 path runs; both give the same
 * values, so this is the decoder's choice as much as the encoder's). */
static int frame_setup(work_t *w, uint32_t nc, int dtype, int shift, int *wide)
{
    int top = 0;
    *wide = dtype == EPHYS_DTYPE_INT32;
    for (uint32_t c = 0; c < nc; c++) {
        if (w->order[c] > top) top = w->order[c];
        int64_t sum = 0, sum_abs = 0;
        for (int i = 0; i < w->order[c]; i++) {
            int32_t a = w->coef[(size_t)i * nc + c];
            sum += a;
            sum_abs += a < 0 ? -(int64_t)a : a;
        }
        /* |d| <= 2^31 and |2^s - sum a| < 2^21: no overflow */
        int64_t start = ((int64_t)1 << (shift - 1)) + (int64_t)w->mean[c] * (((int64_t)1 << shift) - sum);
        w->init.i64[c] = start;
        /* |x| <= 2^15: |sum a x + start| < 2^31 */
        if (sum_abs * 32768 + (start < 0 ? -start : start) >= ((int64_t)1 << 31)) *wide = 1;
    }
    for (uint32_t c = 0; c < nc; c++) w->init.i32[c] = *wide ? 0 : (int32_t)w->init.i64[c];
    return top;
}

/* Before a block's first frame the history is each channel's offset d. */
static void fill_history(work_t *w, uint32_t nc)
{
    for (size_t t = 0; t < HIST; t++) memcpy(w->x + t * nc, w->mean, nc * sizeof(int32_t));
}

/* Neighbour prediction.  Channel c's residual e is predicted from
 * S_c = sum of e over channels [c - m, c) at the same sample; the coded value is
 * v = wrap(e - ((G_c S_c + 64) >> 7)), in int64 (versions 1, 2) or modulo 2^32
 * (version 3: neighbour_term32). */
static inline int32_t neighbour_term(int32_t gain, int64_t sum)
{
    return wrap32(floor_shift(gain * sum + (1 << (GAIN_SHIFT - 1)), GAIN_SHIFT));
}

/* Decoder: v -> e in place.  Each row is a serial chain across channels, so
 * four rows run side by side for the CPU to overlap them. */
#define NB_ROWS 4
__attribute__((noinline)) static void neighbours_inverse(int32_t *e, size_t nt, uint32_t nc, int m, const int32_t *gain)
{
    if (!m) return;
    size_t t = 0;
    for (; t + NB_ROWS <= nt; t += NB_ROWS) {
        int32_t *row = e + t * nc;
        int64_t sum[NB_ROWS] = {0};
        for (uint32_t c = 0; c < nc; c++) {
            for (int k = 0; k < NB_ROWS; k++) {
                int32_t *r = row + (size_t)k * nc;
                int32_t ev = i32_of_u32((uint32_t)r[c] + (uint32_t)neighbour_term(gain[c], sum[k]));
                r[c] = ev;
                sum[k] += ev;
                if (c >= (uint32_t)m) sum[k] -= r[c - m];
            }
        }
    }
    for (; t < nt; t++) {
        int32_t *r = e + t * nc;
        int64_t sum = 0;
        for (uint32_t c = 0; c < nc; c++) {
            int32_t ev = i32_of_u32((uint32_t)r[c] + (uint32_t)neighbour_term(gain[c], sum));
            r[c] = ev;
            sum += ev;
            if (c >= (uint32_t)m) sum -= r[c - m];
        }
    }
}

/* ---- per-channel grids ----
 * Samples that all sit on a grid x = y * scale + base (data scaled by a constant
 * before storage, e.g. 12 units per ADC step) are coded as y.  The encoder
 * finds scale as the gcd of the differences to the first sample. */

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

/* Returns whether any channel has a grid; scratch holds rows x nc samples.  The
 * gcd of the first GRID_PROBE_ROWS rows is the candidate, which every sample
 * must then divide. */
static int find_grids(const ephys_view_t *src, uint64_t c0, uint32_t nc, int32_t *scratch, size_t rows,
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

/* x -> y in place (exact: every x of a channel is base + a multiple of scale). */
static void to_grid(int32_t *rows, size_t nt, uint32_t nc, const uint32_t *scale, const uint32_t *base)
{
    for (size_t t = 0; t < nt; t++)
        for (uint32_t c = 0; c < nc; c++)
            if (scale[c] > 1)
                rows[t * nc + c] = (int32_t)exact_div((int64_t)rows[t * nc + c] - base[c], scale[c]);
}

/* y -> x into out; returns nonzero if an x falls outside [lo, hi] (corrupt).
 * Each channel's range of y whose x is in [lo, hi] comes first (into bounds:
 * 2 nc values), so that the kernel runs in 32-bit lanes: y scale + base is
 * exact modulo 2^32 for those y. */
static int from_grid(const kernels_t *kern, const int32_t *rows, size_t nt, uint32_t nc, const uint32_t *scale,
                     const uint32_t *base, int32_t lo, int32_t hi, int32_t *out, int32_t *bounds)
{
    for (uint32_t c = 0; c < nc; c++) {
        int64_t g = scale[c], a = (int64_t)lo - base[c], b = (int64_t)hi - base[c];
        int64_t first = -floor_div(-a, g), last = floor_div(b, g);
        if (first > last || first > INT32_MAX || last < INT32_MIN) first = 1, last = 0; /* no y */
        bounds[c] = (int32_t)(first < INT32_MIN ? INT32_MIN : first);
        bounds[nc + c] = (int32_t)(last > INT32_MAX ? INT32_MAX : last);
    }
    return kern->from_grid(rows, nt, nc, scale, base, bounds, out);
}

/* The frame's offset d per channel: its rounded mean (0 for int32 samples,
 * whose differences could overflow); the history of a block's first frame is
 * set to d. */
static void centre(work_t *w, int first, size_t nt, uint32_t nc, int dtype)
{
    const int32_t *rows = w->x + (size_t)HIST * nc;
    for (uint32_t c = 0; c < nc; c++) w->mean[c] = 0;
    if (dtype != EPHYS_DTYPE_INT32) { /* int8 / int16: a frame's sum fits in int32 (2^16 x 2^15) */
        int32_t *sum = w->flags;
        for (uint32_t c = 0; c < nc; c++) sum[c] = 0;
        for (size_t t = 0; t < nt; t++)
            for (uint32_t c = 0; c < nc; c++) sum[c] += rows[t * nc + c];
        for (uint32_t c = 0; c < nc; c++) w->mean[c] = (int32_t)floor((double)sum[c] / (double)nt + 0.5);
    }
    if (first) fill_history(w, nc);
}

/* Version 4 partition: every channel's Rice parameter r (and cap b), then
 * every channel's low fields, then every channel's unary parts (lpc_codec.h).
 * u: the coded values, pn rows; w->cm: nc x pn scratch. */
static void write_partition(bitwriter_t *bw, const kernels_t *kern, const int32_t *u, size_t pn, uint32_t nc,
                            work_t *w, int capped)
{
    uint32_t h = unary_split(nc), *cm = w->cm;
    uint64_t area_a = 0, unary_bits;
    kern->transpose((const uint32_t *)u, nc, nc, (uint32_t)pn, (int32_t *)cm); /* rows -> columns */
    for (uint32_t c = 0; c < nc; c++) {
        const uint32_t *col = cm + (size_t)c * pn;
        int k = kern->rice_parameter(col, pn, &unary_bits), b = 0;
        if (capped && k != ZERO_PARTITION && k + 2 <= MAX_CAPPED_FIELD) {
            uint32_t bits[CAP_TRIES];
            uint64_t best = (uint64_t)k * pn + unary_bits;
            int r = k;
            kern->cap_costs(col, pn, r, bits);
            for (int i = 0; i < CAP_TRIES; i++) {
                uint64_t cost = (uint64_t)(r - cap_drop[i] + cap_b[i]) * pn + bits[i];
                if (bits[i] != UINT32_MAX && cost < best) {
                    best = cost;
                    k = r - cap_drop[i];
                    b = cap_b[i];
                    unary_bits = bits[i];
                }
            }
        }
        w->rice[c] = k;
        w->cap[c] = b;
        bw_put(bw, (uint32_t)k, 5);
        if (capped && k != ZERO_PARTITION) bw_put(bw, (uint32_t)b, CAP_BITS);
        if (c < h) area_a += unary_bits;
    }
    if (area_a > UINT32_MAX) bw->err = EPHYS_ERR_ARGS; /* a partition of 2^12 x 2^16 channels at the most */
    bw_put(bw, (uint32_t)area_a, 32);
    for (uint32_t c = 0; c < nc; c++) {
        int k = w->rice[c], b = w->cap[c];
        uint32_t *col = cm + (size_t)c * pn;
        if (k == ZERO_PARTITION) continue;
        if (b) { /* the capped fields, and the values over the cap moved to the column's front */
            w->held[c] = (uint32_t)kern->cap_split(col, pn, k, b, w->fields);
            kern->lows(bw, w->fields, pn, k + b);
        } else if (k) {
            kern->lows(bw, col, pn, k);
        }
    }
    for (uint32_t c = 0; c < nc; c++) {
        int k = w->rice[c];
        const uint32_t *col = cm + (size_t)c * pn;
        if (k == ZERO_PARTITION) continue;
        if (w->cap[c])
            kern->unary(bw, col, w->held[c], 0);
        else
            kern->unary(bw, col, pn, k);
    }
}

/* d: 5 bits n, then n bits of zigzag(d) (n = 0: d = 0). */
static void bw_mean(bitwriter_t *w, int32_t mean)
{
    uint32_t u = zigzag(mean);
    int n = 0;
    while (n < 32 && (u >> n)) n++;
    bw_put(w, (uint32_t)n, 5);
    if (n) bw_put(w, u, n);
}

static void write_header(uint8_t *h, const ephys_lpc_params_t *p, int dtype, uint64_t n, uint32_t nc)
{
    h[0] = STREAM_VERSION;
    h[1] = (uint8_t)dtype;
    h[2] = (uint8_t)p->frame_log2;
    h[3] = (uint8_t)p->partition_log2;
    h[4] = (uint8_t)p->coef_shift;
    h[5] = (uint8_t)p->neighbours;
    h[6] = (uint8_t)p->capped;
    h[7] = 0;
    ephys_put_le32(h + 8, (uint32_t)n);
    ephys_put_le32(h + 12, nc);
    ephys_put_le32(h + 16, p->max_error);
}

static int encode_stream(const ephys_lpc_params_t *p, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                         ephys_buf_t *out)
{
    const kernels_t *kern = kernels();
    size_t n = src->n_samples, frame = (size_t)1 << p->frame_log2, part = (size_t)1 << p->partition_log2;
    size_t fl = n < frame ? n : frame;
    int near = p->max_error > 0, m = nc > 1 ? p->neighbours : 0;
    int32_t lo, hi;
    dtype_range(src->dtype, &lo, &hi);
    uint8_t header[STREAM_HEADER];
    ephys_lpc_params_t hp = *p;
    hp.neighbours = m;
    write_header(header, &hp, src->dtype, n, nc);
    int err = ephys_buf_append(out, header, sizeof(header));
    if (err) return err;
    work_t w;
    if ((err = work_alloc(&w, fl, fl < part ? fl : part, nc, near))) return err;
    double *r = malloc((size_t)(p->max_order + 1) * nc * sizeof(double));
    if (!r) err = EPHYS_ERR_NOMEM;
    bitwriter_t bw = {out, 0, 0, 0}; /* after the header */
    /* lossless only: on a grid, an error bound on y would be scale times larger on x */
    int grids = !err && !near && find_grids(src, c0, nc, w.e, fl, w.scale, w.base);
    for (uint32_t c = 0; c < nc && !err; c++) {
        if (!grids) w.scale[c] = 1, w.base[c] = 0;
        bw_put(&bw, w.scale[c] > 1, 1);
        if (w.scale[c] > 1) {
            bw_put(&bw, w.scale[c], 32);
            bw_put(&bw, w.base[c], 32);
        }
    }
    for (size_t t0 = 0; !err && t0 < n; t0 += frame) {
        size_t nt = n - t0 < frame ? n - t0 : frame;
        int32_t *rows = w.x + (size_t)HIST * nc;
        ephys_view_load(src, t0, nt, c0, nc, rows);
        if (grids) to_grid(rows, nt, nc, w.scale, w.base);
        if (near) memcpy(w.orig, rows, nt * nc * sizeof(int32_t));
        /* predictor per channel, fitted around the channel's mean: a constant
         * offset (the DC of a probe channel) would otherwise cost prediction */
        centre(&w, t0 == 0, nt, nc, src->dtype);
        kern->autocorr(rows, nt, nc, p->max_order, w.mean, r, (uint32_t *)w.e);
        memset(w.coef, 0, (size_t)EPHYS_LPC_MAX_ORDER * nc * sizeof(int32_t));
        for (uint32_t c = 0; c < nc; c++) {
            double rc[EPHYS_LPC_MAX_ORDER + 1];
            int32_t q[EPHYS_LPC_MAX_ORDER];
            for (int l = 0; l <= p->max_order; l++) rc[l] = r[(size_t)l * nc + c];
            w.order[c] = fit_lpc(rc, p->max_order, nt, p->coef_shift, q, &w.bits[c]);
            for (int i = 0; i < w.order[c]; i++) w.coef[(size_t)i * nc + c] = q[i];
        }
        int wide, top = frame_setup(&w, nc, src->dtype, p->coef_shift, &wide);
        if (near)
            kern->near(rows, nt, nc, w.coef, top, p->coef_shift, lo, hi, &w.init, w.acc64, w.e, w.orig,
                       2 * (int64_t)p->max_error + 1);
        else
            kern->residual(rows, nt, nc, w.coef, top, p->coef_shift, wide, lo, hi, &w.init, w.acc64,
                           w.e);
        if ((err = kern->fit_gains(w.e, nt, nc, m, w.gain, w.nsum))) break;
        kern->code_rows(w.e, nt, nc, m, w.gain, w.nsum);
        for (uint32_t c = 0; c < nc; c++) {
            bw_put(&bw, (uint32_t)w.order[c], 6);
            if (w.order[c]) {
                bw_put(&bw, (uint32_t)(w.bits[c] - 1), 4);
                for (int i = 0; i < w.order[c]; i++) bw_signed(&bw, w.coef[(size_t)i * nc + c], w.bits[c]);
            }
            bw_mean(&bw, w.mean[c]);
            if (m && c > 0) {
                bw_put(&bw, w.gain[c] != 0, 1);
                if (w.gain[c]) bw_signed(&bw, w.gain[c], GAIN_BITS);
            }
        }
        /* partition by partition, so that a decoder works on a few rows of
         * every channel at a time */
        for (size_t ps = 0; ps < nt; ps += part)
            write_partition(&bw, kern, w.e + ps * nc, nt - ps < part ? nt - ps : part, nc, &w, p->capped);
        if (bw.err) err = bw.err;
        shift_history(&w, nt, nc);
    }
    if (!err) {
        bw_finish(&bw);
        err = bw.err;
    }
    free(r);
    work_free(&w);
    return err;
}

/* With a second partition length, the block is coded twice and the shorter
 * stream kept (its header names its partition length). */
static int lpc_encode_block(const void *params, const ephys_view_t *src, uint64_t c0, uint32_t nc, ephys_buf_t *out)
{
    const ephys_lpc_params_t *p = params;
    size_t at = out->len;
    int err = encode_stream(p, src, c0, nc, out);
    if (err || !p->alt_partition_log2) return err;
    ephys_lpc_params_t alt = *p;
    alt.partition_log2 = p->alt_partition_log2;
    ephys_buf_t other = {0};
    err = encode_stream(&alt, src, c0, nc, &other);
    if (!err && other.len < out->len - at) {
        out->len = at;
        err = ephys_buf_append(out, other.data, other.len);
    }
    free(other.data);
    return err;
}

/* ---- decoder ---- */

static int parse_stream(const uint8_t *in, size_t len, const ephys_view_t *dst, uint32_t nc, stream_t *s)
{
    if (len < STREAM_HEADER) return EPHYS_ERR_TRUNCATED;
    if (in[0] < 1 || in[0] > STREAM_VERSION) return EPHYS_ERR_VERSION;
    size_t payload = STREAM_HEADER + (in[0] < 3 ? LANE_TABLE : 0);
    if (len < payload) return EPHYS_ERR_TRUNCATED;
    s->version = in[0];
    s->dtype = in[1];
    s->frame_log2 = in[2];
    s->partition_log2 = in[3];
    s->shift = in[4];
    s->neighbours = in[5];
    s->n_samples = ephys_get_le32(in + 8);
    s->nc = ephys_get_le32(in + 12);
    s->max_error = ephys_get_le32(in + 16);
    s->capped = in[6];
    if (s->dtype != dst->dtype || s->n_samples != dst->n_samples || s->nc != nc || in[6] > (s->version >= 4) || in[7] ||
        s->frame_log2 < MIN_FRAME_LOG2 || s->frame_log2 > MAX_FRAME_LOG2 || s->partition_log2 < 4 ||
        s->partition_log2 > MAX_PARTITION_LOG2 || s->partition_log2 > s->frame_log2 || s->shift < 1 ||
        s->shift > 15 || s->dtype < EPHYS_DTYPE_INT8 || s->dtype > EPHYS_DTYPE_INT32 || s->neighbours > MAX_NEIGHBOURS || s->max_error > EPHYS_LPC_MAX_ERROR)
        return EPHYS_ERR_CORRUPT;
    if (min_stream_bits(s) > 8 * (uint64_t)(len - payload)) return EPHYS_ERR_CORRUPT;
    return EPHYS_OK;
}

/* Header fields in either bit order: msb (versions 1, 2) or lsb (version 3). */
typedef struct {
    bitreader_t *msb;
    posreader_t *lsb;
} fields_t;

static uint32_t field(fields_t *f, int nbits)
{
    return f->lsb ? pr_get(f->lsb, nbits) : br_get(f->msb, nbits);
}

static int32_t field_signed(fields_t *f, int nbits)
{
    uint32_t v = field(f, nbits), sign = 1u << (nbits - 1);
    return i32_of_u32((v ^ sign) - sign);
}

static int fields_err(const fields_t *f) { return f->lsb ? f->lsb->err : f->msb->err; }

/* One channel's frame header (order, weights, offset d, neighbour gain). */
static int read_channel_header(fields_t *br, const stream_t *s, work_t *w, uint32_t c)
{
    uint32_t nc = s->nc;
    int32_t lo, hi;
    dtype_range(s->dtype, &lo, &hi);
    int order = (int)field(br, 6);
    if (order > EPHYS_LPC_MAX_ORDER) return EPHYS_ERR_CORRUPT;
    w->order[c] = order;
    if (order) {
        int bits = (int)field(br, 4) + 1;
        for (int q = 0; q < order; q++) w->coef[(size_t)q * nc + c] = field_signed(br, bits);
    }
    w->mean[c] = 0;
    if (s->version >= 2) {
        int nb = (int)field(br, 5);
        int64_t mean = nb ? unzigzag(field(br, nb)) : 0;
        if (mean < lo || mean > hi) return EPHYS_ERR_CORRUPT;
        w->mean[c] = (int32_t)mean;
    }
    w->gain[c] = 0;
    if (s->neighbours && c > 0 && field(br, 1)) w->gain[c] = field_signed(br, GAIN_BITS);
    return fields_err(br) ? EPHYS_ERR_CORRUPT : EPHYS_OK;
}

/* One partition (pn rows) of g <= LANES consecutive channels, lane i holding
 * channel i of them, into dst_e (row stride nc). */
static int read_partition(bitreader_t *brs, uint32_t g, int32_t *dst_e, size_t pn, uint32_t nc)
{
    int k[LANES], zero = 0;
    for (uint32_t i = 0; i < g; i++) {
        k[i] = (int)br_get(&brs[i], 5);
        zero |= k[i] == ZERO_PARTITION;
    }
    if (!(g == LANES && !zero && rice_partition4(brs, k, dst_e, pn, nc))) {
        for (uint32_t i = 0; i < g; i++) {
            if (k[i] == ZERO_PARTITION)
                for (size_t j = 0; j < pn; j++) dst_e[j * nc + i] = 0;
            else
                rice_partition(&brs[i], k[i], dst_e + i, pn, nc);
        }
    }
    for (uint32_t i = 0; i < g; i++)
        if (brs[i].err) return EPHYS_ERR_CORRUPT;
    return EPHYS_OK;
}

/* Rows [t, t + nt) of the block from their coded values in w->e (which this
 * consumes) into dst; the rows' history sits before them in w->x. */
static int synthesize(work_t *w, const kernels_t *kern, const stream_t *s, size_t t, size_t nt, int top, int wide,
                      int grids, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    int32_t lo, hi;
    dtype_range(s->dtype, &lo, &hi);
    int32_t *rows = w->x + (size_t)(HIST + t % ((size_t)1 << s->frame_log2)) * nc;
    if (s->version < 3) neighbours_inverse(w->e, nt, nc, s->neighbours, w->gain);
    if (s->max_error)
        kern->near(rows, nt, nc, w->coef, top, s->shift, lo, hi, &w->init, w->acc64, w->e, NULL,
                   2 * (int64_t)s->max_error + 1);
    else if (kern->synth(rows, nt, nc, w->coef, top, s->shift, wide, lo, hi, &w->init, w->flags, w->acc64, w->e))
        return EPHYS_ERR_CORRUPT;
    /* acc64 (nc int64 of scratch, free once synthesis is done) holds the 2 nc bounds */
    if (grids && from_grid(kern, rows, nt, nc, w->scale, w->base, lo, hi, w->e, (int32_t *)w->acc64))
        return EPHYS_ERR_CORRUPT;
    ephys_view_store(dst, t, nt, c0, nc, grids ? w->e : rows);
    return EPHYS_OK;
}

#define SUB_ROWS 256 /* rows of a partition taken from its columns to the output at a time: they stay in L1 */

/* One version 3 or 4 partition (rows [t, t + pn) of every channel) into dst:
 * Rice parameters (and caps), the length of unary area A, the low-bits area,
 * unary area A (channels [0, h)), unary area B (channels [h, nc)).  The unary
 * parts of the whole partition first (a capped channel's fields before them:
 * they say how many it has), then SUB_ROWS rows at a time: low bits and the
 * neighbour term per channel, to rows, synthesis. */
static int read_partition3(posreader_t *r, const kernels_t *kern, const stream_t *s, work_t *w, size_t t, size_t pn,
                           int top, int wide, int grids, const ephys_view_t *dst, uint64_t c0)
{
    uint32_t nc = s->nc, h = unary_split(nc);
    int m = s->neighbours;
    uint64_t lows = 0;
    for (uint32_t c = 0; c < nc; c++) {
        int k = (int)pr_get(r, 5), b = 0;
        if (s->capped && k != ZERO_PARTITION) {
            b = (int)pr_get(r, CAP_BITS);
            if (b && k + b > MAX_CAPPED_FIELD) return EPHYS_ERR_CORRUPT;
        }
        w->lows_at[c] = lows; /* from the low-bits area's start */
        if (k != ZERO_PARTITION) lows += (uint64_t)(k + b) * pn;
        w->rice[c] = k;
        w->cap[c] = b;
    }
    uint64_t area_a = pr_get(r, 32), nbits = 8 * (uint64_t)r->len;
    uint64_t pos_a = r->pos + lows, pos_b = pos_a + area_a;
    if (r->err || pos_b > nbits) return EPHYS_ERR_CORRUPT;
    for (uint32_t c = 0; c < nc; c++) w->lows_at[c] += r->pos;
    /* the unary parts: each area parsed whole (its channels' values back to
     * back, so that the two parsing chains overlap all along), after the
     * capped channels' fields, which say how many values each has */
    uint32_t *qa = w->held, *qb = w->held + (size_t)h * pn + 8;
    size_t na = 0, nb = 0;
    for (uint32_t c = 0; c < nc; c++) {
        if (w->rice[c] == ZERO_PARTITION) continue;
        size_t n = w->cap[c] ? read_capped_fields(r->buf, r->len, w->lows_at[c], w->rice[c], w->cap[c],
                                                  w->cm + (size_t)c * pn, pn)
                             : pn;
        size_t *count = c < h ? &na : &nb;
        w->held_at[c] = (c < h ? qa : qb) + *count;
        *count += n;
    }
    if (!read_unary3(r->buf, r->len, &pos_a, qa, na, &pos_b, qb, nb)) return EPHYS_ERR_CORRUPT;
    memset(qa + na, 0, 8 * sizeof(uint32_t)); /* read (and masked) by the AVX2 expand */
    memset(qb + nb, 0, 8 * sizeof(uint32_t));
    if (pos_a != r->pos + lows + area_a || pos_b > nbits) return EPHYS_ERR_CORRUPT;
    if (m) memset(w->sum, 0, pn * sizeof(uint32_t));
    r->pos = pos_b;
    for (size_t j0 = 0; j0 < pn; j0 += SUB_ROWS) {
        size_t len = pn - j0 < SUB_ROWS ? pn - j0 : SUB_ROWS;
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t *col = w->cm + (size_t)c * pn + j0, *leaving = m && c >= (uint32_t)m ? col - (size_t)m * pn : NULL;
            int k = w->rice[c];
            if (k == ZERO_PARTITION) {
                memset(col, 0, len * sizeof(uint32_t));
            } else if (w->cap[c]) { /* col holds its fields; its next values over the cap, while in L1 */
                size_t taken = add_held(col, len, k, w->cap[c], w->held_at[c]);
                if (taken == HELD_OVERFLOW) return EPHYS_ERR_CORRUPT;
                w->held_at[c] += taken;
            } else { /* low bits and column fused */
                if (!read_lows3(kern, r->buf, r->len, w->lows_at[c] + (uint64_t)j0 * k, k, w->held_at[c] + j0, col,
                                len, w->gain[c], w->sum + j0, leaving, m))
                    return EPHYS_ERR_CORRUPT;
                continue;
            }
            kern->column(col, len, w->gain[c], w->sum + j0, leaving, m);
        }
        kern->transpose(w->cm + j0, pn, len, nc, w->e);
        int err = synthesize(w, kern, s, t + j0, len, top, wide, grids, dst, c0, nc);
        if (err) return err;
    }
    return EPHYS_OK;
}


/* The fields of channel c come from lane c % LANES (versions 1, 2) or from the one stream. */
static fields_t channel_fields(bitreader_t *brs, posreader_t *pr, const stream_t *s, uint32_t c)
{
    return s->version >= 3 ? (fields_t){NULL, pr} : (fields_t){&brs[c % LANES], NULL};
}

static int lpc_decode_block(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    stream_t s;
    int err = parse_stream(in, len, dst, nc, &s);
    if (err) return err;
    const kernels_t *kern = kernels();
    size_t n = s.n_samples, frame = (size_t)1 << s.frame_log2, part = (size_t)1 << s.partition_log2;
    size_t fl = n < frame ? n : frame;
    int near = s.max_error > 0;
    work_t w;
    if ((err = work_alloc(&w, fl, fl < part ? fl : part, nc, -1))) return err;
    bitreader_t brs[LANES];
    posreader_t pr = {in + STREAM_HEADER, len - STREAM_HEADER, 0, 0};
    if (s.version < 3) {
        const uint8_t *at = in + STREAM_HEADER + LANE_TABLE, *end = in + len;
        for (int l = 0; l < LANES; l++) {
            uint32_t lane_len = ephys_get_le32(in + STREAM_HEADER + 4 * l);
            if (lane_len > (size_t)(end - at)) err = EPHYS_ERR_CORRUPT;
            if (err) break;
            brs[l] = (bitreader_t){at, at + lane_len, 0, 0, 0};
            at += lane_len;
        }
        if (!err && at != end) err = EPHYS_ERR_CORRUPT;
    }
    int grids = 0;
    for (uint32_t c = 0; c < nc && !err; c++) {
        fields_t f = channel_fields(brs, &pr, &s, c);
        w.scale[c] = 1, w.base[c] = 0;
        if (field(&f, 1)) {
            w.scale[c] = field(&f, 32);
            w.base[c] = field(&f, 32);
            if (w.scale[c] < 2 || w.base[c] >= w.scale[c] || near) err = EPHYS_ERR_CORRUPT;
            grids = 1;
        }
        if (fields_err(&f)) err = EPHYS_ERR_CORRUPT;
    }
    for (size_t t0 = 0; !err && t0 < n; t0 += frame) {
        size_t nt = n - t0 < frame ? n - t0 : frame;
        memset(w.coef, 0, (size_t)EPHYS_LPC_MAX_ORDER * nc * sizeof(int32_t));
        int wide = 0, top = 0;
        if (s.version == 1) { /* channel groups one after the other, each whole frame */
            for (uint32_t cg = 0; cg < nc && !err; cg += LANES) {
                uint32_t g = nc - cg < LANES ? nc - cg : LANES;
                for (uint32_t c = cg; c < cg + g && !err; c++) {
                    fields_t f = channel_fields(brs, &pr, &s, c);
                    err = read_channel_header(&f, &s, &w, c);
                }
                for (size_t ps = 0; !err && ps < nt; ps += part) {
                    size_t pn = nt - ps < part ? nt - ps : part;
                    err = read_partition(brs, g, w.e + ps * nc + cg, pn, nc);
                }
            }
            if (!err) {
                top = frame_setup(&w, nc, s.dtype, s.shift, &wide);
                err = synthesize(&w, kern, &s, t0, nt, top, wide, grids, dst, c0, nc);
            }
        } else { /* headers, then partition by partition: a few rows of every channel at a time */
            for (uint32_t c = 0; c < nc && !err; c++) {
                fields_t f = channel_fields(brs, &pr, &s, c);
                err = read_channel_header(&f, &s, &w, c);
            }
            if (!err && t0 == 0) fill_history(&w, nc);
            if (!err) top = frame_setup(&w, nc, s.dtype, s.shift, &wide);
            for (size_t ps = 0; !err && ps < nt; ps += part) {
                size_t pn = nt - ps < part ? nt - ps : part;
                if (s.version >= 3) {
                    err = read_partition3(&pr, kern, &s, &w, t0 + ps, pn, top, wide, grids, dst, c0);
                    continue;
                }
                for (uint32_t cg = 0; cg < nc && !err; cg += LANES)
                    err = read_partition(brs, nc - cg < LANES ? nc - cg : LANES, w.e + cg, pn, nc);
                if (!err) err = synthesize(&w, kern, &s, t0 + ps, pn, top, wide, grids, dst, c0, nc);
            }
        }
        shift_history(&w, nt, nc);
    }
    /* every stream must end here: fewer than 8 padding bits, all zero */
    if (!err && s.version >= 3) {
        uint64_t rest = 8 * (uint64_t)pr.len - pr.pos;
        if (pr.err || rest >= 8 || (rest && pr_get(&pr, (int)rest))) err = EPHYS_ERR_CORRUPT;
    }
    for (int l = 0; l < LANES && !err && s.version < 3; l++) {
        bitreader_t *br = &brs[l];
        br_refill(br);
        if (br->p != br->end || br->n >= 8 || (br->n && (br->acc >> (64 - br->n)))) err = EPHYS_ERR_CORRUPT;
    }
    work_free(&w);
    return err;
}

/* ---- entry points ---- */

/* The stream header against the container's claim, before the output is allocated. */
static int lpc_check_block(const uint8_t *in, size_t len, uint64_t n_samples, uint32_t nc, int dtype)
{
    ephys_view_t claim = {NULL, dtype, n_samples, nc, 0, 0, NULL};
    stream_t s;
    return parse_stream(in, len, &claim, nc, &s);
}

static int lpc_is_lossy(const void *params) { return ((const ephys_lpc_params_t *)params)->max_error > 0; }

static const ephys_block_codec_t lpc_codec = {EPHYS_CODEC_LPC, lpc_encode_block, lpc_decode_block, lpc_min_bytes,
                                              lpc_check_block, lpc_is_lossy};

int ephys_lpc_encode(const ephys_lpc_params_t *params, const ephys_view_t *src,
                     int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                     int num_threads, uint8_t **out, size_t *out_len)
{
    if (!params_ok(params) || !src || src->dtype == EPHYS_DTYPE_FLOAT32) return EPHYS_ERR_ARGS;
    return ephys_chunk_encode(&lpc_codec, params, src, ndim, shape, flags, channels_per_block, num_threads, out,
                              out_len);
}

int ephys_lpc_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info)
{
    return ephys_chunk_parse(&lpc_codec, buf, len, info, NULL);
}

int ephys_lpc_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads)
{
    return ephys_chunk_decode(&lpc_codec, buf, len, dst, num_threads);
}

int ephys_lpc_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                            const ephys_view_t *dst, int num_threads)
{
    return ephys_chunk_decode_blocks(&lpc_codec, buf, len, first_block, n_blocks, dst, num_threads);
}
