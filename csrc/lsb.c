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
#include "filter_frame.h"
#include "lsb.h"

#define ESCAPED INT64_MIN
#define ROWS_PER_PART 1024


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

/* |offset| <= EPHYS_LSB_MAX_OFFSET (2^40), step <= EPHYS_LSB_MAX_STEP (2^24), |k| <= 2^31: |v| < 2^56, so the int64
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
        if (!(fabs(o[c]) <= (double)EPHYS_LSB_MAX_OFFSET) || !(s[c] >= 1.0 && s[c] <= (double)EPHYS_LSB_MAX_STEP))
            return 0;
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

/* Offset 0 and step 1 everywhere: k = v and r(k) = k, so no table and no escapes. */
static int identity(const double *o, const double *s, uint64_t n)
{
    for (uint64_t c = 0; c < n; c++)
        if (o[c] != 0.0 || s[c] != 1.0) return 0;
    return 1;
}

/* A per-value (encoder) or per-k (decoder) table is used for a channel of n
 * samples whose range is below 4 n: building it costs about as much as the
 * samples, and its memory is bounded by the chunk's. */
static int dense_ok(int64_t lo, int64_t hi, uint64_t n) { return (uint64_t)(hi - lo) < 4 * n; }

/* Per-channel minimum and maximum of rows [t0, t1) of channels [c0, c1), row by
 * row (sequential memory); int32 accumulators so that the loop vectorizes. */
static inline void minmax_rows(const uint8_t *p, int itemsize, uint64_t n_channels, uint64_t t0, uint64_t t1,
                               uint64_t c0, uint64_t c1, int32_t *mn, int32_t *mx)
{
    for (uint64_t c = c0; c < c1; c++) { mn[c] = INT32_MAX; mx[c] = INT32_MIN; }
    for (uint64_t t = t0; t < t1; t++)
        for (uint64_t c = c0; c < c1; c++) {
            int32_t v = (int32_t)load(p, itemsize, t * n_channels + c);
            mn[c] = v < mn[c] ? v : mn[c];
            mx[c] = v > mx[c] ? v : mx[c];
        }
}

static void minmax(const uint8_t *p, int itemsize, uint64_t n_channels, uint64_t t0, uint64_t t1,
                   uint64_t c0, uint64_t c1, int32_t *mn, int32_t *mx)
{
    if (itemsize == 2) minmax_rows(p, 2, n_channels, t0, t1, c0, c1, mn, mx);
    else minmax_rows(p, 4, n_channels, t0, t1, c0, c1, mn, mx);
}

/* ---- encoder ---- */

/* The value -> k map of one channel.  Dense mode: a bitmap of the values
 * present over [vmin, vmax], then a table of k (as the dtype) per slot
 * (v - vmin) >> shift, where 2^shift is at most the smallest gap between
 * present values so that each holds one of them at most (small tables stay in
 * cache); escaped values have k = 0 there and are listed in esc_vals.  Sparse
 * mode (a channel with a too wide range): sorted distinct values and their k. */
typedef struct {
    int64_t vmin, vmax;
    uint64_t *bits;         /* presence bitmap (dense mode, during the analysis) */
    uint8_t *dense;         /* k per slot (itemsize each) */
    int shift;
    int64_t *esc_vals;      /* sorted escaped values (dense mode) */
    uint64_t n_esc_vals;
    int64_t *vals, *ks;     /* sorted distinct values and their k or ESCAPED (sparse mode) */
    uint64_t n_vals;
    int64_t kmin, table_len; /* table: first k and length (1 when not needed) */
    int need;               /* some correction is not zero */
    int64_t *corr;          /* table_len corrections */
    uint64_t n_esc;         /* escaped samples */
} chmap_t;

static void chmap_free(chmap_t *m)
{
    free(m->bits); free(m->dense); free(m->esc_vals); free(m->vals); free(m->ks); free(m->corr);
    memset(m, 0, sizeof(*m));
}

/* index of the last of the sorted a[0..n) that is <= v (0 if none) */
static uint64_t bsearch_le(const int64_t *a, uint64_t n, int64_t v)
{
    uint64_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint64_t mid = (lo + hi) / 2;
        if (a[mid] <= v) lo = mid; else hi = mid;
    }
    return lo;
}

