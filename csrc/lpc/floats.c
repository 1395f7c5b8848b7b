/* EphysLPC float streams: layout in floats.h.
 *
 * Why a plane of grid indices: scaled traces (int16 x gain + offset) are
 * integers in disguise, and the integer LPC machinery (prediction across time
 * and channels, partitioned Rice / capped codes) is what codes integers well.
 * Where no grid exists (band-passed or whitened data), the block's common
 * exponent turns each float's top mantissa bits into an integer of the same
 * scale for every sample, as WavPack's float mode does, and the low bits that
 * prediction cannot reach are stored as they are.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floats.h"

#define HEADER 36
#define MODE_GRID 1
#define MODE_SPLIT 2
#define MODE_BOUNDED 3
#define MAX_K 1073741824.0 /* |k| < 2^30: every prediction of the integer stream stays in int32 */
#define GRID_PROBE 4096    /* values a grid is looked for on */
#define MIN_ON_GRID 0.6    /* fraction of the probe the grid must give back exactly */
#define RICE_ESCAPE 32

/* ---- float formats ---- */

typedef struct {
    int dtype, bits, mant; /* bits of a sample; mantissa bits M with the hidden one */
    int kbits;             /* K: bits of k in split mode */
    int exp_max;           /* all-ones biased exponent (inf / NaN) */
    uint64_t sign;
} fmt_t;

static const fmt_t F32 = {EPHYS_DTYPE_FLOAT32, 32, 24, 24, 255, 0x80000000u};
static const fmt_t F64 = {EPHYS_DTYPE_FLOAT64, 64, 53, 30, 2047, 0x8000000000000000ull};

int ephys_float_is_dtype(int dtype) { return dtype == EPHYS_DTYPE_FLOAT32 || dtype == EPHYS_DTYPE_FLOAT64; }

static const fmt_t *fmt_of(int dtype) { return dtype == EPHYS_DTYPE_FLOAT64 ? &F64 : &F32; }

static inline int biased_exp(const fmt_t *f, uint64_t b) { return (int)((b >> (f->mant - 1)) & (uint64_t)f->exp_max); }
static inline uint64_t mantissa_field(const fmt_t *f, uint64_t b) { return b & (((uint64_t)1 << (f->mant - 1)) - 1); }
static inline int is_finite(const fmt_t *f, uint64_t b) { return biased_exp(f, b) != f->exp_max; }

static inline double value_of(const fmt_t *f, uint64_t b)
{
    if (f->bits == 64) {
        double d;
        memcpy(&d, &b, 8);
        return d;
    }
    uint32_t w = (uint32_t)b;
    float v;
    memcpy(&v, &w, 4);
    return v;
}

/* The bits of d rounded to the format (round to nearest even, as C's conversion does). */
static inline uint64_t bits_of(const fmt_t *f, double d)
{
    if (f->bits == 64) {
        uint64_t b;
        memcpy(&b, &d, 8);
        return b;
    }
    float v = (float)d;
    uint32_t w;
    memcpy(&w, &v, 4);
    return w;
}

/* k * step + offset, two IEEE double operations (FP_CONTRACT off, and the
 * build passes -ffp-contract=off), rounded to the format. */
static inline uint64_t recon_bits(const fmt_t *f, double step, double offset, int32_t k)
{
    volatile double p = (double)k * step; /* volatile: never fused with the addition */
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

/* ---- views ---- */

static void load_block(const fmt_t *f, const ephys_view_t *v, uint64_t c0, uint32_t nc, uint64_t *raw)
{
    for (uint64_t t = 0; t < v->n_samples; t++)
        for (uint32_t c = 0; c < nc; c++) {
            uint64_t b;
            if (f->bits == 64)
                b = ephys_load_uint64_t(EPHYS_AT(v, uint64_t, t, c0 + c));
            else
                b = ephys_load_uint32_t(EPHYS_AT(v, uint32_t, t, c0 + c));
            raw[t * nc + c] = b;
        }
}

static void store_block(const fmt_t *f, const ephys_view_t *v, uint64_t c0, uint32_t nc, const uint64_t *raw)
{
    for (uint64_t t = 0; t < v->n_samples; t++)
        for (uint32_t c = 0; c < nc; c++) {
            if (f->bits == 64)
                ephys_store_uint64_t(EPHYS_AT(v, uint64_t, t, c0 + c), raw[t * nc + c]);
            else
                ephys_store_uint32_t(EPHYS_AT(v, uint32_t, t, c0 + c), (uint32_t)raw[t * nc + c]);
        }
}

/* ---- bits, least significant first ---- */

typedef struct {
    ephys_buf_t *out;
    uint64_t acc;
    int n;
    int err;
} bitwriter_t;

static void bw_put(bitwriter_t *w, uint64_t v, int nbits) /* nbits <= 32 */
{
    w->acc |= (v & ((1ull << nbits) - 1)) << w->n;
    w->n += nbits;
    if (w->n >= 32) { /* four whole bytes at a time */
        uint8_t bytes[4];
        ephys_put_le32(bytes, (uint32_t)w->acc);
        if (!w->err) w->err = ephys_buf_append(w->out, bytes, 4);
        w->acc >>= 32;
        w->n -= 32;
    }
}

static void bw_wide(bitwriter_t *w, uint64_t v, int nbits) /* nbits <= 64 */
{
    if (nbits > 32) {
        bw_put(w, v & 0xffffffffu, 32);
        bw_put(w, v >> 32, nbits - 32);
    } else if (nbits) {
        bw_put(w, v, nbits);
    }
}

static void bw_rice(bitwriter_t *w, uint64_t u, int r)
{
    uint64_t q = u >> r;
    if (q >= RICE_ESCAPE) {
        bw_put(w, 0, RICE_ESCAPE);
        bw_wide(w, u, 64);
        return;
    }
    bw_put(w, 0, (int)q);
    bw_put(w, 1, 1);
    bw_wide(w, u, r);
}

static void bw_finish(bitwriter_t *w)
{
    while (w->n > 0) { /* the last bits, zero-padded to a byte */
        uint8_t byte = (uint8_t)w->acc;
        if (!w->err) w->err = ephys_buf_append(w->out, &byte, 1);
        w->acc >>= 8;
        w->n -= 8;
    }
    w->n = 0;
}

typedef struct {
    const uint8_t *buf;
    size_t len;
    uint64_t pos; /* bits */
    int err;
} bitreader_t;

static uint64_t br_get(bitreader_t *r, int nbits) /* nbits <= 32 */
{
    if (!nbits) return 0;
    if (r->err || r->pos + (uint64_t)nbits > 8 * (uint64_t)r->len) {
        r->err = 1;
        return 0;
    }
    size_t byte = (size_t)(r->pos >> 3);
    int at = (int)(r->pos & 7);
    if (byte + 8 <= r->len) { /* one little-endian load: at + nbits <= 39 bits of it */
        uint64_t word = ephys_load_uint64_t(r->buf + byte);
        r->pos += (uint64_t)nbits;
        return (word >> at) & ((1ull << nbits) - 1);
    }
    uint64_t v = 0;
    for (int got = 0; got < nbits;) {
        uint64_t byte = r->buf[r->pos >> 3];
        int at = (int)(r->pos & 7), take = 8 - at < nbits - got ? 8 - at : nbits - got;
        v |= ((byte >> at) & ((1u << take) - 1)) << got;
        got += take;
        r->pos += (uint64_t)take;
    }
    return v;
}

static uint64_t br_wide(bitreader_t *r, int nbits)
{
    if (nbits <= 32) return br_get(r, nbits);
    uint64_t lo = br_get(r, 32);
    return lo | br_get(r, nbits - 32) << 32;
}

static uint64_t br_rice(bitreader_t *r, int k)
{
    uint64_t q = 0;
    while (!r->err && q < RICE_ESCAPE && !br_get(r, 1)) q++;
    if (q == RICE_ESCAPE) return br_wide(r, 64);
    return q << k | br_wide(r, k);
}

/* The Rice parameter that codes these values shortest (0..31). */
static int best_rice(const uint64_t *u, size_t n)
{
    int best = 0;
    uint64_t best_bits = UINT64_MAX;
    for (int r = 0; r < 32; r++) {
        uint64_t bits = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t q = u[i] >> r;
            bits += q >= RICE_ESCAPE ? RICE_ESCAPE + 64 : q + 1 + (uint64_t)r;
        }
        if (bits < best_bits) best_bits = bits, best = r;
    }
    return best;
}

