/* Internal to the float layer of EphysLPC (floats_grid.c, floats_encode.c,
 * floats_decode.c): the sample formats, the stream's constants and what the
 * encoder and the decoder share.  The stream layout is in floats.h. */
#ifndef EPHYS_LPC_FLOATS_STREAM_H
#define EPHYS_LPC_FLOATS_STREAM_H
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <stdlib.h>
#include <string.h>

#include "floats.h"

#define HEADER 36
#define MODE_GRID 1
#define MODE_SPLIT 2
#define MODE_BOUNDED 3
#define MODE_CHANNELS 4 /* a grid per channel: a table of (step, offset) after the header */
#define MODE_RAW 5      /* the samples' bits as they are: what no model shortens costs the header only */
#define TABLE_ENTRY 16  /* bytes of a channel's entry in that table */
#define GRID_PROBE 4096 /* values of a block a grid is looked for on */
#define MAX_K 1073741824.0 /* |k| < 2^30: every prediction of the integer stream stays in int32 */
#define RICE_ESCAPE 32

/* ---- float formats ---- */

typedef struct {
    int dtype, bits, mant; /* bits of a sample; mantissa bits M with the hidden one */
    int kbits;             /* K: bits of k in split mode */
    int exp_max;           /* all-ones biased exponent (inf / NaN) */
    uint64_t sign;
    int arith;             /* float32, channel grids mode: ARITH_FLOAT (recon_bits) */
} fmt_t;

#define ARITH_DOUBLE 0
#define ARITH_FLOAT 1

static const fmt_t F32 = {EPHYS_DTYPE_FLOAT32, 32, 24, 24, 255, 0x80000000u, ARITH_DOUBLE};
static const fmt_t F64 = {EPHYS_DTYPE_FLOAT64, 64, 53, 30, 2047, 0x8000000000000000ull, ARITH_DOUBLE};

static inline const fmt_t *fmt_of(int dtype) { return dtype == EPHYS_DTYPE_FLOAT64 ? &F64 : &F32; }

static inline int biased_exp(const fmt_t *f, uint64_t b) { return (int)((b >> (f->mant - 1)) & (uint64_t)f->exp_max); }
static inline uint64_t mantissa_field(const fmt_t *f, uint64_t b) { return b & (((uint64_t)1 << (f->mant - 1)) - 1); }
static inline int is_finite(const fmt_t *f, uint64_t b) { return biased_exp(f, b) != f->exp_max; }

/* Between a sample's bits and its value, one function for both ways: with
 * value, *value = the sample of bits b; without, d rounded to the format
 * (round to nearest even, as C's conversion does).  Returns the bits. */
static inline uint64_t convert(const fmt_t *f, uint64_t b, double d, double *value)
{
    if (f->bits == 64) {
        if (value) memcpy(value, &b, 8);
        else memcpy(&b, &d, 8);
        return b;
    }
    uint32_t w = (uint32_t)b;
    float v = (float)d;
    if (value) memcpy(&v, &w, 4), *value = v;
    else memcpy(&w, &v, 4);
    return w;
}

static inline double value_of(const fmt_t *f, uint64_t b)
{
    double d;
    convert(f, b, 0.0, &d);
    return d;
}

static inline uint64_t bits_of(const fmt_t *f, double d) { return convert(f, 0, d, NULL); }

/* k * step + offset, two IEEE double operations (FP_CONTRACT off, and the
 * build passes -ffp-contract=off), rounded to the format.  With ARITH_FLOAT
 * (float32 only) the product is rounded to float32 before the addition: then
 * a float32 step and offset give what float32 arithmetic gives (k x gain +
 * offset with float32 gains and offsets, as SpikeInterface scales traces),
 * since double holds more than twice float32's bits plus two. */
static inline uint64_t recon_bits(const fmt_t *f, double step, double offset, int32_t k)
{
    volatile double p = (double)k * step; /* volatile: never fused with the addition */
    if (f->arith == ARITH_FLOAT) p = (float)p;
    return bits_of(f, p + offset);
}

/* Sign-magnitude bits -> a signed integer in the same order (-0 -> -1, +0 -> 0),
 * in uint64 arithmetic (two's complement). */
static inline uint64_t ordered(const fmt_t *f, uint64_t b)
{
    return (b & f->sign) ? ~(b & ~f->sign) : b;
}

static inline uint64_t from_ordered(const fmt_t *f, uint64_t v, int *ok)
{
    uint64_t top = (uint64_t)1 << 63;
    uint64_t mag = (v & top) ? ~v : v;
    if (f->bits == 32 && mag >= ((uint64_t)1 << 31)) *ok = 0;
    return (v & top) ? (mag | f->sign) : mag;
}

static inline uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); }
static inline int64_t unzigzag64(uint64_t u)
{
    uint64_t m = (u >> 1) ^ (0 - (u & 1));
    int64_t v;
    memcpy(&v, &m, 8);
    return v;
}

/* ---- what both directions use ---- */

/* Per channel, the map of a gappy grid: the channel's distinct grid indices
 * k[0] < k[1] < ... < k[m-1] and their coded indices j[0] < j[1] < ...
 * (values scaled from a coarser converter: Open Ephys' LFP counts of 0.195 uV
 * are 24.04 apart, so that coding k itself would waste 4.6 bits a sample). */
typedef struct {
    uint32_t *m;     /* per channel entries, 0: not mapped (j = k) */
    uint64_t *at;    /* per channel first entry in k, j */
    int32_t *k, *j;
} maps_t;

static inline void maps_free(maps_t *m)
{
    free(m->m);
    free(m->at);
    free(m->k);
    free(m->j);
    memset(m, 0, sizeof(*m));
}

static inline int32_t find_i32(const int32_t *a, uint32_t n, int32_t v) /* index of v in increasing a (present) */
{
    uint32_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= v) lo = mid;
        else hi = mid;
    }
    return (int32_t)lo;
}

/* Decode the integer stream at in (len bytes) into k (n x nc). */
static inline int decode_plane(const ephys_block_codec_t *ints, const uint8_t *in, size_t len, int32_t *k, uint64_t n,
                        uint32_t nc)
{
    ephys_view_t plane = {k, EPHYS_DTYPE_INT32, n, nc, nc, 1, NULL};
    return ints->decode_block(in, len, &plane, 0, nc);
}

/* A grid (step, offset) on which most of the block's finite samples come back
 * exactly (in f's arithmetic), looked for on up to `probe` of the count
 * samples (floats_grid.c); 0 if none.  *missed: the finite probe samples off
 * the grid (unless NULL). */
int ephys_float_find_grid(const fmt_t *f, const uint64_t *raw, size_t count, size_t probe, double *step_out,
                          double *offset_out, size_t *missed);

/* Per channel of a row-major block (n samples x nc; the first upto), a grid (steps[c],
 * offsets[c]) on which most of the channel's finite samples come back exactly
 * (a channel with at most one finite value: step 1, that value as offset);
 * 1 if every channel has one, 2 if every channel has at most 8 distinct
 * values (constants: split mode may be as short), else 0 (stops at the first
 * channel that has none). */
int ephys_float_find_channel_grids(const fmt_t *f, const uint64_t *raw, uint64_t n, uint32_t nc, uint32_t upto,
                                   double *steps, double *offsets, size_t *missed);

#endif
