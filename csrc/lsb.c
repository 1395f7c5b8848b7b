/* LSB: lossless mapping of samples onto a per-channel grid.
 *
 * Encoding, per channel: the distinct values u_1 < u_2 < ... of the chunk get
 * grid indices k_i = round((u_i - offset) / step), bumped to k_{i-1} + 1 where
 * two values would share an index, so the map is one-to-one.  Each sample is
 * replaced by its k.  The decoder computes r(k) = round_half_away(offset +
 * k * step) (double, saturated) and adds corr(k) = u - r(k) from a per-channel
 * correction table stored in the chunk ("table rows": row 0 the first k, row 1
 * the table length - 1, then one correction per k, as the dtype with
 * wrap-around).  Channels whose corrections are all zero store a table of
 * length 1; when no channel needs one, the chunk has no table rows at all.
 * Samples whose k would not fit the dtype, or whose table would exceed
 * EPHYS_LSB_MAX_TABLE entries, are escaped: k = 0 in the samples and
 * (u64 flat index, i64 value) in escape rows after them.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "block_codec.h"
#include "chunk.h"
#include "filter.h"
#include "lsb.h"

#define CH_BLOCK 16
#define DENSE_MAX ((int64_t)1 << 20)
#define ESCAPED INT64_MIN

static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint64_t get_u64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

uint64_t ephys_lsb_params_hash(const double *offsets, const double *steps, uint64_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 8; i++) h = (h ^ (uint8_t)(n >> (8 * i))) * 1099511628211ULL;
    for (int which = 0; which < 2; which++)
        for (uint64_t c = 0; c < n; c++) {
            double v = which ? steps[c] : offsets[c];
            uint64_t bits;
            memcpy(&bits, &v, 8);
            for (int i = 0; i < 8; i++) h = (h ^ (uint8_t)(bits >> (8 * i))) * 1099511628211ULL;
        }
    return h;
}

static int64_t dmin(int itemsize) { return itemsize == 2 ? INT16_MIN : INT32_MIN; }
static int64_t dmax(int itemsize) { return itemsize == 2 ? INT16_MAX : INT32_MAX; }

/* |offset| <= 2^40, step <= 2^24, |k| <= 2^31: |v| < 2^56, so the int64
 * conversions are exact and v - i is exact. */
static inline int64_t recon(double offset, double step, int64_t k, int64_t lo, int64_t hi)
{
    double p = (double)k * step;
    double v = offset + p;
    int64_t i = (int64_t)v;
    double f = v - (double)i;
    if (f >= 0.5) i++;
    else if (f <= -0.5) i--;
    return i < lo ? lo : i > hi ? hi : i;
}

int64_t ephys_lsb_reconstruct(double offset, double step, int64_t k, int itemsize)
{
    return recon(offset, step, k, dmin(itemsize), dmax(itemsize));
}

static int params_ok(const double *o, const double *s, uint64_t n)
{
    for (uint64_t c = 0; c < n; c++)
        if (!(fabs(o[c]) <= 1099511627776.0) || !(s[c] >= 1.0 && s[c] <= 16777216.0)) return 0;
    return 1;
}