/* k of a value present in the channel, or ESCAPED */
static int64_t chmap_k(const chmap_t *m, int itemsize, int64_t v)
{
    if (m->dense) {
        int64_t k = load(m->dense, itemsize, (uint64_t)(v - m->vmin) >> m->shift);
        if (!k && m->n_esc_vals && m->esc_vals[bsearch_le(m->esc_vals, m->n_esc_vals, v)] == v) return ESCAPED;
        return k;
    }
    return m->ks[bsearch_le(m->vals, m->n_vals, v)];
}

typedef struct {
    const uint8_t *in;
    uint64_t n, n_channels, width; /* width: channels per block */
    int itemsize;
    const double *o, *s;
    chmap_t *maps;          /* one per channel */
    int32_t *mn, *mx;
    /* copies of the maps' fields for the row loops */
    uint64_t **bits;
    uint8_t **tab;          /* the dense table when the channel has no escapes */
    int64_t *vmin;
    int *shift;
    /* write pass */
    uint8_t *table, *payload, *esc;
    uint64_t table_rows;
    uint64_t *esc_start;
} enc_t;

/* Distinct values, their k, corrections and escapes of channel c, whose vmin
 * and vmax are set and (dense mode) present values marked in the bitmap. */
static int build_map(const enc_t *e, uint64_t c, chmap_t *m)
{
    int64_t lo = dmin(e->itemsize), hi = dmax(e->itemsize);
    int64_t vmin = m->vmin, vmax = m->vmax;
    uint64_t nd = 0;
    int64_t *vals;
    if (m->bits) {
        uint64_t words = (uint64_t)(vmax - vmin) / 64 + 1;
        for (uint64_t w = 0; w < words; w++)
            for (uint64_t x = m->bits[w]; x; x &= x - 1) nd++;
        vals = malloc((nd ? nd : 1) * sizeof(int64_t));
        if (!vals) return EPHYS_ERR_NOMEM;
        nd = 0;
        for (uint64_t w = 0; w < words; w++)
            for (int j = 0; j < 64 && m->bits[w] >> j; j++)
                if (m->bits[w] >> j & 1) vals[nd++] = vmin + (int64_t)(64 * w) + j;
    } else {
        vals = malloc((e->n ? e->n : 1) * sizeof(int64_t));
        if (!vals) return EPHYS_ERR_NOMEM;
        for (uint64_t t = 0; t < e->n; t++) vals[t] = load(e->in, e->itemsize, t * e->n_channels + c);
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
    m->table_len = 1;
    if (any && klast - kfirst + 1 > EPHYS_LSB_MAX_TABLE) {
        for (uint64_t i = 0; i < nd; i++) if (ks[i] != ESCAPED && cr[i]) ks[i] = ESCAPED;
        any = 0;
    }
    m->need = (int)any;
    if (any) {
        m->kmin = kfirst;
        m->table_len = klast - kfirst + 1;
    }
    m->corr = calloc((size_t)m->table_len, sizeof(int64_t));
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
    uint64_t n_escaped = 0;
    for (uint64_t i = 0; i < nd; i++) n_escaped += ks[i] == ESCAPED;
    if (m->bits) {
        int64_t gap = INT64_MAX;
        for (uint64_t i = 1; i < nd; i++) gap = vals[i] - vals[i - 1] < gap ? vals[i] - vals[i - 1] : gap;
        while (m->shift < 30 && (int64_t)2 << m->shift <= gap) m->shift++;
        m->dense = malloc((size_t)(((uint64_t)(vmax - vmin) >> m->shift) + 1) * (size_t)e->itemsize);
        m->esc_vals = n_escaped ? malloc(n_escaped * sizeof(int64_t)) : NULL;
        if (!m->dense || (n_escaped && !m->esc_vals)) { free(vals); free(ks); return EPHYS_ERR_NOMEM; }
        for (uint64_t i = 0; i < nd; i++) {
            store(m->dense, e->itemsize, (uint64_t)(vals[i] - vmin) >> m->shift, ks[i] == ESCAPED ? 0 : ks[i]);
            if (ks[i] == ESCAPED) m->esc_vals[m->n_esc_vals++] = vals[i];
        }
        free(m->bits);
        m->bits = NULL;
        free(vals);
        free(ks);
    } else {
        m->vals = vals;
        m->ks = ks;
        m->n_vals = nd;
    }
    if (n_escaped) /* rare: count the escaped samples */
        for (uint64_t t = 0; t < e->n; t++)
            m->n_esc += chmap_k(m, e->itemsize, load(e->in, e->itemsize, t * e->n_channels + c)) == ESCAPED;
    return EPHYS_OK;
}

/* Dense channels of [c0, c1): mark the values present, row by row. */
static inline void mark_rows(const enc_t *e, int itemsize, uint64_t c0, uint64_t c1)
{
    const uint8_t *restrict in = e->in;
    uint64_t *const *bits = e->bits;
    const int64_t *vmin = e->vmin;
    uint64_t n_channels = e->n_channels;
    for (uint64_t t = 0; t < e->n; t++)
        for (uint64_t c = c0; c < c1; c++)
            if (bits[c]) {
                uint64_t j = (uint64_t)(load(in, itemsize, t * n_channels + c) - vmin[c]);
                bits[c][j / 64] |= (uint64_t)1 << (j % 64);
            }
}

/* The k of every sample of channels [c0, c1), row by row; escapes recorded. */
static inline void write_rows(const enc_t *e, int itemsize, uint64_t c0, uint64_t c1, uint64_t *pos)
{
    const uint8_t *restrict in = e->in;
    uint8_t *restrict payload = e->payload;
    const uint8_t *const *tab = (const uint8_t *const *)e->tab;
    const int64_t *vmin = e->vmin;
    const int *shift = e->shift;
    uint64_t n_channels = e->n_channels;
    for (uint64_t t = 0; t < e->n; t++)
        for (uint64_t c = c0; c < c1; c++) {
            uint64_t i = t * n_channels + c;
            int64_t v = load(in, itemsize, i), k;
            if (tab[c]) k = load(tab[c], itemsize, (uint64_t)(v - vmin[c]) >> shift[c]);
            else if ((k = chmap_k(&e->maps[c], itemsize, v)) == ESCAPED) {
                uint8_t *p = e->esc + 16 * pos[c]++;
                ephys_put_le64(p, i);
                ephys_put_le64(p + 8, (uint64_t)v);
                k = 0;
            }
            store(payload, itemsize, i, k);
        }
}

static int analyse_block(void *arg, size_t b)
{
    enc_t *e = arg;
    uint64_t c0 = (uint64_t)b * e->width, c1 = c0 + e->width < e->n_channels ? c0 + e->width : e->n_channels;
    minmax(e->in, e->itemsize, e->n_channels, 0, e->n, c0, c1, e->mn, e->mx);
    for (uint64_t c = c0; c < c1; c++) {
        chmap_t *m = &e->maps[c];
        m->vmin = e->mn[c];
        m->vmax = e->mx[c];
        if (dense_ok(m->vmin, m->vmax, e->n)) {
            m->bits = calloc((size_t)((uint64_t)(m->vmax - m->vmin) / 64 + 1), sizeof(uint64_t));
            if (!m->bits) return EPHYS_ERR_NOMEM;
        }
        e->bits[c] = m->bits;
        e->vmin[c] = m->vmin;
    }
    if (e->itemsize == 2) mark_rows(e, 2, c0, c1); else mark_rows(e, 4, c0, c1);
    int err = EPHYS_OK;
    for (uint64_t c = c0; c < c1 && !err; c++) err = build_map(e, c, &e->maps[c]);
    return err;
}

static int write_block(void *arg, size_t b)
{
    enc_t *e = arg;
    uint64_t c0 = (uint64_t)b * e->width, c1 = c0 + e->width < e->n_channels ? c0 + e->width : e->n_channels;
    for (uint64_t c = c0; c < c1; c++) {
        chmap_t *m = &e->maps[c];
        e->tab[c] = m->n_esc_vals ? NULL : m->dense;
        e->shift[c] = m->shift;
        if (!e->table_rows) continue;
        store(e->table, e->itemsize, c, m->kmin);
        store(e->table, e->itemsize, e->n_channels + c, m->table_len - 1);
        for (uint64_t r = 0; r + 2 < e->table_rows; r++)
            store(e->table, e->itemsize, (r + 2) * e->n_channels + c,
                  m->corr[(int64_t)r < m->table_len ? (int64_t)r : m->table_len - 1]);
    }
    uint64_t *pos = e->esc_start; /* each block advances its own channels' entries */
    if (e->itemsize == 2) write_rows(e, 2, c0, c1, pos); else write_rows(e, 4, c0, c1, pos);
    return EPHYS_OK;
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
    uint64_t n_channels = info.n_channels, n = count ? info.n_samples : 0;
    int threads = ephys_filter_threads(count * (uint64_t)itemsize, num_threads);
    /* one block of whole rows (sequential memory) per thread */
    uint64_t width = (n_channels + (uint64_t)threads - 1) / (uint64_t)threads;
    width = (width + 31) / 32 * 32;
    enc_t e = {in, n, n_channels, width, itemsize, offsets, steps, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, 0, NULL};
    size_t blocks = n && !identity(offsets, steps, n_channels) ? (size_t)((n_channels + width - 1) / width) : 0;
    e.maps = calloc(n_channels + 1, sizeof(chmap_t));
    e.mn = malloc((n_channels + 1) * sizeof(int32_t));
    e.mx = malloc((n_channels + 1) * sizeof(int32_t));
    e.bits = calloc(n_channels + 1, sizeof(uint64_t *));
    e.tab = calloc(n_channels + 1, sizeof(uint8_t *));
    e.vmin = calloc(n_channels + 1, sizeof(int64_t));
    e.shift = calloc(n_channels + 1, sizeof(int));
    e.esc_start = calloc(n_channels + 1, sizeof(uint64_t));
    uint8_t *res = NULL;
    if (!e.maps || !e.mn || !e.mx || !e.bits || !e.tab || !e.vmin || !e.shift || !e.esc_start) err = EPHYS_ERR_NOMEM;
    if (!err) err = ephys_parallel_for(blocks, threads, analyse_block, &e);
    if (!err) {
        uint64_t table_rows = 0, esc = 0;
        for (uint64_t c = 0; c < n_channels && blocks; c++) {
            uint64_t rows = (uint64_t)e.maps[c].table_len + 2; /* first k, length - 1, corrections */
            if (e.maps[c].need && rows > table_rows) table_rows = rows;
            e.esc_start[c] = esc;
            esc += e.maps[c].n_esc;
        }
        err = ephys_filter_layout(EPHYS_FILTER_LSB, itemsize, ndim, shape, 0, table_rows, esc, &info);
        info.params_hash = ephys_lsb_params_hash(offsets, steps, n_params);
        if (!err && info.total_bytes > SIZE_MAX) err = EPHYS_ERR_NOMEM;
        if (!err) res = malloc((size_t)info.total_bytes);
        if (!err && !res) err = EPHYS_ERR_NOMEM;
        if (!err) {
            ephys_filter_write_header(&info, res);
            e.table_rows = table_rows;
            e.table = res + info.header_rows * info.row_bytes;
            e.payload = res + info.payload_offset;
            e.esc = e.payload + count * (uint64_t)itemsize;
            if (blocks) err = ephys_parallel_for(blocks, threads, write_block, &e);
            else if (count) memcpy(e.payload, in, count * (size_t)itemsize); /* identity */
            memset(e.esc + 16 * esc, 0, (size_t)(info.total_bytes - (uint64_t)(e.esc - res) - 16 * esc));
            ephys_filter_pad_header(&info, res);
            *n_escapes = esc;
        }
    }
    for (uint64_t c = 0; c < n_channels && e.maps; c++) chmap_free(&e.maps[c]);
    free(e.maps); free(e.mn); free(e.mx); free(e.bits); free(e.tab); free(e.vmin); free(e.shift); free(e.esc_start);
    if (err) { free(res); return err; }
    *out = res;
    *out_len = (size_t)info.total_bytes;
    return EPHYS_OK;
}

/* ---- decoder ---- */

typedef struct {
    const uint8_t *table, *payload;
    uint8_t *out;
    uint64_t n, n_channels, table_rows, parts;
    int itemsize, identity;
    const double *o, *s;
    const int64_t *kmin, *table_len;  /* correction table of each channel (table_rows > 0) */
    int32_t *mn, *mx;         /* per part and channel: range of k */
    uint8_t **lut;            /* per channel: value per k - mn[c], or NULL */
} dec_t;

/* the decoded value of k in channel c (wrapped to the dtype by the caller's store) */
static int64_t dec_value(const dec_t *d, uint64_t c, int64_t k)
{
    int64_t x = recon(d->o[c], d->s[c], k, dmin(d->itemsize), dmax(d->itemsize));
    if (d->table_rows) {
        int64_t j = k - d->kmin[c];
        if (j >= 0 && j < d->table_len[c])
            x += load(d->table, d->itemsize, (uint64_t)(j + 2) * d->n_channels + c);
    }
    return x;
}

static int range_part(void *arg, size_t p)
{
    dec_t *d = arg;
    uint64_t t0 = (uint64_t)p * ROWS_PER_PART, t1 = t0 + ROWS_PER_PART < d->n ? t0 + ROWS_PER_PART : d->n;
    uint64_t nc = d->n_channels;
    minmax(d->payload, d->itemsize, nc, t0, t1, 0, nc, d->mn + p * nc, d->mx + p * nc);
    return EPHYS_OK;
}

/* the lookup tables of channels [64 b, 64 b + 64) */
static int lut_block(void *arg, size_t b)
{
    dec_t *d = arg;
    for (uint64_t c = (uint64_t)b * 64; c < d->n_channels && c < (uint64_t)b * 64 + 64; c++) {
        if (!dense_ok(d->mn[c], d->mx[c], d->n)) continue;
        uint64_t len = (uint64_t)((int64_t)d->mx[c] - d->mn[c] + 1);
        d->lut[c] = malloc((size_t)len * (size_t)d->itemsize);
        if (!d->lut[c]) return EPHYS_ERR_NOMEM;
        for (uint64_t j = 0; j < len; j++) store(d->lut[c], d->itemsize, j, dec_value(d, c, d->mn[c] + (int64_t)j));
    }
    return EPHYS_OK;
}

static inline void decode_rows(const dec_t *d, int itemsize, uint64_t t0, uint64_t t1)
{
    const uint8_t *restrict payload = d->payload;
    uint8_t *restrict out = d->out;
    const uint8_t *const *lut = (const uint8_t *const *)d->lut;
    const int32_t *mn = d->mn;
    uint64_t n_channels = d->n_channels;
    for (uint64_t t = t0; t < t1; t++)
        for (uint64_t c = 0; c < n_channels; c++) {
            uint64_t i = t * n_channels + c;
            int64_t k = load(payload, itemsize, i);
            int64_t x = lut[c] ? load(lut[c], itemsize, (uint64_t)(k - mn[c])) : dec_value(d, c, k);
            store(out, itemsize, i, x); /* wraps: x - r fits the dtype's width */
        }
}

static int decode_part(void *arg, size_t p)
{
    dec_t *d = arg;
    uint64_t t0 = (uint64_t)p * ROWS_PER_PART, t1 = t0 + ROWS_PER_PART < d->n ? t0 + ROWS_PER_PART : d->n;
    uint64_t row_bytes = d->n_channels * (uint64_t)d->itemsize;
    if (d->identity) memcpy(d->out + t0 * row_bytes, d->payload + t0 * row_bytes, (size_t)((t1 - t0) * row_bytes));
    else if (d->itemsize == 2) decode_rows(d, 2, t0, t1);
    else decode_rows(d, 4, t0, t1);
    return EPHYS_OK;
}

/* ---- float input ---- */

static int float_params_ok(const double *o, const double *s, uint64_t n)
{
    for (uint64_t c = 0; c < n; c++)
        if (!(fabs(o[c]) <= (double)EPHYS_LSB_MAX_OFFSET) || !(s[c] > 0.0 && s[c] <= (double)EPHYS_LSB_MAX_STEP))
            return 0;
    return 1;
}

/* r(k) as the bit pattern of the input's float type (zero-extended for float32);
 * each float32 operation is rounded by the assignment (C99 5.1.2.3). */
static uint64_t float_recon_bits(int float_itemsize, double offset, double step, int64_t k)
{
    if (float_itemsize == 4) {
        float p = (float)k * (float)step;
        float v = p + (float)offset;
        uint32_t b;
        memcpy(&b, &v, 4);
        return b;
    }
    double p = (double)k * step;
    double v = p + offset;
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static uint64_t float_bits(const uint8_t *p, int float_itemsize, uint64_t i, double *value)
{
    if (float_itemsize == 4) {
        float f;
        uint32_t b;
        memcpy(&f, p + 4 * i, 4);
        memcpy(&b, p + 4 * i, 4);
        *value = f;
        return b;
    }
    uint64_t b;
    memcpy(value, p + 8 * i, 8);
    memcpy(&b, p + 8 * i, 8);
    return b;
}

/* k with r(k) equal to the sample bit for bit, or ESCAPED */
static int64_t float_k(int float_itemsize, double offset, double step, const uint8_t *in, uint64_t i)
{
    double v;
    uint64_t bits = float_bits(in, float_itemsize, i, &v);
    if (!isfinite(v)) return ESCAPED;
    double q = (v - offset) / step;
    if (!(q > (double)INT32_MIN - 1.0 && q < (double)INT32_MAX + 1.0)) return ESCAPED;
    int64_t k = (int64_t)(q < 0 ? q - 0.5 : q + 0.5);
    const int64_t tries[3] = {k, k - 1, k + 1}; /* r rounds: the nearest index may be one off */
    for (int t = 0; t < 3; t++)
        if (tries[t] >= INT32_MIN && tries[t] <= INT32_MAX &&
            float_recon_bits(float_itemsize, offset, step, tries[t]) == bits)
            return tries[t];
    return ESCAPED;
}

int ephys_lsb_encode_float(const void *in, size_t in_len, int float_itemsize, int ndim, const uint64_t *shape,
                           const double *offsets, const double *steps, uint64_t n_params,
                           uint8_t **out, size_t *out_len, uint64_t *n_escapes)
{
    if (!out || !out_len || !n_escapes || (float_itemsize != 4 && float_itemsize != 8)) return EPHYS_ERR_ARGS;
    ephys_filter_info_t info;
    int err = ephys_filter_layout(EPHYS_FILTER_LSB, 4, ndim, shape, float_itemsize, 0, 0, &info);
    if (err) return err;
    uint64_t count = info.n_samples * info.n_channels, n_channels = info.n_channels;
    if (in_len != count * (uint64_t)float_itemsize || (count && !in)) return EPHYS_ERR_ARGS;
    if (n_params != n_channels || (n_params && (!offsets || !steps)) || !float_params_ok(offsets, steps, n_params))
        return EPHYS_ERR_ARGS;
    if (count > SIZE_MAX / 8) return EPHYS_ERR_NOMEM;
    /* first pass: every k (0 where escaped) and the escaped samples, in index order */
    int32_t *ks = malloc((size_t)(count ? count : 1) * sizeof(int32_t));
    ephys_buf_t escapes = {0};
    int32_t kmin = 0, kmax = 0;
    uint64_t n_esc = 0;
    if (!ks) return EPHYS_ERR_NOMEM;
    for (uint64_t i = 0; i < count && !err; i++) {
        uint64_t c = i % n_channels;
        int64_t k = float_k(float_itemsize, offsets[c], steps[c], in, i);
        if (k == ESCAPED) {
            double v;
            uint8_t row[16];
            ephys_put_le64(row, i);
            ephys_put_le64(row + 8, float_bits(in, float_itemsize, i, &v));
            err = ephys_buf_append(&escapes, row, 16);
            n_esc++;
            k = 0;
        }
        ks[i] = (int32_t)k;
        kmin = k < kmin ? (int32_t)k : kmin;
        kmax = k > kmax ? (int32_t)k : kmax;
    }
    int itemsize = kmin >= INT16_MIN && kmax <= INT16_MAX ? 2 : 4;
    uint8_t *res = NULL;
    if (!err) err = ephys_filter_layout(EPHYS_FILTER_LSB, itemsize, ndim, shape, float_itemsize, 0, n_esc, &info);
    info.params_hash = ephys_lsb_params_hash(offsets, steps, n_params);
    if (!err && info.total_bytes > SIZE_MAX) err = EPHYS_ERR_NOMEM;
    if (!err && !(res = malloc((size_t)info.total_bytes))) err = EPHYS_ERR_NOMEM;
    if (!err) {
        ephys_filter_write_header(&info, res);
        uint8_t *payload = res + info.payload_offset, *esc = payload + count * (uint64_t)itemsize;
        for (uint64_t i = 0; i < count; i++) store(payload, itemsize, i, ks[i]);
        if (n_esc) memcpy(esc, escapes.data, escapes.len);
        memset(esc + 16 * n_esc, 0, (size_t)(info.total_bytes - (uint64_t)(esc - res) - 16 * n_esc));
        ephys_filter_pad_header(&info, res);
    }
    free(ks);
    free(escapes.data);
    if (err) { free(res); return err; }
    *out = res;
    *out_len = (size_t)info.total_bytes;
    *n_escapes = n_esc;
    return EPHYS_OK;
}

typedef struct {
    const ephys_filter_info_t *info;
    const uint8_t *payload;
    uint8_t *out;
    const double *o, *s;
} float_dec_t;

static int float_decode_part(void *arg, size_t p)
{
    const float_dec_t *d = arg;
    uint64_t n = d->info->n_samples, n_channels = d->info->n_channels;
    uint64_t t0 = (uint64_t)p * ROWS_PER_PART, t1 = t0 + ROWS_PER_PART < n ? t0 + ROWS_PER_PART : n;
    int fis = d->info->param;
    for (uint64_t t = t0; t < t1; t++)
        for (uint64_t c = 0; c < n_channels; c++) {
            uint64_t i = t * n_channels + c;
            uint64_t b = float_recon_bits(fis, d->o[c], d->s[c], load(d->payload, d->info->itemsize, i));
            if (fis == 4) { uint32_t b32 = (uint32_t)b; memcpy(d->out + 4 * i, &b32, 4); }
            else memcpy(d->out + 8 * i, &b, 8);
        }
    return EPHYS_OK;
}

static int decode_float(const ephys_filter_info_t *info, const uint8_t *buf, const double *offsets,
                        const double *steps, uint64_t n_params, void *out, size_t out_len, int num_threads)
{
    uint64_t n_channels = info->n_channels, count = info->n_samples * n_channels;
    int fis = info->param;
    if (n_params != n_channels || (n_channels && (!offsets || !steps)) || !float_params_ok(offsets, steps, n_params)
        || info->params_hash != ephys_lsb_params_hash(offsets, steps, n_params))
        return EPHYS_ERR_ARGS;
    if (out_len != count * (uint64_t)fis || (count && !out)) return EPHYS_ERR_OUT_SIZE;
    if (info->table_rows) return EPHYS_ERR_CORRUPT; /* float chunks have no correction table */
    if (!count) return info->n_escapes ? EPHYS_ERR_CORRUPT : EPHYS_OK;
    float_dec_t d = {info, buf + info->payload_offset, out, offsets, steps};
    int err = ephys_parallel_for((size_t)((info->n_samples + ROWS_PER_PART - 1) / ROWS_PER_PART),
                                 ephys_filter_threads(count * (uint64_t)fis, num_threads), float_decode_part, &d);
    if (err) return err;
    const uint8_t *esc = d.payload + count * (uint64_t)info->itemsize;
    for (uint64_t j = 0; j < info->n_escapes; j++) {
        uint64_t i = ephys_get_le64(esc + 16 * j), b = ephys_get_le64(esc + 16 * j + 8);
        if (i >= count || (fis == 4 && b >> 32)) return EPHYS_ERR_CORRUPT;
        if (fis == 4) { uint32_t b32 = (uint32_t)b; memcpy((uint8_t *)out + 4 * i, &b32, 4); }
        else memcpy((uint8_t *)out + 8 * i, &b, 8);
    }
    return EPHYS_OK;
}

int ephys_lsb_decode(const uint8_t *buf, size_t len, const double *offsets, const double *steps,
                     uint64_t n_params, void *out, size_t out_len, int num_threads)
{
    ephys_filter_info_t info;
    int err = ephys_filter_parse(buf, len, EPHYS_FILTER_LSB, &info);
    if (err) return err;
    if ((info.itemsize != 2 && info.itemsize != 4) || (info.param && info.param != 4 && info.param != 8))
        return EPHYS_ERR_HEADER;
    if (info.param) return decode_float(&info, buf, offsets, steps, n_params, out, out_len, num_threads);
    uint64_t n_channels = info.n_channels, count = info.n_samples * n_channels;
    if (n_params != n_channels || (n_channels && (!offsets || !steps)) || !params_ok(offsets, steps, n_params)
        || info.params_hash != ephys_lsb_params_hash(offsets, steps, n_params))
        return EPHYS_ERR_ARGS;
    if (out_len != count * (uint64_t)info.itemsize || (count && !out)) return EPHYS_ERR_OUT_SIZE;
    if (!count) return info.table_rows || info.n_escapes ? EPHYS_ERR_CORRUPT : EPHYS_OK;
    if (info.table_rows == 1 || info.table_rows > EPHYS_LSB_MAX_TABLE + 2) return EPHYS_ERR_CORRUPT;
    int threads = ephys_filter_threads(count * (uint64_t)info.itemsize, num_threads);
    dec_t d = {buf + info.header_rows * info.row_bytes, buf + info.payload_offset, out,
               info.n_samples, n_channels, info.table_rows, (info.n_samples + ROWS_PER_PART - 1) / ROWS_PER_PART,
               info.itemsize, 0, offsets, steps, NULL, NULL, NULL, NULL, NULL};
    d.identity = !d.table_rows && identity(offsets, steps, n_channels);
    int64_t *kmin = NULL, *table_len = NULL;
    if (d.table_rows) {
        kmin = malloc(n_channels * sizeof(int64_t));
        table_len = malloc(n_channels * sizeof(int64_t));
        if (!kmin || !table_len) err = EPHYS_ERR_NOMEM;
        for (uint64_t c = 0; c < n_channels && !err; c++) {
            kmin[c] = load(d.table, info.itemsize, c);
            int64_t l = load(d.table, info.itemsize, n_channels + c);
            table_len[c] = (info.itemsize == 2 ? (int64_t)(uint16_t)l : (int64_t)(uint32_t)l) + 1;
            if ((uint64_t)table_len[c] > d.table_rows - 2) err = EPHYS_ERR_CORRUPT;
        }
        d.kmin = kmin;
        d.table_len = table_len;
    }
    if (!err && !d.identity) {
        d.mn = malloc(d.parts * n_channels * sizeof(int32_t));
        d.mx = malloc(d.parts * n_channels * sizeof(int32_t));
        d.lut = calloc(n_channels, sizeof(uint8_t *));
        if (!d.mn || !d.mx || !d.lut) err = EPHYS_ERR_NOMEM;
        if (!err) err = ephys_parallel_for((size_t)d.parts, threads, range_part, &d);
        for (uint64_t p = 1; p < d.parts && !err; p++)
            for (uint64_t c = 0; c < n_channels; c++) {
                d.mn[c] = d.mn[p * n_channels + c] < d.mn[c] ? d.mn[p * n_channels + c] : d.mn[c];
                d.mx[c] = d.mx[p * n_channels + c] > d.mx[c] ? d.mx[p * n_channels + c] : d.mx[c];
            }
        if (!err) err = ephys_parallel_for((size_t)((n_channels + 63) / 64), threads, lut_block, &d);
    }
    if (!err) err = ephys_parallel_for((size_t)d.parts, threads, decode_part, &d);
    for (uint64_t c = 0; c < n_channels && d.lut; c++) free(d.lut[c]);
    free(d.lut); free(d.mn); free(d.mx); free(kmin); free(table_len);
    if (err) return err;
    const uint8_t *esc = d.payload + count * (uint64_t)info.itemsize;
    int64_t lo = dmin(info.itemsize), hi = dmax(info.itemsize);
    for (uint64_t j = 0; j < info.n_escapes; j++) {
        uint64_t i = ephys_get_le64(esc + 16 * j);
        int64_t v = (int64_t)ephys_get_le64(esc + 16 * j + 8);
        if (i >= count || v < lo || v > hi) return EPHYS_ERR_CORRUPT;
        store(out, info.itemsize, i, v);
    }
    return EPHYS_OK;
}
