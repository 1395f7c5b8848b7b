/* The kernels: the per-sample loops of encoder and decoder, compiled once per
 * instruction set (kernels.c: scalar and SSE2; kernels_avx2.c: AVX2) from the
 * bodies of kernel_bodies.h.  A coder takes one table, lpc_kernels(), when its
 * stream starts.  All are integer-exact, so every kernel writes the same bytes. */
#ifndef EPHYS_LPC_KERNELS_H
#define EPHYS_LPC_KERNELS_H
#include "ans.h"
#include "bitreader.h"
#include "bitwriter.h"
#include "stream.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define LPC_X86 1
#else
#define LPC_X86 0
#endif

/* Each channel's accumulator starts at 2^(s-1) (rounding) plus its offset term
 * d (2^s - sum a_i); both widths are filled, for the int32 and int64 paths. */
typedef struct {
    int32_t *i32;
    int64_t *i64;
} acc_init_t;

/* The capped codes tried beside Rice parameter r: (r, 2), (r - 1, 2) and
 * (r - 1, 3) as (r - cap_drop, cap_b); on the recordings and the simulated
 * probes the other pairs are almost never the shortest. */
#define CAP_TRIES 3
static const int cap_drop[CAP_TRIES] = {0, 1, 1}, cap_b[CAP_TRIES] = {2, 2, 3};

/* capped_column's result when a value does not fit 32 bits. */
#define UNARY_OVERFLOW SIZE_MAX

/* Frames are x: HIST rows of history, then the frame's rows, interleaved (time
 * outside, channels inside: one SIMD register holds the same sample of several
 * channels); coef is [order][nc] (weight of x[t - 1 - i]).  wide: accumulate
 * in int64 (the caller found that int32 could overflow). */
typedef struct {
    /* encoder: residuals e of rows x (lossless) */
    void (*residual)(const int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order, int shift, int wide,
                     int32_t lo, int32_t hi, const acc_init_t *init, int64_t *acc64, int32_t *e);
    /* decoder: rows x from residuals e (lossless); nonzero if a sample is out of range */
    int (*synth)(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order, int shift, int wide, int32_t lo,
                 int32_t hi, const acc_init_t *init, int32_t *flags, int64_t *acc64, const int32_t *e);
    /* both, near-lossless: rows x from quantized residuals q (the encoder, orig != NULL, chooses q) */
    void (*near)(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order, int shift, int32_t lo,
                 int32_t hi, const acc_init_t *init, int64_t *acc64, int32_t *q, const int32_t *orig, int64_t step);
    /* encoder: autocorrelation of each channel's x - d, lags 0..order; scratch (HIST + nt) x 8 */
    void (*autocorr)(const int32_t *x, size_t nt, uint32_t nc, int order, const int32_t *d, double *r,
                     uint32_t *scratch);
    /* encoder: each channel's neighbour gain for the frame's residuals e; nc
     * lanes, width of them per channel (its segments, version 7) */
    int (*fit_gains)(const int32_t *e, size_t nt, uint32_t nc, int m, uint32_t width, int32_t *gain, uint32_t *sums);
    /* encoder: residuals e -> coded values in place */
    void (*code_rows)(int32_t *e, size_t nt, uint32_t nc, int m, uint32_t width, const int32_t *gain,
                      uint32_t *sums);
    /* encoder: interleaved rows -> channel-major columns; decoder: columns -> rows (lane c of a
     * row from column cols[c], or c where cols is NULL) */
    void (*transpose)(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc, const uint32_t *cols, int32_t *e);
    /* encoder: a column's Rice parameter and the bits of its unary parts */
    int (*rice_parameter)(const uint32_t *u, size_t n, uint64_t *unary_bits);
    /* encoder: the unary bits of each capped code tried */
    void (*cap_costs)(const uint32_t *u, size_t n, int r, uint32_t *bits);
    /* encoder: a capped column's fields; its values over the cap moved to its front, returns how many */
    size_t (*cap_split)(uint32_t *u, size_t pn, int k, int b, uint32_t *fields);
    /* encoder: the k low bits of each value; the unary parts u >> k */
    void (*write_lows)(bitwriter_t *w, const uint32_t *u, size_t count, int k);
    void (*write_unary)(bitwriter_t *w, const uint32_t *u, size_t count, int k);
    /* decoder, versions 3, 4 and 6: the unary parts of the two areas; 0 on a corrupt stream */
    int (*unary_areas)(const uint8_t *buf, size_t len, uint64_t *pos_a, uint32_t *qa, size_t na, uint64_t *pos_b,
                       uint32_t *qb, size_t nb);
    /* decoder: a Rice column's low bits joined to its high parts q, then its
     * neighbour term (as column_residuals); nonzero on a corrupt stream */
    int (*lows_column)(const uint8_t *buf, size_t len, uint64_t lpos, int k, const uint32_t *q, uint32_t *u,
                       size_t pn, int32_t gain, uint32_t *sum, const uint32_t *leaving, int m);
    /* decoder: a capped column's fields; returns how many reach the cap */
    size_t (*capped_fields)(const uint8_t *buf, size_t len, uint64_t lpos, int k, int b, uint32_t *col, size_t pn);
    /* decoder, version 8: a rANS channel's n symbols (table: its model's) joined to
     * its k low bits at bit lpos, as capped fields (ANS_CAP); returns how many
     * reach the cap, or SIZE_MAX if the rANS words run out */
    size_t (*ans_fields)(ans_decoder_t *d, const uint32_t *table, const uint8_t *buf, size_t len, uint64_t lpos,
                         int k, uint32_t *col, size_t n);
    /* decoder: a capped column's values over the cap take their unary parts, then
     * its neighbour term (as column_residuals); returns how many unary parts were
     * taken, or UNARY_OVERFLOW */
    size_t (*capped_column)(uint32_t *col, size_t pn, int k, int b, const uint32_t *unary, int32_t gain, uint32_t *sum,
                            const uint32_t *leaving, int m);
    /* decoder: coded values -> residuals of one column, with the neighbour term */
    void (*column_residuals)(uint32_t *col, size_t pn, int32_t gain, uint32_t *sum, const uint32_t *leaving, int m);
    /* decoder: y -> x of the channels on a grid; nonzero if a y is out of bounds */
    int (*from_grid)(const int32_t *y, size_t nt, uint32_t nc, const uint32_t *scale, const uint32_t *base,
                     const int32_t *bounds, int32_t *x);
    /* decoder, versions 1 and 2: a partition of four lanes' channels side by
     * side; 0 where the lanes are too short for it (then read value by value) */
    int (*rice_lanes)(bitreader_t *r, const int *k, int32_t *out, size_t pn, uint32_t nc);
} lpc_kernels_t;

#pragma GCC visibility push(hidden) /* internal: not exported from the extension */
/* The kernels of ephys_lpc_kernel(): a coder calls this once, when its stream starts. */
const lpc_kernels_t *lpc_kernels(void);

#if LPC_X86
extern const lpc_kernels_t lpc_kernels_avx2;
#endif

#pragma GCC visibility pop

#endif