static int64_t load(const uint8_t *p, int itemsize, uint64_t i)
{
    if (itemsize == 2) { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    int32_t v; memcpy(&v, p + 4 * i, 4); return v;
}

static void store(uint8_t *p, int itemsize, uint64_t i, int64_t v)
{
    if (itemsize == 2) { uint16_t w = (uint16_t)(uint64_t)v; memcpy(p + 2 * i, &w, 2); }
    else { uint32_t w = (uint32_t)(uint64_t)v; memcpy(p + 4 * i, &w, 4); }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The value -> k map of one channel: dense over [vmin, vmax] or sorted pairs. */
typedef struct {
    int64_t vmin;
    int64_t *dense;         /* k per value - vmin, ESCAPED, or unused */
    int64_t *vals, *ks;     /* sorted distinct values and their k (sparse mode) */
    uint64_t n_vals;
    int64_t kmin, L;        /* table: first k and length (1 when not needed) */
    int need;               /* some correction is not zero */
    int64_t *corr;          /* L corrections */
    uint64_t n_esc;
} chmap_t;

static void chmap_free(chmap_t *m)
{
    free(m->dense); free(m->vals); free(m->ks); free(m->corr);
    memset(m, 0, sizeof(*m));
}

static int64_t chmap_k(const chmap_t *m, int64_t v)
{
    if (m->dense) return m->dense[v - m->vmin];
    uint64_t lo = 0, hi = m->n_vals;
    while (hi - lo > 1) {
        uint64_t mid = (lo + hi) / 2;
        if (m->vals[mid] <= v) lo = mid; else hi = mid;
    }
    return m->ks[lo];
}

typedef struct {
    const uint8_t *in;
    uint64_t n, C;
    int itemsize;
    const double *o, *s;
    /* per channel, from the analysis pass */
    int64_t *kmin, *L;
    uint64_t *n_esc;
    /* write pass */
    uint8_t *table, *payload, *esc;
    uint64_t T;
    uint64_t *esc_start;
    int write;
} enc_t;

/* Build the map of channel c: distinct values, their k, corrections, escapes. */
static int build_map(const enc_t *e, uint64_t c, chmap_t *m)
{
    int64_t lo = dmin(e->itemsize), hi = dmax(e->itemsize);
    int64_t vmin = hi, vmax = lo;
    for (uint64_t t = 0; t < e->n; t++) {
        int64_t v = load(e->in, e->itemsize, t * e->C + c);
        if (v < vmin) vmin = v;
        if (v > vmax) vmax = v;
    }
    memset(m, 0, sizeof(*m));
    m->vmin = vmin;
    uint64_t nd = 0;
    int64_t *vals;
    if (vmax - vmin < DENSE_MAX) {
        m->dense = calloc((size_t)(vmax - vmin + 1), sizeof(int64_t));
        if (!m->dense) return EPHYS_ERR_NOMEM;
        for (uint64_t t = 0; t < e->n; t++) m->dense[load(e->in, e->itemsize, t * e->C + c) - vmin] = 1;
        for (int64_t i = 0; i <= vmax - vmin; i++) nd += m->dense[i] != 0;
        vals = malloc(nd * sizeof(int64_t));
        if (!vals) return EPHYS_ERR_NOMEM;
        nd = 0;
        for (int64_t i = 0; i <= vmax - vmin; i++) if (m->dense[i]) vals[nd++] = vmin + i;
    } else {
        vals = malloc(e->n * sizeof(int64_t));
        if (!vals) return EPHYS_ERR_NOMEM;
        for (uint64_t t = 0; t < e->n; t++) vals[t] = load(e->in, e->itemsize, t * e->C + c);
        qsort(vals, e->n, sizeof(int64_t), cmp_i64);
        for (uint64_t t = 0; t < e->n; t++) if (!nd || vals[t] != vals[nd - 1]) vals[nd++] = vals[t];
    }
    int64_t *ks = malloc((nd ? nd : 1) * sizeof(int64_t));
    int64_t *cr = malloc((nd ? nd : 1) * sizeof(int64_t));
    if (!ks || !cr) { free(vals); free(ks); free(cr); return EPHYS_ERR_NOMEM; }
    double o = e->o[c], s = e->s[c];
    int have = 0;
    int64_t prev = 0, kfirst = 0, klast = 0, any = 0;
    for (uint64_t i = 0; i < nd; i++) {
        double q = ((double)vals[i] - o) / s;
        int64_t k;
        if (!(q > (double)lo - 1.0)) k = ESCAPED;
        else if (!(q < (double)hi + 1.0)) k = ESCAPED;
        else {
            k = (int64_t)(q < 0 ? q - 0.5 : q + 0.5);
            if (have && k <= prev) k = prev + 1;
            if (k < lo || k > hi) k = ESCAPED;
        }
        ks[i] = k;
        if (k != ESCAPED) {
            cr[i] = vals[i] - recon(o, s, k, lo, hi);
            any |= cr[i] != 0;
            if (!have) kfirst = k;
            klast = k;
            prev = k;
            have = 1;
        }
    }
    /* the table: one correction per k in [kfirst, klast], gaps carry the previous one */
    m->kmin = 0;
    m->L = 1;
    if (any && klast - kfirst + 1 > EPHYS_LSB_MAX_TABLE) {
        for (uint64_t i = 0; i < nd; i++) if (ks[i] != ESCAPED && cr[i]) ks[i] = ESCAPED;
        any = 0;
    }
    m->need = (int)any;
    if (any) {
        m->kmin = kfirst;
        m->L = klast - kfirst + 1;
    }
    m->corr = calloc((size_t)m->L, sizeof(int64_t));
    if (!m->corr) { free(vals); free(ks); free(cr); return EPHYS_ERR_NOMEM; }
    if (any) {
        int64_t last = 0, pos = 0;
        for (uint64_t i = 0; i < nd; i++) {
            if (ks[i] == ESCAPED) continue;
            if (pos == 0) last = cr[i];
            for (; pos < ks[i] - kfirst; pos++) m->corr[pos] = last;
            m->corr[pos++] = last = cr[i];
        }
    }
    free(cr);
    if (m->dense) {
        for (uint64_t i = 0; i < nd; i++) m->dense[vals[i] - vmin] = ks[i];
        free(vals);
        free(ks);
    } else {
        m->vals = vals;
        m->ks = ks;
        m->n_vals = nd;
    }
    for (uint64_t t = 0; t < e->n; t++)
        m->n_esc += chmap_k(m, load(e->in, e->itemsize, t * e->C + c)) == ESCAPED;
    return EPHYS_OK;
}

static int encode_block(void *arg, size_t b)
{
    enc_t *e = arg;
    uint64_t c0 = (uint64_t)b * CH_BLOCK, c1 = c0 + CH_BLOCK < e->C ? c0 + CH_BLOCK : e->C;
    chmap_t maps[CH_BLOCK];
    memset(maps, 0, sizeof(maps));
    int err = EPHYS_OK;
    for (uint64_t c = c0; c < c1 && !err; c++) err = build_map(e, c, &maps[c - c0]);
    if (!err && !e->write) {
        for (uint64_t c = c0; c < c1; c++) {
            e->kmin[c] = maps[c - c0].kmin;
            e->L[c] = maps[c - c0].need ? maps[c - c0].L : 0;
            e->n_esc[c] = maps[c - c0].n_esc;
        }
    } else if (!err) {
        if (e->T) {
            for (uint64_t c = c0; c < c1; c++) {
                chmap_t *m = &maps[c - c0];
                store(e->table, e->itemsize, c, m->kmin);
                store(e->table, e->itemsize, e->C + c, m->L - 1);
                for (uint64_t r = 0; r + 2 < e->T; r++)
                    store(e->table, e->itemsize, (r + 2) * e->C + c,
                          m->corr[(int64_t)r < m->L ? (int64_t)r : m->L - 1]);
            }
        }
        uint64_t pos[CH_BLOCK];
        for (uint64_t c = c0; c < c1; c++) pos[c - c0] = e->esc_start[c];
        for (uint64_t t = 0; t < e->n; t++)
            for (uint64_t c = c0; c < c1; c++) {
                uint64_t i = t * e->C + c;
                int64_t v = load(e->in, e->itemsize, i);
                int64_t k = chmap_k(&maps[c - c0], v);
                if (k == ESCAPED) {
                    uint8_t *p = e->esc + 16 * pos[c - c0]++;
                    put_u64(p, i);
                    put_u64(p + 8, (uint64_t)v);
                    k = 0;
                }
                store(e->payload, e->itemsize, i, k);
            }
    }
    for (uint64_t c = c0; c < c1; c++) chmap_free(&maps[c - c0]);
    return err;
}

int ephys_lsb_encode(const void *in, size_t in_len, int itemsize, int ndim, const uint64_t *shape,
                     const double *offsets, const double *steps, uint64_t n_params, int num_threads,
                     uint8_t **out, size_t *out_len, uint64_t *n_escapes)
{
    if (!out || !out_len || !n_escapes || (itemsize != 2 && itemsize != 4)) return EPHYS_ERR_ARGS;
    ephys_filter_info_t info;
    int err = ephys_filter_layout(EPHYS_FILTER_LSB, itemsize, ndim, shape, 0, 0, 0, &info);
    if (err) return err;
    uint64_t count = info.n_samples * info.n_channels;
    if (in_len != count * (uint64_t)itemsize || (count && !in)) return EPHYS_ERR_ARGS;
    if (n_params != info.n_channels || (n_params && (!offsets || !steps)) || !params_ok(offsets, steps, n_params))
        return EPHYS_ERR_ARGS;
    uint64_t C = info.n_channels, n = count ? info.n_samples : 0;
    enc_t e = {in, n, C, itemsize, offsets, steps, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0};
    e.kmin = calloc(C + 1, sizeof(int64_t));
    e.L = calloc(C + 1, sizeof(int64_t));
    e.n_esc = calloc(C + 1, sizeof(uint64_t));
    e.esc_start = calloc(C + 1, sizeof(uint64_t));
    uint8_t *res = NULL;
    size_t blocks = n ? (size_t)((C + CH_BLOCK - 1) / CH_BLOCK) : 0;
    if (!e.kmin || !e.L || !e.n_esc || !e.esc_start) err = EPHYS_ERR_NOMEM;
    if (!err) err = ephys_parallel_for(blocks, num_threads, encode_block, &e);
    if (!err) {
        uint64_t T = 0, esc = 0;
        for (uint64_t c = 0; c < C && n; c++) {
            if (e.L[c] > 0) T = T > (uint64_t)e.L[c] + 2 ? T : (uint64_t)e.L[c] + 2;
            e.esc_start[c] = esc;
            esc += e.n_esc[c];
        }
        err = ephys_filter_layout(EPHYS_FILTER_LSB, itemsize, ndim, shape, 0, T, esc, &info);
        info.extra_b = ephys_lsb_params_hash(offsets, steps, n_params);
        if (!err && info.total_bytes > SIZE_MAX) err = EPHYS_ERR_NOMEM;
        if (!err) res = calloc((size_t)info.total_bytes, 1);
        if (!err && !res) err = EPHYS_ERR_NOMEM;
        if (!err) {
            ephys_filter_write_header(&info, res);
            e.T = T;
            e.table = res + info.header_rows * info.row_bytes;
            e.payload = res + info.payload_offset;
            e.esc = e.payload + count * (uint64_t)itemsize;
            e.write = 1;
            err = ephys_parallel_for(blocks, num_threads, encode_block, &e);
            ephys_filter_pad_header(&info, res);
            *n_escapes = esc;
        }
    }
    free(e.kmin); free(e.L); free(e.n_esc); free(e.esc_start);
    if (err) { free(res); return err; }
    *out = res;
    *out_len = (size_t)info.total_bytes;
    return EPHYS_OK;
}

typedef struct {
    const uint8_t *table, *payload;
    uint8_t *out;
    uint64_t n, C, T;
    int itemsize;
    const double *o, *s;
    const int64_t *kmin, *L;
} dec_t;

#define ROWS_PER_PART 1024

static int decode_part(void *arg, size_t p)
{
    dec_t *d = arg;
    int64_t lo = dmin(d->itemsize), hi = dmax(d->itemsize);
    uint64_t t0 = (uint64_t)p * ROWS_PER_PART, t1 = t0 + ROWS_PER_PART < d->n ? t0 + ROWS_PER_PART : d->n;
    for (uint64_t t = t0; t < t1; t++)
        for (uint64_t c = 0; c < d->C; c++) {
            uint64_t i = t * d->C + c;
            int64_t k = load(d->payload, d->itemsize, i);
            int64_t x = recon(d->o[c], d->s[c], k, lo, hi);
            if (d->T) {
                int64_t j = k - d->kmin[c];
                if (j >= 0 && j < d->L[c]) x += load(d->table, d->itemsize, (uint64_t)(j + 2) * d->C + c);
            }
            store(d->out, d->itemsize, i, x); /* wraps: x - r fits the dtype's width */
        }
    return EPHYS_OK;
}

int ephys_lsb_decode(const uint8_t *buf, size_t len, const double *offsets, const double *steps,
                     uint64_t n_params, void *out, size_t out_len, int num_threads)
{
    ephys_filter_info_t info;
    int err = ephys_filter_parse(buf, len, EPHYS_FILTER_LSB, &info);
    if (err) return err;
    if ((info.itemsize != 2 && info.itemsize != 4) || info.param) return EPHYS_ERR_HEADER;
    uint64_t C = info.n_channels, count = info.n_samples * C;
    if (n_params != C || (C && (!offsets || !steps)) || !params_ok(offsets, steps, n_params)
        || info.extra_b != ephys_lsb_params_hash(offsets, steps, n_params))
        return EPHYS_ERR_ARGS;
    if (out_len != count * (uint64_t)info.itemsize || (count && !out)) return EPHYS_ERR_OUT_SIZE;
    if (!count) return info.table_rows || info.extra_a ? EPHYS_ERR_CORRUPT : EPHYS_OK;
    if (info.table_rows == 1 || info.table_rows > EPHYS_LSB_MAX_TABLE + 2) return EPHYS_ERR_CORRUPT;
    dec_t d = {buf + info.header_rows * info.row_bytes, buf + info.payload_offset, out,
               info.n_samples, C, info.table_rows, info.itemsize, offsets, steps, NULL, NULL};
    int64_t *kmin = NULL, *L = NULL;
    if (d.T) {
        kmin = malloc(C * sizeof(int64_t));
        L = malloc(C * sizeof(int64_t));
        if (!kmin || !L) { free(kmin); free(L); return EPHYS_ERR_NOMEM; }
        for (uint64_t c = 0; c < C && !err; c++) {
            kmin[c] = load(d.table, info.itemsize, c);
            int64_t l = load(d.table, info.itemsize, C + c);
            L[c] = (info.itemsize == 2 ? (int64_t)(uint16_t)l : (int64_t)(uint32_t)l) + 1;
            if ((uint64_t)L[c] > d.T - 2) err = EPHYS_ERR_CORRUPT;
        }
        d.kmin = kmin;
        d.L = L;
    }
    if (!err) err = ephys_parallel_for((size_t)((d.n + ROWS_PER_PART - 1) / ROWS_PER_PART),
                                       count * info.itemsize < (1u << 18) ? 1 : num_threads, decode_part, &d);
    free(kmin);
    free(L);
    if (err) return err;
    const uint8_t *esc = d.payload + count * (uint64_t)info.itemsize;
    int64_t lo = dmin(info.itemsize), hi = dmax(info.itemsize);
    for (uint64_t j = 0; j < info.extra_a; j++) {
        uint64_t i = get_u64(esc + 16 * j);
        int64_t v = (int64_t)get_u64(esc + 16 * j + 8);
        if (i >= count || v < lo || v > hi) return EPHYS_ERR_CORRUPT;
        store(out, info.itemsize, i, v);
    }
    return EPHYS_OK;
}
