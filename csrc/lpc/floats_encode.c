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
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "floats_stream.h"

int ephys_float_is_dtype(int dtype) { return dtype == EPHYS_DTYPE_FLOAT32 || dtype == EPHYS_DTYPE_FLOAT64; }

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

/* The exceptions after the stream's header (at header_at in the output): with
 * a repeat bit per raw exception (header byte 30 set) where raw exceptions
 * repeat enough (NaN gaps, a channel of NaN) to pay for it. */
static int write_exceptions(const fmt_t *f, const exceptions_t *e, bitwriter_t *w, size_t header_at)
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
    uint64_t n_raw = 0, n_repeats = 0, last_raw = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (!e->raw[i]) continue;
        n_repeats += n_raw && e->value[i] == last_raw;
        last_raw = e->value[i];
        n_raw++;
    }
    int repeats = n_repeats * (uint64_t)f->bits > n_raw; /* what the repeat bits save, against one bit each */
    w->out->data[header_at + 30] = (uint8_t)repeats;
    int rg = best_rice(gaps, e->n), rd = best_rice(deltas, nd), have_raw = 0;
    bw_put(w, (uint64_t)rg, 5);
    bw_put(w, (uint64_t)rd, 5);
    for (size_t i = 0; i < e->n; i++) {
        bw_rice(w, gaps[i], rg);
        bw_put(w, e->raw[i], 1);
        if (!e->raw[i]) {
            bw_rice(w, e->value[i], rd);
            continue;
        }
        int again = repeats && have_raw && e->value[i] == last_raw;
        if (repeats) bw_put(w, (uint64_t)again, 1);
        if (!again) bw_wide(w, e->value[i], f->bits);
        last_raw = e->value[i];
        have_raw = 1;
    }
    free(gaps);
    free(deltas);
    return w->err;
}

/* ---- encoder ---- */

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
    const double *steps, *offsets; /* channel grids mode: the table's entries */
} block_t;

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
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
    if (mode == MODE_CHANNELS) h[3] = (uint8_t)blk->f->arith;
    int err = ephys_buf_append(out, h, HEADER);
    if (err) return err;
    size_t len_at = out->len - 4;
    for (uint32_t c = 0; c < blk->nc && mode == MODE_CHANNELS && !err; c++) {
        uint8_t entry[TABLE_ENTRY];
        uint64_t b;
        memcpy(&b, &blk->steps[c], 8);
        ephys_put_le64(entry, b);
        memcpy(&b, &blk->offsets[c], 8);
        ephys_put_le64(entry + 8, b);
        err = ephys_buf_append(out, entry, TABLE_ENTRY);
    }
    if (err) return err;
    size_t ints_at = out->len;
    ephys_view_t plane = {blk->plane, EPHYS_DTYPE_INT32, blk->n, blk->nc, blk->nc, 1, NULL};
    if ((err = fc->ints->encode_block(int_params, &plane, 0, blk->nc, out))) return err;
    size_t int_len = out->len - ints_at;
    if (int_len > UINT32_MAX) return EPHYS_ERR_ARGS;
    ephys_put_le32(out->data + len_at, (uint32_t)int_len);
    bitwriter_t w = {out, 0, 0, 0};
    if ((err = write_exceptions(blk->f, &blk->exc, &w, len_at - 32))) return err;
    if (mode == MODE_GRID || mode == MODE_CHANNELS) write_maps(blk, &w);
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

/* Grid mode (mode MODE_GRID: the one grid steps[0], offsets[0]) or channel
 * grids mode (MODE_CHANNELS: channel c's grid steps[c], offsets[c]). */
