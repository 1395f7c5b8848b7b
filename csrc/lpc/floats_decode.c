/* EphysLPC float streams: the decoder (layout in floats.h).  A stream is
 * checked field by field against the container's claim and the input's
 * length before anything is allocated from it. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "floats_stream.h"

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
    int mode, top_exp, arith;
    int repeats; /* byte 30: each raw exception says whether it repeats the previous raw one */
    uint64_t n;
    uint32_t nc;
    double step, offset;
    size_t table_len, int_len; /* the integer stream at HEADER + table_len */
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
    h->arith = in[3]; /* channel grids mode: ARITH_DOUBLE, or ARITH_FLOAT for float32; else zero */
    int arith_ok = h->arith == ARITH_DOUBLE || (h->arith == ARITH_FLOAT && h->mode == MODE_CHANNELS && h->f->bits == 32);
    h->repeats = in[30];
    /* an unknown mode (a later one) is refused, never read as another */
    if (!arith_ok || h->repeats > 1 || in[31] || h->n != n_samples || h->nc != nc || h->mode < MODE_GRID ||
        h->mode > MODE_RAW)
        return EPHYS_ERR_CORRUPT;
    if (h->mode == MODE_RAW) { /* nothing but the samples, each in full: the length is known exactly */
        uint64_t item = (uint64_t)(h->f->bits / 8), body = len - HEADER; /* no product: it could overflow */
        int exact = body % item == 0 && (nc ? body / item % nc == 0 && body / item / nc == h->n : body == 0);
        if (h->arith || h->repeats || h->top_exp || ephys_get_le64(in + 12) || ephys_get_le64(in + 20) || h->int_len || !exact)
            return EPHYS_ERR_CORRUPT;
        h->table_len = 0;
        return EPHYS_OK;
    }
    uint64_t table = h->mode == MODE_CHANNELS ? (uint64_t)TABLE_ENTRY * nc : 0;
    if (table > len - HEADER || h->int_len > len - HEADER - table || len - HEADER - table - h->int_len < 4)
        return EPHYS_ERR_CORRUPT;
    h->table_len = (size_t)table;
    if (h->mode == MODE_SPLIT) {
        if (h->top_exp < 1 || h->top_exp >= h->f->exp_max || h->step != 0 || h->offset != 0) return EPHYS_ERR_CORRUPT;
    } else if (h->mode == MODE_CHANNELS) {
        if (h->top_exp || h->step != 0 || h->offset != 0) return EPHYS_ERR_CORRUPT;
        for (uint32_t c = 0; c < nc; c++) { /* every channel's grid: step finite and > 0, offset finite */
            double step, offset;
            uint64_t sb = ephys_get_le64(in + HEADER + TABLE_ENTRY * (size_t)c),
                     ob = ephys_get_le64(in + HEADER + TABLE_ENTRY * (size_t)c + 8);
            memcpy(&step, &sb, 8);
            memcpy(&offset, &ob, 8);
            if (!(step > 0) || !isfinite(step) || !isfinite(offset)) return EPHYS_ERR_CORRUPT;
        }
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
    if (err || h->mode == MODE_RAW) return err;
    if (h->int_len < ints->min_block_bytes(n_samples, nc)) return EPHYS_ERR_CORRUPT;
    return ints->check_block ? ints->check_block(in + HEADER + h->table_len, h->int_len, n_samples, nc, EPHYS_DTYPE_INT32)
                             : EPHYS_OK;
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
    fmt_t fa = *h.f;
    fa.arith = h.arith;
    const fmt_t *f = &fa;
    uint64_t total = h.n * nc;
    if (nc && h.n > SIZE_MAX / 8 / nc) return EPHYS_ERR_NOMEM;
    if (h.mode == MODE_RAW) { /* parse_header checked the length: every sample is there */
        for (uint64_t t = 0; t < h.n; t++)
            for (uint32_t c = 0; c < nc; c++) {
                const uint8_t *at = in + HEADER + (t * nc + c) * (uint64_t)(f->bits / 8);
                if (f->bits == 64) ephys_store_uint64_t(EPHYS_AT(dst, uint64_t, t, c0 + c), ephys_get_le64(at));
                else ephys_store_uint32_t(EPHYS_AT(dst, uint32_t, t, c0 + c), ephys_get_le32(at));
            }
        return EPHYS_OK;
    }
    int32_t *k = malloc(total * 4 + 1);
    uint64_t *raw = malloc(total * 8 + 1);
    /* each channel's grid: one for all but in channel grids mode (its table, checked by parse_header) */
    int per_channel = h.mode == MODE_CHANNELS;
    double *steps = malloc((per_channel ? nc : 1) * sizeof(double) + 8),
           *offsets = malloc((per_channel ? nc : 1) * sizeof(double) + 8);
    if (!k || !raw || !steps || !offsets) err = EPHYS_ERR_NOMEM;
    for (uint32_t c = 0; c < (per_channel ? nc : 1) && !err; c++) {
        uint64_t sb = per_channel ? ephys_get_le64(in + HEADER + TABLE_ENTRY * (size_t)c) : 0,
                 ob = per_channel ? ephys_get_le64(in + HEADER + TABLE_ENTRY * (size_t)c + 8) : 0;
        memcpy(&steps[c], &sb, 8);
        memcpy(&offsets[c], &ob, 8);
        if (!per_channel) steps[0] = h.step, offsets[0] = h.offset;
    }
    if (!err) err = decode_plane(ints, in + HEADER + h.table_len, h.int_len, k, h.n, nc);
    const uint8_t *rest = in + HEADER + h.table_len + h.int_len;
    size_t rest_len = len - HEADER - h.table_len - h.int_len;
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
        int rg = (int)br_get(&r, 5), rd = (int)br_get(&r, 5), have_raw = 0;
        uint64_t next = 0, last_raw = 0;
        for (uint64_t e = 0; e < n_exc && !r.err; e++) {
            uint64_t gap = br_rice(&r, rg);
            if (gap >= total - next) { /* also catches an index past the block */
                r.err = 1;
                break;
            }
            exc_index[e] = next + gap;
            next = exc_index[e] + 1;
            exc_raw[e] = (uint8_t)br_get(&r, 1);
            if (!exc_raw[e]) {
                exc_value[e] = br_rice(&r, rd);
            } else if (h.repeats && br_get(&r, 1)) { /* the previous raw exception's bits again */
                if (!have_raw) r.err = 1;
                exc_value[e] = last_raw;
            } else {
                exc_value[e] = br_wide(&r, f->bits);
            }
            if (exc_raw[e]) last_raw = exc_value[e], have_raw = 1;
        }
        if (r.err) err = EPHYS_ERR_CORRUPT;
    }
    maps_t maps = {0};
    if (!err && (h.mode == MODE_GRID || per_channel)) err = read_maps(&r, h.n, nc, &maps);
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
    for (uint64_t i = 0, c = 0; i < total && !err; i++, c = per_channel && c + 1 < nc ? c + 1 : 0) {
        int exception = e < n_exc && exc_index[e] == i;
        uint64_t x;
        if (h.mode != MODE_SPLIT) {
            x = recon_bits(f, steps[c], offsets[c], k[i]);
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
    free(steps);
    free(offsets);
    free(k);
    free(raw);
    free(exc_index);
    free(exc_value);
    free(exc_raw);
    return err;
}