static inline uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); }
static inline int64_t unzigzag64(uint64_t u)
{
    uint64_t m = (u >> 1) ^ (0 - (u & 1));
    int64_t v;
    memcpy(&v, &m, 8);
    return v;
}

/* ---- exceptions ---- */

typedef struct {
    uint64_t *index; /* sample index t nc + c, increasing */
    uint64_t *value; /* raw bits, or zigzag(delta) */
    uint8_t *raw;
    size_t n, cap;
} exceptions_t;

static int exc_add(exceptions_t *e, uint64_t index, int raw, uint64_t value)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 256;
        uint64_t *i = realloc(e->index, cap * sizeof(uint64_t));
        if (!i) return EPHYS_ERR_NOMEM;
        e->index = i;
        uint64_t *v = realloc(e->value, cap * sizeof(uint64_t));
        if (!v) return EPHYS_ERR_NOMEM;
        e->value = v;
        uint8_t *r = realloc(e->raw, cap);
        if (!r) return EPHYS_ERR_NOMEM;
        e->raw = r;
        e->cap = cap;
    }
    e->index[e->n] = index;
    e->value[e->n] = value;
    e->raw[e->n] = (uint8_t)raw;
    e->n++;
    return EPHYS_OK;
}

static void exc_free(exceptions_t *e)
{
    free(e->index);
    free(e->value);
    free(e->raw);
}

/* An exception for sample i whose rule gives rec instead of x. */
static int exc_mismatch(const fmt_t *f, exceptions_t *e, uint64_t i, uint64_t x, uint64_t rec)
{
    if (is_finite(f, x) && is_finite(f, rec)) {
        uint64_t d = ordered(f, x) - ordered(f, rec); /* modulo 2^64 */
        int64_t delta;
        memcpy(&delta, &d, 8);
        if (delta > -(INT64_C(1) << 31) && delta < (INT64_C(1) << 31)) return exc_add(e, i, 0, zigzag64(delta));
    }
    return exc_add(e, i, 1, x);
}

static int write_exceptions(const fmt_t *f, const exceptions_t *e, bitwriter_t *w)
{
    if (e->n > UINT32_MAX) return EPHYS_ERR_ARGS; /* the count field's width */
    uint8_t count[4];
    ephys_put_le32(count, (uint32_t)e->n);
    int err = ephys_buf_append(w->out, count, 4);
    if (err) return err;
    uint64_t *gaps = malloc((e->n ? e->n : 1) * sizeof(uint64_t)), *deltas = malloc((e->n ? e->n : 1) * sizeof(uint64_t));
    if (!gaps || !deltas) {
        free(gaps);
        free(deltas);
        return EPHYS_ERR_NOMEM;
    }
    size_t nd = 0;
    for (size_t i = 0; i < e->n; i++) {
        gaps[i] = e->index[i] - (i ? e->index[i - 1] + 1 : 0);
        if (!e->raw[i]) deltas[nd++] = e->value[i];
    }
    int rg = best_rice(gaps, e->n), rd = best_rice(deltas, nd);
    bw_put(w, (uint64_t)rg, 5);
    bw_put(w, (uint64_t)rd, 5);
    for (size_t i = 0; i < e->n; i++) {
        bw_rice(w, gaps[i], rg);
        bw_put(w, e->raw[i], 1);
        if (e->raw[i])
            bw_wide(w, e->value[i], f->bits);
        else
            bw_rice(w, e->value[i], rd);
    }
    free(gaps);
    free(deltas);
    return w->err;
}

/* ---- finding a grid ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* d rounded to `digits` significant decimal digits (gains and offsets are
 * short decimals: 0.195, 2.34375, 0.0371). */
static double decimal(double d, int digits)
{
    char s[64];
    snprintf(s, sizeof s, "%.*g", digits, d);
    return strtod(s, NULL);
}

typedef struct {
    double at;
    int64_t weight; /* + at an interval's start, - at its end */
} interval_t;

static int cmp_interval(const void *a, const void *b)
{
    const interval_t *x = a, *y = b;
    if (x->at != y->at) return (x->at > y->at) - (x->at < y->at);
    return (x->weight < y->weight) - (x->weight > y->weight); /* starts first: touching intervals overlap */
}

/* The offset that the most probe samples agree on, for this step: each value
 * u, as index k, is given back by any offset within half its ulp of u - k
 * step, so the offset covered by the most such intervals (weighted by the
 * samples) is chosen: the writer's offset up to far less than an ulp, which
 * least squares would miss by the rounding of the values. */
static double best_offset(const fmt_t *f, const double *u, const uint32_t *mult, size_t nu, double step, double anchor,
                          interval_t *iv)
{
    for (size_t i = 0; i < nu; i++) {
        double k = floor((u[i] - anchor) / step + 0.5), o = u[i] - k * step;
        double half = 0.499 * ldexp(1.0, ilogb(u[i] != 0 ? u[i] : 1.0) - (f->mant - 1));
        if (u[i] == 0) half = 0;
        iv[2 * i] = (interval_t){o - half, (int64_t)mult[i]};
        iv[2 * i + 1] = (interval_t){o + half, -(int64_t)mult[i]};
    }
    qsort(iv, 2 * nu, sizeof(interval_t), cmp_interval);
    int64_t cover = 0, most = -1;
    double best = anchor;
    for (size_t i = 0; i + 1 < 2 * nu; i++) {
        cover += iv[i].weight;
        if (cover > most) most = cover, best = 0.5 * (iv[i].at + iv[i + 1].at);
    }
    return best;
}