static int encode_grid(const ephys_float_coding_t *fc, block_t *blk, const double *steps, const double *offsets,
                       int mode, ephys_buf_t *out)
{
    const fmt_t *f = blk->f;
    int err = EPHYS_OK, per_channel = mode == MODE_CHANNELS;
    for (uint32_t c = 0; c < blk->nc && !err; c++) {
        double step = steps[per_channel ? c : 0], offset = offsets[per_channel ? c : 0];
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
    for (uint64_t i = 0, c = 0; i < blk->n * blk->nc && !err; i++, c = c + 1 == blk->nc ? 0 : c + 1) {
        uint64_t rec = recon_bits(f, steps[per_channel ? c : 0], offsets[per_channel ? c : 0], blk->k[i]);
        if (rec != blk->raw[i]) err = exc_mismatch(f, &blk->exc, i, blk->raw[i], rec);
    }
    if (!err) err = build_maps(blk);
    blk->steps = steps;
    blk->offsets = offsets;
    return err ? err
               : write_stream(fc, fc->grid_params, blk, mode, per_channel ? 0.0 : steps[0],
                              per_channel ? 0.0 : offsets[0], 0, out);
}

/* Whether some channel has more than half its samples off the block's grid
 * (a channel scaled with a gain or offset of its own): then the channels' own
 * grids are tried as well. */
static int channel_off_grid(const block_t *blk)
{
    uint64_t *off = calloc(blk->nc ? blk->nc : 1, sizeof(uint64_t));
    int any = 0;
    for (size_t e = 0; off && e < blk->exc.n && !any; e++) any = ++off[blk->exc.index[e] % blk->nc] > blk->n / 2;
    free(off);
    return any;
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
    size_t header_at = out->len;
    if (!err) err = ephys_buf_append(out, h, HEADER);
    if (!err) err = ephys_buf_append(out, ints.data, ints.len);
    if (!err) {
        bitwriter_t w = {out, 0, 0, 0};
        err = write_exceptions(f, &blk->exc, &w, header_at);
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

#define DECIDE_CHANNELS 4 /* channels whose grids choose the arithmetic */

/* A grid per channel (steps, offsets: nc entries each), in double arithmetic
 * or, for float32, in float32 arithmetic, whichever leaves fewer probe
 * samples off the grids of the first DECIDE_CHANNELS channels (double on a
 * tie); *fa: the format with the chosen arithmetic.  As
 * ephys_float_find_channel_grids: 0 if some channel has none. */
static int channel_grids(const block_t *blk, double *steps, double *offsets, fmt_t *fa)
{
    size_t missed = 0, missed_float = 0;
    *fa = *blk->f;
    fa->arith = ARITH_DOUBLE;
    if (fa->bits == 32) { /* the arithmetic, from the first DECIDE_CHANNELS channels */
        fmt_t g = *fa;
        g.arith = ARITH_FLOAT;
        int found = ephys_float_find_channel_grids(fa, blk->raw, blk->n, blk->nc, DECIDE_CHANNELS, steps, offsets,
                                                   &missed);
        if (found && !missed && blk->nc <= DECIDE_CHANNELS) return found;
        int found_float = (!found || missed) && ephys_float_find_channel_grids(&g, blk->raw, blk->n, blk->nc,
                                                                              DECIDE_CHANNELS, steps, offsets,
                                                                              &missed_float);
        if (found_float && (!found || missed_float < missed)) *fa = g;
        else if (!found) return 0;
        if (blk->nc <= DECIDE_CHANNELS && fa->arith == ARITH_FLOAT) return found_float;
    }
    return ephys_float_find_channel_grids(fa, blk->raw, blk->n, blk->nc, blk->nc, steps, offsets, &missed);
}

/* The block coded losslessly in mode (grid, channel grids or split) into a
 * buffer of its own; what out holds from start on is replaced by it when it
 * is shorter. */
static int keep_shorter(const ephys_float_coding_t *fc, block_t *blk, const double *steps, const double *offsets,
                        int mode, ephys_buf_t *out, size_t start)
{
    ephys_buf_t other = {0};
    exc_free(&blk->exc);
    memset(&blk->exc, 0, sizeof(blk->exc));
    maps_free(&blk->maps);
    int err = mode == MODE_SPLIT ? encode_split(fc, blk, &other) : encode_grid(fc, blk, steps, offsets, mode, &other);
    if (!err && other.len < out->len - start) {
        out->len = start;
        err = ephys_buf_append(out, other.data, other.len);
    }
    free(other.data);
    return err;
}

int ephys_lpc_float_encode_block(const ephys_float_coding_t *fc, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                                 ephys_buf_t *out)
{
    if (!ephys_float_is_dtype(src->dtype) || src->n_samples > UINT32_MAX) return EPHYS_ERR_ARGS;
    const fmt_t *f = fmt_of(src->dtype);
    uint64_t total = src->n_samples * nc;
    if (nc && src->n_samples > SIZE_MAX / 8 / nc) return EPHYS_ERR_NOMEM;
    block_t blk = {f, src->n_samples, nc, malloc(total * 8 + 1), malloc(total * 4 + 1), malloc(total * 4 + 1), {0}, 0, {0},
                   NULL, NULL};
    int err = blk.raw && blk.k && blk.plane ? EPHYS_OK : EPHYS_ERR_NOMEM;
    if (!err) load_block(f, src, c0, nc, blk.raw);
    int done = 0;
    size_t start = out->len;
    if (!err && fc->max_error > 0) err = encode_bounded_best(fc, &blk, out, &done);
    double step = 0, offset = 0, *steps = malloc(nc * sizeof(double) + 8), *offsets = malloc(nc * sizeof(double) + 8);
    if (!steps || !offsets) err = EPHYS_ERR_NOMEM;
    int grid = !err && ephys_float_find_grid(f, blk.raw, total, GRID_PROBE, &step, &offset, NULL);
    /* no grid for the block: one per channel (per-channel gains, offsets, means removed) */
    fmt_t fa; /* f in the channel grids' arithmetic */
    int channels = !err && !grid && total ? channel_grids(&blk, steps, offsets, &fa) : 0;
    if (!err && !done) {
        if (grid) {
            err = encode_grid(fc, &blk, &step, &offset, MODE_GRID, out);
            if (!err && (blk.exc.n > total / 16 || channel_off_grid(&blk)) && channel_grids(&blk, steps, offsets, &fa)) {
                blk.f = &fa;
                err = keep_shorter(fc, &blk, steps, offsets, MODE_CHANNELS, out, start);
            }
        } else if (channels) {
            blk.f = &fa;
            err = encode_grid(fc, &blk, steps, offsets, MODE_CHANNELS, out);
            /* many samples off their channel's grid, or constant channels: split mode may be shorter */
            if (!err && (blk.exc.n > total / 4 || channels == 2))
                err = keep_shorter(fc, &blk, NULL, NULL, MODE_SPLIT, out, start);
        } else {
            err = encode_split(fc, &blk, out);
        }
    } else if (grid || channels) { /* data on grids coarser than the bound: lossless may be shorter */
        if (channels) blk.f = &fa;
        err = keep_shorter(fc, &blk, grid ? &step : steps, grid ? &offset : offsets, grid ? MODE_GRID : MODE_CHANNELS,
                           out, start);
    }
    /* incompressible samples (random bits, NaN everywhere): stored as they are */
    size_t raw_len = HEADER + (size_t)total * (size_t)(f->bits / 8);
    if (!err && out->len - start > raw_len) {
        out->len = start;
        uint8_t h[HEADER];
        write_header(h, f, MODE_RAW, blk.n, nc, 0.0, 0.0, 0);
        err = ephys_buf_append(out, h, HEADER);
        for (uint64_t i = 0; i < total && !err; i++) {
            uint8_t b[8];
            ephys_put_le64(b, blk.raw[i]);
            err = ephys_buf_append(out, b, (size_t)(f->bits / 8));
        }
    }
    free(steps);
    free(offsets);
    exc_free(&blk.exc);
    maps_free(&blk.maps);
    free(blk.raw);
    free(blk.k);
    free(blk.plane);
    return err;
}