/* How many of the probe's samples (distinct values u, each seen mult times) the grid gives back. */
static size_t exact_count(const fmt_t *f, const double *u, const uint64_t *ubits, const uint32_t *mult, size_t n,
                          double step, double offset)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        double kd = floor((u[i] - offset) / step + 0.5);
        if (!(fabs(kd) < MAX_K)) continue;
        if (recon_bits(f, step, offset, (int32_t)kd) == ubits[i]) hits += mult[i];
    }
    return hits;
}

/* The exact grid near step s0 that gives back the most probe samples
 * (their count; *step, *offset set when any): least squares for the step,
 * then its float and short decimal neighbours (writers' gains: 0.195 as a
 * float32, 2.34375), each with the offset most samples agree on and its
 * short decimals. */
static size_t try_step(const fmt_t *f, const double *u, const uint64_t *ub, const uint32_t *mult, size_t nu, size_t n,
                       double s0, interval_t *iv, double *step_out, double *offset_out)
{
    double mk = 0, mu = 0, skk = 0, sku = 0;
    for (size_t i = 0; i < nu; i++) mk += floor((u[i] - u[0]) / s0 + 0.5), mu += u[i] - u[0];
    mk /= (double)nu, mu /= (double)nu;
    for (size_t i = 0; i < nu; i++) {
        double k = floor((u[i] - u[0]) / s0 + 0.5) - mk;
        skk += k * k, sku += k * (u[i] - u[0] - mu);
    }
    double s = skk > 0 ? sku / skk : s0;
    double a = u[0] + mu - s * mk; /* the value at index 0 */
    if (!(s > 0) || !isfinite(s) || !isfinite(a)) return 0;
    double zero = a - s * floor(a / s + 0.5); /* the grid point nearest 0 */
    double steps[16];
    int n_steps = 0;
    steps[n_steps++] = s;
    steps[n_steps++] = (double)(float)s;
    for (int digits = 3; digits <= 9; digits++) steps[n_steps++] = decimal(s, digits);
    size_t best = 0, enough = n - n / 64; /* good enough: samples nudged off the grid are exceptions anyway */
    for (int i = 0; i < n_steps && best < enough; i++) {
        double step = steps[i], offsets[16];
        if (!(step > 0) || !isfinite(step)) continue;
        int no = 0;
        offsets[no++] = 0.0;
        offsets[no++] = best_offset(f, u, mult, nu, step, zero, iv);
        offsets[no++] = (double)(float)offsets[1];
        for (int digits = 1; digits <= 8; digits++) offsets[no++] = decimal(offsets[1], digits);
        for (int j = 0; j < no && best < enough; j++) {
            if (!isfinite(offsets[j])) continue;
            size_t hits = exact_count(f, u, ub, mult, nu, step, offsets[j]);
            if (hits > best) best = hits, *step_out = step, *offset_out = offsets[j];
        }
    }
    /* the writer's offset is a short decimal at some grid point, which in
     * float64 no other grid point's offset replaces exactly */
    double step = *step_out, base = best ? *offset_out : zero;
    for (int m = -32; m <= 32 && best && best < enough; m++)
        for (int digits = 2; digits <= 4 && best < enough; digits++) {
            double offset = decimal(base + m * step, digits);
            size_t hits = isfinite(offset) ? exact_count(f, u, ub, mult, nu, step, offset) : 0;
            if (hits > best) best = hits, *offset_out = offset;
        }
    return best;
}

/* A grid (step, offset) on which at least MIN_ON_GRID of up to GRID_PROBE
 * finite samples of the block come back exactly; 0 if none. */
static int find_grid(const fmt_t *f, const uint64_t *raw, size_t count, double *step_out, double *offset_out)
{
    size_t probe = count < GRID_PROBE ? count : GRID_PROBE, n = 0;
    double *u = malloc((probe ? probe : 1) * sizeof(double));
    uint64_t *ub = malloc((probe ? probe : 1) * sizeof(uint64_t));
    double *d = malloc((probe ? probe : 1) * sizeof(double));
    uint32_t *mult = malloc((probe ? probe : 1) * sizeof(uint32_t));
    interval_t *iv = malloc((probe ? probe : 1) * 2 * sizeof(interval_t));
    int found = 0;
    if (!u || !ub || !d || !mult || !iv) goto done;
    for (size_t i = 0; i < probe; i++) {
        uint64_t b = raw[(size_t)((double)i * (double)count / (double)probe)];
        if (is_finite(f, b)) u[n++] = value_of(f, b);
    }
    qsort(u, n, sizeof(double), cmp_double);
    size_t nu = 0;
    for (size_t i = 0; i < n; i++) {
        if (nu && u[i] == u[nu - 1]) {
            mult[nu - 1]++;
            continue;
        }
        mult[nu] = 1;
        u[nu++] = u[i];
    }
    /* values far beyond the typical magnitude (a huge outlier, the largest
     * float) say nothing about the grid: they are exceptions anyway */
    for (size_t i = 0; i < nu; i++) d[i] = fabs(u[i]);
    qsort(d, nu, sizeof(double), cmp_double);
    double typical = d[nu / 2] > DBL_MIN ? d[nu / 2] : DBL_MIN, limit = ldexp(typical, 20);
    size_t kept = 0;
    for (size_t i = 0; i < nu; i++)
        if (fabs(u[i]) <= limit) u[kept] = u[i], mult[kept++] = mult[i];
    nu = kept;
    if (nu < 8) goto done;
    for (size_t i = 0; i < nu; i++) ub[i] = bits_of(f, u[i]);
    double maxabs = fabs(u[0]) > fabs(u[nu - 1]) ? fabs(u[0]) : fabs(u[nu - 1]);
    /* differences of a few ulps are nudges off the grid, not its step */
    double floor_gap = ldexp(16.0, ilogb(maxabs) - (f->mant - 1));
    double dmin = HUGE_VAL;
    size_t nd = 0;
    for (size_t i = 1; i < nu; i++) {
        double g = u[i] - u[i - 1];
        if (g > floor_gap) {
            d[nd++] = g;
            if (g < dmin) dmin = g;
        }
    }
    if (nd < 4) goto done;
    double sum = 0;
    size_t ns = 0;
    for (size_t i = 0; i < nd; i++)
        if (d[i] < 1.5 * dmin) sum += d[i], ns++;
    /* the step: the smallest gap, or a fraction of it where the values skip
     * grid points (a gappy grid: converter levels 24.04 steps apart, whose
     * own spacing is no exact grid) */
    size_t best = 0;
    for (int parts = 1; parts <= 64 && (double)best < MIN_ON_GRID * (double)n; parts++) {
        double trial = (parts == 1 ? sum / (double)ns : dmin) / parts;
        size_t multiples = 0;
        for (size_t i = 0; i < nd; i++) multiples += fabs(d[i] / trial - floor(d[i] / trial + 0.5)) < 0.01;
        /* nearly all: a gappy grid's spacing fits 24 of 25 gaps (and the
         * values off any grid, a few) */
        if (multiples < 0.98 * (double)nd || !((u[nu - 1] - u[0]) / trial < MAX_K)) continue;
        best = try_step(f, u, ub, mult, nu, n, trial, iv, step_out, offset_out);
    }
    found = (double)best >= MIN_ON_GRID * (double)n;
done:
    free(iv);
    free(mult);
    free(u);
    free(ub);
    free(d);
    return found;
}

/* ---- encoder ---- */

/* Per channel, the map of a gappy grid: the channel's distinct grid indices
 * k[0] < k[1] < ... < k[m-1] and their coded indices j[0] < j[1] < ...
 * (values scaled from a coarser converter: Open Ephys' LFP counts of 0.195 uV
 * are 24.04 apart, so that coding k itself would waste 4.6 bits a sample). */
typedef struct {
    uint32_t *m;     /* per channel entries, 0: not mapped (j = k) */
    uint64_t *at;    /* per channel first entry in k, j */
    int32_t *k, *j;
} maps_t;

typedef struct {
    const fmt_t *f;
    uint64_t n;
    uint32_t nc;
    uint64_t *raw;   /* the block's bits, row-major */
    int32_t *k;      /* the grid indices */
    int32_t *plane;  /* what the integer stream codes: k, or j through the maps */
    maps_t maps;     /* grid mode: m NULL when no channel is mapped */
    double limit;    /* bounded mode: larger magnitudes are exceptions */
    exceptions_t exc;
} block_t;

static void maps_free(maps_t *m)
{
    free(m->m);
    free(m->at);
    free(m->k);
    free(m->j);
    memset(m, 0, sizeof(*m));
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int32_t find_i32(const int32_t *a, uint32_t n, int32_t v) /* index of v in increasing a (present) */
{
    uint32_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] <= v) lo = mid;
        else hi = mid;
    }
    return (int32_t)lo;
}

/* Maps for the channels whose distinct indices sit on a coarser grid (a
 * typical gap of 1.5 or more), and the plane of coded indices. */
static int build_maps(block_t *blk)
{
    uint32_t nc = blk->nc;
    uint64_t n = blk->n;
    maps_t *mp = &blk->maps;
    mp->m = calloc(nc ? nc : 1, sizeof(uint32_t));
    mp->at = calloc(nc ? nc : 1, sizeof(uint64_t));
    mp->k = malloc(n * nc * sizeof(int32_t) + 4);
    mp->j = malloc(n * nc * sizeof(int32_t) + 4);
    int32_t *col = malloc(n * sizeof(int32_t) + 4), *gaps = malloc(n * sizeof(int32_t) + 4);
    int err = mp->m && mp->at && mp->k && mp->j && col && gaps ? EPHYS_OK : EPHYS_ERR_NOMEM;
    uint64_t used = 0, mapped = 0;
    uint8_t *seen = NULL;
    size_t seen_cap = 0;
    for (uint32_t c = 0; c < nc && !err; c++) {
        int32_t lo = INT32_MAX, hi = INT32_MIN;
        for (uint64_t t = 0; t < n; t++) {
            int32_t v = col[t] = blk->k[t * nc + c];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        /* the distinct values, in order: marked in a table over their range
         * where it is short, else sorted */
        uint32_t m = 0;
        uint64_t range = (uint64_t)((int64_t)hi - lo) + 1;
        if (range <= 8 * n + 65536) {
            if (range > seen_cap) {
                free(seen);
                seen = malloc(range);
                seen_cap = seen ? range : 0;
                if (!seen) {
                    err = EPHYS_ERR_NOMEM;
                    break;
                }
            }
            memset(seen, 0, range);
            for (uint64_t t = 0; t < n; t++) seen[col[t] - lo] = 1;
            for (uint64_t v = 0; v < range; v++)
                if (seen[v]) col[m++] = (int32_t)(lo + (int64_t)v);
        } else {
            qsort(col, n, sizeof(int32_t), cmp_i32);
            for (uint64_t t = 0; t < n; t++)
                if (!m || col[t] != col[m - 1]) col[m++] = col[t];
        }
        mp->at[c] = used;
        if (m < 3) continue;
        for (uint32_t i = 1; i < m; i++) gaps[i - 1] = col[i] - col[i - 1]; /* |k| < 2^30: no overflow */
        qsort(gaps, m - 1, sizeof(int32_t), cmp_i32);
        double span = (double)col[m - 1] - col[0], typical = gaps[(m - 1) / 4];
        double r = span / floor(span / typical + 0.5);
        if (!(r >= 1.5)) continue;
        int32_t *ks = mp->k + used, *js = mp->j + used;
        int fits = 1; /* every j within the decoder's |j| < 2^30 (j - j[0] <= k - k[0]) */
        for (uint32_t i = 0; i < m && fits; i++) {
            ks[i] = col[i];
            double j = i ? js[0] + floor((col[i] - col[0]) / r + 0.5) : floor(col[0] / r + 0.5);
            if (i && j <= js[i - 1]) j = (double)js[i - 1] + 1; /* one-to-one */
            fits = fabs(j) < MAX_K;
            js[i] = fits ? (int32_t)j : 0;
        }
        if (!fits) continue;
        mp->m[c] = m;
        used += m;
        mapped++;
    }
    for (uint64_t i = 0; i < n * nc && !err; i++) {
        uint32_t c = (uint32_t)(i % nc);
        blk->plane[i] = mp->m[c] ? mp->j[mp->at[c] + find_i32(mp->k + mp->at[c], mp->m[c], blk->k[i])] : blk->k[i];
    }
    free(seen);
    free(col);
    free(gaps);
    if (!err && !mapped) maps_free(mp);
    return err;
}

/* Per channel 1 bit mapped; if mapped: rice(m - 3, 4), first k and first j
 * (zigzag, 32 bits each), then per later entry rice(k gap - 1, rk) and
 * rice(j gap - 1, rj), rk and rj (5 bits each) first.  With no maps at all,
 * one 0 bit. */
static void write_maps(const block_t *blk, bitwriter_t *w)
{
    const maps_t *mp = &blk->maps;
    bw_put(w, mp->m != NULL, 1);
    if (!mp->m) return;
    uint64_t total = 0;
    for (uint32_t c = 0; c < blk->nc; c++) total += mp->m[c] ? mp->m[c] - 1 : 0;
    uint64_t *kg = malloc(total * 8 + 8), *jg = malloc(total * 8 + 8);
    if (!kg || !jg) {
        w->err = EPHYS_ERR_NOMEM;
        free(kg);
        free(jg);
        return;
    }
    uint64_t g = 0;
    for (uint32_t c = 0; c < blk->nc; c++)
        for (uint32_t i = 1; i < mp->m[c]; i++, g++) {
            kg[g] = (uint64_t)((int64_t)mp->k[mp->at[c] + i] - mp->k[mp->at[c] + i - 1] - 1);
            jg[g] = (uint64_t)((int64_t)mp->j[mp->at[c] + i] - mp->j[mp->at[c] + i - 1] - 1);
        }
    int rk = best_rice(kg, total), rj = best_rice(jg, total);
    bw_put(w, (uint64_t)rk, 5);
    bw_put(w, (uint64_t)rj, 5);
    g = 0;
    for (uint32_t c = 0; c < blk->nc; c++) {
        uint32_t m = mp->m[c];
        bw_put(w, m > 0, 1);
        if (!m) continue;
        bw_rice(w, m - 3, 4);
        bw_put(w, zigzag64(mp->k[mp->at[c]]) & 0xffffffffu, 32);
        bw_put(w, zigzag64(mp->j[mp->at[c]]) & 0xffffffffu, 32);
        for (uint32_t i = 1; i < m; i++, g++) {
            bw_rice(w, kg[g], rk);
            bw_rice(w, jg[g], rj);
        }
    }
    free(kg);
    free(jg);
}

static void write_header(uint8_t *h, const fmt_t *f, int mode, uint64_t n, uint32_t nc, double step, double offset,
                         int top_exp)
{
    memset(h, 0, HEADER);
    h[0] = EPHYS_LPC_FLOAT_VERSION;
    h[1] = (uint8_t)f->dtype;
    h[2] = (uint8_t)mode;
    ephys_put_le32(h + 4, (uint32_t)n);
    ephys_put_le32(h + 8, nc);
    uint64_t b;
    memcpy(&b, &step, 8);
    ephys_put_le64(h + 12, b);
    memcpy(&b, &offset, 8);
    ephys_put_le64(h + 20, b);
    h[28] = (uint8_t)(top_exp & 0xff);
    h[29] = (uint8_t)(top_exp >> 8);
}

/* Header, the integer stream of blk->k, the exceptions and the extra bits. */
static int write_stream(const ephys_float_coding_t *fc, const void *int_params, const block_t *blk, int mode,
                        double step, double offset, int top_exp, ephys_buf_t *out)
{
    uint8_t h[HEADER];
    write_header(h, blk->f, mode, blk->n, blk->nc, step, offset, top_exp);
    int err = ephys_buf_append(out, h, HEADER);
    if (err) return err;
    size_t len_at = out->len - 4;
    ephys_view_t plane = {blk->plane, EPHYS_DTYPE_INT32, blk->n, blk->nc, blk->nc, 1, NULL};
    if ((err = fc->ints->encode_block(int_params, &plane, 0, blk->nc, out))) return err;
    size_t int_len = out->len - len_at - 4;
    if (int_len > UINT32_MAX) return EPHYS_ERR_ARGS;
    ephys_put_le32(out->data + len_at, (uint32_t)int_len);
    bitwriter_t w = {out, 0, 0, 0};
    if ((err = write_exceptions(blk->f, &blk->exc, &w))) return err;
    if (mode == MODE_GRID) write_maps(blk, &w);
    if (mode == MODE_SPLIT) {
        const fmt_t *f = blk->f;
        size_t e = 0;
        for (uint64_t i = 0; i < blk->n * blk->nc; i++) {
            if (e < blk->exc.n && blk->exc.index[e] == i) {
                e++;
                continue;
            }
            int32_t k = blk->k[i];
            if (!k) continue;
            uint32_t mag = k < 0 ? (uint32_t)0 - (uint32_t)k : (uint32_t)k;
            int b = 32 - __builtin_clz(mag), s = f->mant - b;
            uint64_t full = mantissa_field(f, blk->raw[i]) | (uint64_t)1 << (f->mant - 1);
            bw_wide(&w, full & (((uint64_t)1 << s) - 1), s);
        }
    }
    bw_finish(&w);
    return w.err;
}

static int encode_grid(const ephys_float_coding_t *fc, block_t *blk, double step, double offset, ephys_buf_t *out)
{
    const fmt_t *f = blk->f;
    int err = EPHYS_OK;
    for (uint32_t c = 0; c < blk->nc && !err; c++) {
        int32_t prev = 0;
        for (uint64_t t = 0; t < blk->n && !err; t++) {
            uint64_t i = t * blk->nc + c;
            uint64_t x = blk->raw[i];
            double kd = is_finite(f, x) ? floor((value_of(f, x) - offset) / step + 0.5) : 0;
            if (!is_finite(f, x) || !(fabs(kd) < MAX_K)) {
                blk->k[i] = prev;
                continue;
            }
            blk->k[i] = prev = (int32_t)kd;
        }
    }
    /* exceptions in sample order */
    for (uint64_t i = 0; i < blk->n * blk->nc && !err; i++) {
        uint64_t rec = recon_bits(f, step, offset, blk->k[i]);
        if (rec != blk->raw[i]) err = exc_mismatch(f, &blk->exc, i, blk->raw[i], rec);
    }
    if (!err) err = build_maps(blk);
    return err ? err : write_stream(fc, fc->grid_params, blk, MODE_GRID, step, offset, 0, out);
}

static int encode_split(const ephys_float_coding_t *fc, block_t *blk, ephys_buf_t *out)
{
    const fmt_t *f = blk->f;
    int err = EPHYS_OK;
    /* the top exponent: the samples with an exponent in (top - K, top] are
     * coded, the others are exceptions; where they are does not change the
     * cost of the coded ones (each costs its own mantissa bits below the
     * prediction error), so top is where the window holds the most samples
     * (the highest such: one huge value must not push the rest out) */
    uint64_t *count = calloc((size_t)f->exp_max + 1, sizeof(uint64_t)), total = blk->n * blk->nc;
    if (!count) return EPHYS_ERR_NOMEM;
    for (uint64_t i = 0; i < total; i++) count[biased_exp(f, blk->raw[i])]++;
    int top = 1;
    uint64_t best = 0, window = 0;
    for (int e = 1; e < f->exp_max; e++) {
        window += count[e];
        if (e - f->kbits >= 1) window -= count[e - f->kbits];
        if (count[e] && window >= best) best = window, top = e;
    }
    free(count);
    int32_t *prev = calloc(blk->nc ? blk->nc : 1, sizeof(int32_t));
    if (!prev) return EPHYS_ERR_NOMEM;
    for (uint64_t i = 0; i < blk->n * blk->nc && !err; i++) {
        uint64_t x = blk->raw[i];
        uint32_t c = (uint32_t)(i % blk->nc);
        int e = biased_exp(f, x), s = top - e + (f->mant - f->kbits);
        if (x == 0) {
            blk->k[i] = prev[c] = 0;
        } else if (e == 0 || e == f->exp_max || e > top || s >= f->mant) { /* subnormal, inf, NaN, -0, outlier, tiny */
            blk->k[i] = prev[c];
            err = exc_add(&blk->exc, i, 1, x);
        } else {
            uint64_t m = mantissa_field(f, x) | (uint64_t)1 << (f->mant - 1);
            int32_t k = (int32_t)(m >> s);
            blk->k[i] = prev[c] = (x & f->sign) ? -k : k;
        }
    }
    free(prev);
    memcpy(blk->plane, blk->k, blk->n * blk->nc * sizeof(int32_t));
    return err ? err : write_stream(fc, fc->wide_params, blk, MODE_SPLIT, 0.0, 0.0, top, out);
}

/* Decode the integer stream at in (len bytes) into k (n x nc). */
static int decode_plane(const ephys_block_codec_t *ints, const uint8_t *in, size_t len, int32_t *k, uint64_t n,
                        uint32_t nc)
{
    ephys_view_t plane = {k, EPHYS_DTYPE_INT32, n, nc, nc, 1, NULL};
    return ints->decode_block(in, len, &plane, 0, nc);
}

/* Bounded: k = round((x - offset) / step) coded with the integer stream's
 * loop bound near (0: no loop, the grid is the quantizer).  Every finite
 * sample whose reconstruction misses the bound (none, by the choice of step;
 * checked all the same) is an exception, so the bound holds for every sample. */
static int encode_bounded(const ephys_float_coding_t *fc, block_t *blk, const void *int_params, double step,
                          double offset, ephys_buf_t *out)
{
    const fmt_t *f = blk->f;
    uint64_t total = blk->n * blk->nc;
    for (uint32_t c = 0; c < blk->nc; c++) {
        int32_t prev = 0;
        for (uint64_t t = 0; t < blk->n; t++) {
            uint64_t i = t * blk->nc + c, x = blk->raw[i];
            if (is_finite(f, x) && fabs(value_of(f, x)) <= blk->limit)
                prev = (int32_t)floor((value_of(f, x) - offset) / step + 0.5);
            blk->k[i] = prev;
        }
    }
    /* the decoded indices: the loop moved them by up to its bound */
    uint8_t h[HEADER];
    ephys_buf_t ints = {0};
    ephys_view_t plane = {blk->k, EPHYS_DTYPE_INT32, blk->n, blk->nc, blk->nc, 1, NULL};
    int err = fc->ints->encode_block(int_params, &plane, 0, blk->nc, &ints);
    int32_t *dec = err ? NULL : malloc(total * sizeof(int32_t) + 1);
    if (!err && !dec) err = EPHYS_ERR_NOMEM;
    if (!err) err = decode_plane(fc->ints, ints.data, ints.len, dec, blk->n, blk->nc);
    for (uint64_t i = 0; i < total && !err; i++) {
        uint64_t x = blk->raw[i], rec = recon_bits(f, step, offset, dec[i]);
        if (rec == x) continue;
        if (!is_finite(f, x) || !(fabs(value_of(f, rec) - value_of(f, x)) <= fc->max_error))
            err = exc_add(&blk->exc, i, 1, x);
    }
    if (!err) {
        write_header(h, f, MODE_BOUNDED, blk->n, blk->nc, step, offset, 0);
        ephys_put_le32(h + 32, (uint32_t)ints.len);
        if (ints.len > UINT32_MAX) err = EPHYS_ERR_ARGS;
    }
    if (!err) err = ephys_buf_append(out, h, HEADER);
    if (!err) err = ephys_buf_append(out, ints.data, ints.len);
    if (!err) {
        bitwriter_t w = {out, 0, 0, 0};
        err = write_exceptions(f, &blk->exc, &w);
        bw_finish(&w);
        if (!err) err = w.err;
    }
    free(ints.data);
    free(dec);
    return err;
}

/* The block coded both ways (the fine grid inside the prediction loop, and
 * the coarse grid alone), the shorter kept; or losslessly when the bound is
 * below the data's own resolution or its range would not fit the indices. */
static int encode_bounded_best(const ephys_float_coding_t *fc, block_t *blk, ephys_buf_t *out, int *done)
{
    const fmt_t *f = blk->f;
    /* the range the indices cover: every finite value, unless the fine grid
     * would not fit it: then the largest exponents (outliers, at most 1/64 of
     * the samples) are peeled off as exceptions until it does */
    uint64_t *count = calloc((size_t)f->exp_max + 1, sizeof(uint64_t)), total = blk->n * blk->nc, above = 0;
    if (!count) return EPHYS_ERR_NOMEM;
    for (uint64_t i = 0; i < total; i++) count[biased_exp(f, blk->raw[i])]++;
    int e = f->exp_max - 1, fits = 0;
    double maxabs = 0, budget = 0;
    while (e > 0 && !count[e]) e--;
    for (;;) {
        maxabs = e > 0 ? ldexp(1.0, e - (f->exp_max >> 1) + 1) : 0; /* above every value of exponent e */
        double top = maxabs + fc->max_error;
        /* rounding to the format moves a value by up to half an ulp, and the
         * double arithmetic by far less: the step leaves a whole ulp for both */
        double margin = ldexp(1.0, ilogb(top > 0 ? top : 1.0) - (f->mant - 1)) + top * 0x1p-48;
        budget = fc->max_error - margin;
        fits = budget > 0 && maxabs / (budget / (EPHYS_LPC_FLOAT_LOOP_K + 0.5)) < MAX_K / 2;
        if (fits || e <= 0 || above + count[e] > total / 64) break;
        above += count[e--];
        while (e > 0 && !count[e]) e--;
    }
    free(count);
    blk->limit = maxabs;
    *done = 0;
    if (!fits || !fc->near_params) return EPHYS_OK;
    size_t at = out->len;
    int err = encode_bounded(fc, blk, fc->near_params, budget / (EPHYS_LPC_FLOAT_LOOP_K + 0.5), 0.0, out);
    if (err) return err;
    block_t again = *blk;
    memset(&again.exc, 0, sizeof(again.exc));
    ephys_buf_t other = {0};
    err = encode_bounded(fc, &again, fc->wide_params, 2 * budget, 0.0, &other);
    if (!err && other.len < out->len - at) {
        out->len = at;
        err = ephys_buf_append(out, other.data, other.len);
    }
    exc_free(&again.exc);
    free(other.data);
    *done = !err;
    return err;
}

int ephys_lpc_float_encode_block(const ephys_float_coding_t *fc, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                                 ephys_buf_t *out)
{
    if (!ephys_float_is_dtype(src->dtype) || src->n_samples > UINT32_MAX) return EPHYS_ERR_ARGS;
    const fmt_t *f = fmt_of(src->dtype);
    uint64_t total = src->n_samples * nc;
    if (nc && src->n_samples > SIZE_MAX / 8 / nc) return EPHYS_ERR_NOMEM;
    block_t blk = {f, src->n_samples, nc, malloc(total * 8 + 1), malloc(total * 4 + 1), malloc(total * 4 + 1), {0}, 0, {0}};
    int err = blk.raw && blk.k && blk.plane ? EPHYS_OK : EPHYS_ERR_NOMEM;
    if (!err) load_block(f, src, c0, nc, blk.raw);
    int done = 0;
    size_t start = out->len;
    if (!err && fc->max_error > 0) err = encode_bounded_best(fc, &blk, out, &done);
    double step = 0, offset = 0;
    int grid = !err && find_grid(f, blk.raw, total, &step, &offset);
    if (!err && !done) {
        err = grid ? encode_grid(fc, &blk, step, offset, out) : encode_split(fc, &blk, out);
    } else if (grid) { /* data on a grid coarser than the bound: lossless may be shorter */
        ephys_buf_t other = {0};
        exc_free(&blk.exc);
        memset(&blk.exc, 0, sizeof(blk.exc));
        err = encode_grid(fc, &blk, step, offset, &other);
        if (!err && other.len < out->len - start) {
            out->len = start;
            err = ephys_buf_append(out, other.data, other.len);
        }
        free(other.data);
    }
    exc_free(&blk.exc);
    maps_free(&blk.maps);
    free(blk.raw);
    free(blk.k);
    free(blk.plane);
    return err;
}

/* ---- decoder ---- */

/* The maps written by write_maps; every field checked (entries within the
 * channel's sample count, both lists strictly increasing within |v| < 2^30). */
static int read_maps(bitreader_t *r, uint64_t n, uint32_t nc, maps_t *mp)
{
    memset(mp, 0, sizeof(*mp));
    if (!br_get(r, 1)) return r->err ? EPHYS_ERR_CORRUPT : EPHYS_OK;
    int rk = (int)br_get(r, 5), rj = (int)br_get(r, 5);
    mp->m = calloc(nc ? nc : 1, sizeof(uint32_t));
    mp->at = calloc(nc ? nc : 1, sizeof(uint64_t));
    if (!mp->m || !mp->at) return EPHYS_ERR_NOMEM;
    uint64_t used = 0, cap = 0;
    for (uint32_t c = 0; c < nc && !r->err; c++) {
        mp->at[c] = used;
        if (!br_get(r, 1)) continue;
        uint64_t m = br_rice(r, 4) + 3;
        /* each entry takes at least 2 bits: bounded by the input as well */
        if (r->err || m > n || m > 8 * (uint64_t)r->len - r->pos) return EPHYS_ERR_CORRUPT;
        if (used + m > cap) {
            cap = 2 * (used + m);
            int32_t *k = realloc(mp->k, cap * sizeof(int32_t)), *j = k ? realloc(mp->j, cap * sizeof(int32_t)) : NULL;
            if (k) mp->k = k;
            if (j) mp->j = j;
            if (!k || !j) return EPHYS_ERR_NOMEM;
        }
        int64_t kv = unzigzag64(br_get(r, 32)), jv = unzigzag64(br_get(r, 32));
        for (uint64_t i = 0; i < m && !r->err; i++) {
            if (i) {
                kv += (int64_t)(br_rice(r, rk) & 0x7fffffff) + 1; /* masked: the bound below catches it */
                jv += (int64_t)(br_rice(r, rj) & 0x7fffffff) + 1;
            }
            if (!(fabs((double)kv) < MAX_K) || !(fabs((double)jv) < MAX_K)) return EPHYS_ERR_CORRUPT;
            mp->k[used + i] = (int32_t)kv;
            mp->j[used + i] = (int32_t)jv;
        }
        mp->m[c] = (uint32_t)m;
        used += m;
    }
    return r->err ? EPHYS_ERR_CORRUPT : EPHYS_OK;
}

typedef struct {
    const fmt_t *f;
    int mode, top_exp;
    uint64_t n;
    uint32_t nc;
    double step, offset;
    size_t int_len;
} header_t;

static int parse_header(const uint8_t *in, size_t len, uint64_t n_samples, uint32_t nc, int dtype, header_t *h)
{
    if (len < HEADER) return EPHYS_ERR_TRUNCATED;
    if (in[0] != EPHYS_LPC_FLOAT_VERSION) return EPHYS_ERR_VERSION;
    if (in[1] != dtype || !ephys_float_is_dtype(dtype)) return EPHYS_ERR_CORRUPT;
    h->f = fmt_of(dtype);
    h->mode = in[2];
    h->n = ephys_get_le32(in + 4);
    h->nc = ephys_get_le32(in + 8);
    uint64_t b = ephys_get_le64(in + 12);
    memcpy(&h->step, &b, 8);
    b = ephys_get_le64(in + 20);
    memcpy(&h->offset, &b, 8);
    h->top_exp = in[28] | in[29] << 8;
    h->int_len = ephys_get_le32(in + 32);
    if (in[3] || in[30] || in[31] || h->n != n_samples || h->nc != nc || h->mode < MODE_GRID ||
        h->mode > MODE_BOUNDED || h->int_len > len - HEADER || len - HEADER - h->int_len < 4)
        return EPHYS_ERR_CORRUPT;
    if (h->mode == MODE_SPLIT) {
        if (h->top_exp < 1 || h->top_exp >= h->f->exp_max || h->step != 0 || h->offset != 0) return EPHYS_ERR_CORRUPT;
    } else if (h->top_exp || !(h->step > 0) || !isfinite(h->step) || !isfinite(h->offset)) {
        return EPHYS_ERR_CORRUPT;
    }
    return EPHYS_OK;
}

/* The float header, and the integer stream's own header, against the container's claim. */
static int check_stream(const ephys_block_codec_t *ints, const uint8_t *in, size_t len, uint64_t n_samples,
                        uint32_t nc, int dtype, header_t *h)
{
    int err = parse_header(in, len, n_samples, nc, dtype, h);
    if (err) return err;
    if (h->int_len < ints->min_block_bytes(n_samples, nc)) return EPHYS_ERR_CORRUPT;
    return ints->check_block ? ints->check_block(in + HEADER, h->int_len, n_samples, nc, EPHYS_DTYPE_INT32) : EPHYS_OK;
}

int ephys_lpc_float_check_block(const ephys_block_codec_t *ints, const uint8_t *in, size_t len, uint64_t n_samples,
                                uint32_t nc, int dtype)
{
    header_t h;
    return check_stream(ints, in, len, n_samples, nc, dtype, &h);
}

int ephys_lpc_float_decode_block(const ephys_block_codec_t *ints, const uint8_t *in, size_t len,
                                 const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    header_t h;
    int err = check_stream(ints, in, len, dst->n_samples, nc, dst->dtype, &h);
    if (err) return err;
    const fmt_t *f = h.f;
    uint64_t total = h.n * nc;
    if (nc && h.n > SIZE_MAX / 8 / nc) return EPHYS_ERR_NOMEM;
    int32_t *k = malloc(total * 4 + 1);
    uint64_t *raw = malloc(total * 8 + 1);
    if (!k || !raw) err = EPHYS_ERR_NOMEM;
    if (!err) err = decode_plane(ints, in + HEADER, h.int_len, k, h.n, nc);
    const uint8_t *rest = in + HEADER + h.int_len;
    size_t rest_len = len - HEADER - h.int_len;
    uint64_t n_exc = err ? 0 : ephys_get_le32(rest);
    if (n_exc > total) err = EPHYS_ERR_CORRUPT;
    bitreader_t r = {rest + 4, rest_len - 4, 0, 0};
    uint64_t *exc_index = NULL, *exc_value = NULL;
    uint8_t *exc_raw = NULL;
    /* each exception takes at least 2 bits: bounded by the input, not the header */
    if (!err && n_exc > 8 * (uint64_t)(rest_len - 4) / 2) err = EPHYS_ERR_CORRUPT;
    if (!err) {
        exc_index = malloc((n_exc ? n_exc : 1) * 8);
        exc_value = malloc((n_exc ? n_exc : 1) * 8);
        exc_raw = malloc(n_exc ? n_exc : 1);
        if (!exc_index || !exc_value || !exc_raw) err = EPHYS_ERR_NOMEM;
    }
    if (!err) {
        int rg = (int)br_get(&r, 5), rd = (int)br_get(&r, 5);
        uint64_t next = 0;
        for (uint64_t e = 0; e < n_exc && !r.err; e++) {
            uint64_t gap = br_rice(&r, rg);
            if (gap >= total - next) { /* also catches an index past the block */
                r.err = 1;
                break;
            }
            exc_index[e] = next + gap;
            next = exc_index[e] + 1;
            exc_raw[e] = (uint8_t)br_get(&r, 1);
            exc_value[e] = exc_raw[e] ? br_wide(&r, f->bits) : br_rice(&r, rd);
        }
        if (r.err) err = EPHYS_ERR_CORRUPT;
    }
    maps_t maps = {0};
    if (!err && h.mode == MODE_GRID) err = read_maps(&r, h.n, nc, &maps);
    /* coded indices back to grid indices, through the channel's map: a
     * table over the channel's range of j where it is short (as it is, a
     * converter's levels), else a search */
    for (uint32_t c = 0; c < nc && !err && maps.m; c++) {
        uint32_t m = maps.m[c];
        if (!m) continue;
        const int32_t *js = maps.j + maps.at[c], *ks = maps.k + maps.at[c];
        uint64_t range = (uint64_t)((int64_t)js[m - 1] - js[0]) + 1;
        int32_t *lut = range <= 8 * (uint64_t)m + 4096 ? malloc(range * sizeof(int32_t)) : NULL;
        if (lut) {
            for (uint64_t v = 0; v < range; v++) lut[v] = INT32_MIN; /* no k is: |k| < 2^30 */
            for (uint32_t i = 0; i < m; i++) lut[js[i] - js[0]] = ks[i];
            for (uint64_t t = 0; t < h.n; t++) {
                int32_t *v = &k[t * nc + c];
                uint64_t at = (uint64_t)((int64_t)*v - js[0]);
                if (at >= range || lut[at] == INT32_MIN) {
                    err = EPHYS_ERR_CORRUPT;
                    break;
                }
                *v = lut[at];
            }
            free(lut);
            continue;
        }
        for (uint64_t t = 0; t < h.n && !err; t++) {
            int32_t *v = &k[t * nc + c], at = find_i32(js, m, *v);
            if (js[at] != *v) err = EPHYS_ERR_CORRUPT;
            else *v = ks[at];
        }
    }
    uint64_t e = 0;
    for (uint64_t i = 0; i < total && !err; i++) {
        int exception = e < n_exc && exc_index[e] == i;
        uint64_t x;
        if (h.mode != MODE_SPLIT) {
            x = recon_bits(f, h.step, h.offset, k[i]);
        } else if (exception || !k[i]) {
            x = 0;
        } else {
            uint32_t mag = k[i] < 0 ? (uint32_t)0 - (uint32_t)k[i] : (uint32_t)k[i];
            int b = 32 - __builtin_clz(mag), s = f->mant - b, ex = h.top_exp - s + (f->mant - f->kbits);
            if (b > f->kbits || ex < 1) {
                err = EPHYS_ERR_CORRUPT;
                break;
            }
            uint64_t m = (uint64_t)mag << s | br_wide(&r, s);
            x = (k[i] < 0 ? f->sign : 0) | (uint64_t)ex << (f->mant - 1) | (m & (((uint64_t)1 << (f->mant - 1)) - 1));
        }
        if (exception) {
            if (exc_raw[e]) {
                x = exc_value[e];
            } else {
                int ok = 1;
                x = from_ordered(f, ordered(f, x) + (uint64_t)unzigzag64(exc_value[e]), &ok);
                if (!ok) err = EPHYS_ERR_CORRUPT;
            }
            e++;
        }
        raw[i] = x;
    }
    if (!err && r.err) err = EPHYS_ERR_CORRUPT;
    /* the stream must end here: fewer than 8 padding bits, all zero */
    if (!err) {
        uint64_t left = 8 * (uint64_t)r.len - r.pos;
        if (left >= 8 || (left && br_get(&r, (int)left))) err = EPHYS_ERR_CORRUPT;
    }
    if (!err) {
        store_block(f, dst, c0, nc, raw);
        /* the container checksums rows it was not shown: it reads them back */
        if (dst->row_crc) dst->row_crc->next_row = UINT64_MAX;
    }
    maps_free(&maps);
    free(k);
    free(raw);
    free(exc_index);
    free(exc_value);
    free(exc_raw);
    return err;
}
