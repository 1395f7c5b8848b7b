/* The decoder: a stream's header, its grids, dictionaries and frames, and
 * the partitions of versions 3, 4, 6 and 7 (those of versions 1 and 2 are in
 * decode_lanes.c; what every version shares, in synthesis.c).  A decoder must
 * survive any byte string: every field is checked before it is used, and a
 * stream that does not end where its last field ends is corrupt. */
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "floats.h" /* its stream version, which integer streams skip */

static void decoder_free(decoder_t *w)
{
    /* a channel's lanes share its first lane's values */
    for (uint32_t v = 0; w->dict_values && v < w->lanes / w->segments; v++) free(w->dict_values[v]);
    lpc_block_free(&w->block);
    free(w->arrays);
}

#define SUB_ROWS 256 /* rows of a partition taken from its columns to the output at a time: they stay in L1 */
/* version 7: a partition of segments of at most this many values is taken whole (its
 * channels' segments one run of columns each: fewer, longer kernel calls) */
#define WHOLE_PARTITION 16384

/* The decoder's arrays from one allocation (as lpc_block_alloc's); mem NULL
 * only measures.  Shared: without the work areas, which are another's. */
#define CARVE(field, count) \
    (w->field = mem ? (void *)(mem + at) : NULL, at += ((count) * sizeof(*w->field) + 63) & ~(size_t)63)
static size_t carve(decoder_t *w, char *mem, size_t part, const stream_t *s, int shared)
{
    size_t at = 0, nv = s->lanes, segmented = s->segments > 1;
    CARVE(rows, shared ? 0 : w->rows_size);
    CARVE(e, shared ? 0 : w->e_size);
    CARVE(unary, shared ? 0 : w->unary_size);
    CARVE(flags, nv);
    CARVE(seg, segmented ? part * s->nc : 0);
    CARVE(order, segmented ? nv : 0);
    CARVE(sum, part * s->segments);
    CARVE(lows_at, s->nc);
    CARVE(unary_at, nv);
    CARVE(model, s->nc);
    CARVE(dict_count, nv);
    CARVE(dict_values, nv);
    return at;
}
#undef CARVE

/* The most rows synthesized at once (decode_partition's step): versions 1 and 2 a frame. */
static size_t synthesized_rows(size_t f, size_t part, const stream_t *s)
{
    size_t step = s->segments > 1 && WHOLE_PARTITION / s->lanes > SUB_ROWS ? WHOLE_PARTITION / s->lanes : SUB_ROWS;
    return s->version < 3 ? f : part < step ? part : step;
}

/* For frames of f rows and partitions of part rows of the stream's lanes.
 * Versions 1 and 2 synthesize a frame in the block's rows (block.x); later
 * versions keep only the history there, and synthesize in w->rows.  Their
 * work areas (rows, e, block.cm, unary) do not outlive a partition: with
 * share (a decoder of the same thread, allocated without one), they are
 * share's where those are large enough, and stay in cache from one block's
 * partition to the next block's. */
static int decoder_alloc(decoder_t *w, size_t f, size_t part, const stream_t *s, const decoder_t *share)
{
    uint32_t nv = s->lanes;
    memset(w, 0, sizeof(*w));
    f = synthesized_rows(f, part, s);
    w->rows_size = s->version >= 3 ? (HIST + f) * nv : 0;
    w->e_size = f * nv;
    w->cm_size = part * nv;
    w->unary_size = nv * part + 16; /* + 8 after each area: the AVX2 expand reads 8 at a time */
    int shared = share && s->version >= 3 && share->rows_size >= w->rows_size && share->e_size >= w->e_size &&
                 share->cm_size >= w->cm_size && share->unary_size >= w->unary_size;
    if (lpc_block_alloc(&w->block, s->version >= 3 ? 0 : f, shared ? 0 : part, nv)) return EPHYS_ERR_NOMEM;
    char *mem = malloc(carve(w, NULL, part, s, shared));
    if (!mem) {
        lpc_block_free(&w->block);
        return EPHYS_ERR_NOMEM;
    }
    carve(w, mem, part, s, shared);
    if (shared) w->rows = share->rows, w->e = share->e, w->block.cm = share->block.cm, w->unary = share->unary;
    w->arrays = mem;
    w->lanes = nv;
    w->segments = s->segments;
    memset(w->dict_count, 0, nv * sizeof(uint32_t));
    memset(w->dict_values, 0, nv * sizeof(int32_t *));
    if (!w->rows_size) w->rows = NULL;
    if (s->segments < 2) w->seg = NULL, w->order = NULL;
    for (uint32_t g = 0; w->order && g < s->segments; g++)
        for (uint32_t c = 0; c < s->nc; c++) w->order[g * s->nc + c] = c * s->segments + g;
    return EPHYS_OK;
}

/* The fewest bits the frames of a stream can take (every partition a zero one). */
static uint64_t min_stream_bits(const stream_t *s)
{
    uint64_t f = (uint64_t)1 << s->frame_log2, part = (uint64_t)1 << s->partition_log2, bits = 0;
    uint64_t full = s->rows / f, rest = s->rows % f;
    /* per channel: its order and its offset's length (version 8: at least 1 bit "the previous
     * channel's order", 1 bit "relative offset" and the length); its r in each partition (version
     * 8: at least 1 bit "the previous channel's r") */
    uint64_t head = s->version >= 8 ? 1 + 1 + 5 : s->version >= 2 ? 6 + 5 : 6, rbits = s->version >= 8 ? 1 : 5;
    uint64_t area = s->version >= 3 ? 32 : 0; /* per partition: the length of unary area A */
    bits += (uint64_t)s->nc * (s->version >= 6 ? MAP_BITS : 1); /* each channel's map (grid flag) */
    if (s->version >= 7 && s->rows) bits += s->nc;             /* each channel's start flag */
    bits += full * (s->nc * (head + rbits * (f / part)) + area * (f / part));
    if (rest) bits += (uint64_t)s->nc * (head + rbits * ((rest + part - 1) / part)) + area * ((rest + part - 1) / part);
    return bits;
}

int lpc_parse_stream(const uint8_t *in, size_t len, const ephys_view_t *dst, uint32_t nc, stream_t *s)
{
    if (len < STREAM_HEADER) return EPHYS_ERR_TRUNCATED;
    if (in[0] < 1 || in[0] > STREAM_VERSION || in[0] == EPHYS_LPC_FLOAT_VERSION) return EPHYS_ERR_VERSION;
    size_t payload = STREAM_HEADER + (in[0] < 3 ? LANE_TABLE : in[0] >= 8 ? 4 : 0);
    if (len < payload) return EPHYS_ERR_TRUNCATED;
    s->ans_len = in[0] >= 8 ? ephys_get_le32(in + STREAM_HEADER) : 0; /* version 8: the rANS area, then the bits */
    if (s->ans_len > len - payload) return EPHYS_ERR_CORRUPT;
    payload += s->ans_len;
    s->version = in[0];
    s->dtype = in[1];
    s->frame_log2 = in[2];
    s->partition_log2 = in[3];
    s->shift = in[4];
    s->neighbours = in[5];
    s->n_samples = ephys_get_le32(in + 8);
    s->nc = ephys_get_le32(in + 12);
    s->max_error = ephys_get_le32(in + 16);
    s->capped = s->version >= 8 ? in[6] & 1 : in[6];
    /* byte 6 of version 8: 1 + 2 log2 G (checked below) */
    s->ans_groups = s->version >= 8 && in[6] >> 1 <= 2 ? 1 << (in[6] >> 1) : 0;
    s->segments = s->version >= 7 ? in[7] : 1; /* before version 7, byte 7 is 0 */
    s->lanes = nc * s->segments;
    s->rows = s->segments ? segment_rows(s->n_samples, s->segments) : 0;
    /* version 7: every segment holds samples, and segments are for few channels only */
    int segments_ok = s->version >= 7 ? s->segments >= 1 && s->segments <= MAX_SEGMENTS &&
                                            (s->segments == 1 || ((uint64_t)nc * s->segments <= MAX_SEGMENT_LANES &&
                                                                  (s->segments - 1) * s->rows < s->n_samples))
                                      : in[7] == 0;
    int byte6_ok = s->version >= 8 ? (in[6] & 1) && in[6] >> 1 <= 2 : in[6] <= (s->version >= 4);
    if (s->dtype != dst->dtype || s->n_samples != dst->n_samples || s->nc != nc || !byte6_ok ||
        !segments_ok || s->frame_log2 < MIN_FRAME_LOG2 || s->frame_log2 > MAX_FRAME_LOG2 ||
        s->partition_log2 < MIN_PARTITION_LOG2 || s->partition_log2 > MAX_PARTITION_LOG2 ||
        s->partition_log2 > s->frame_log2 || s->shift < 1 || s->shift > MAX_COEF_SHIFT ||
        s->dtype < EPHYS_DTYPE_INT8 || s->dtype > EPHYS_DTYPE_INT32 || s->neighbours > MAX_NEIGHBOURS ||
        s->max_error > EPHYS_LPC_MAX_ERROR)
        return EPHYS_ERR_CORRUPT;
    if (min_stream_bits(s) > 8 * (uint64_t)(len - payload)) return EPHYS_ERR_CORRUPT;
    return EPHYS_OK;
}

/* Version 6: a channel's dictionary (encode.c writes it), its values checked
 * to rise within the dtype's range; the bits left must hold one per value
 * before they are allocated. */
static int read_dictionary(posreader_t *r, int dtype, uint32_t *count, int32_t **values)
{
    int32_t lo, hi;
    dtype_range(dtype, &lo, &hi);
    uint32_t n = pr_get(r, DICTIONARY_COUNT_BITS) + 1;
    int64_t v = i32_of_u32(pr_get(r, 32));
    int rice = (int)pr_get(r, 5);
    if (r->err || v < lo || v > hi || n - 1 > 8 * (uint64_t)r->len - r->pos) return EPHYS_ERR_CORRUPT;
    int32_t *out = malloc(n * sizeof(int32_t));
    if (!out) return EPHYS_ERR_NOMEM;
    *values = out;
    *count = n;
    out[0] = (int32_t)v;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t q = 0;
        while (q < ESCAPE_Q && !r->err && !pr_get(r, 1)) q++;
        int64_t g = q < ESCAPE_Q ? ((int64_t)q << rice) | (rice ? pr_get(r, rice) : 0) : pr_get(r, 32);
        v += g + 1;
        if (r->err || v > hi) return EPHYS_ERR_CORRUPT;
        out[i] = (int32_t)v;
    }
    return EPHYS_OK;
}


/* One lane's column, or a run of columns, of a partition: coded values ->
 * residuals with the neighbour term (lows_column, or for a capped channel its
 * unary parts added).  Returns nonzero on a corrupt stream. */
static int column(const posreader_t *r, const lpc_kernels_t *kern, uint32_t *col, size_t len, int k, int b,
                  uint64_t lows, uint32_t **unary, int32_t gain, uint32_t *sum, const uint32_t *leaving, int m)
{
    if (k == ZERO_PARTITION) {
        memset(col, 0, len * sizeof(uint32_t));
    } else if (b) { /* col holds its fields; its next values over the cap, and the neighbour term */
        size_t taken = kern->capped_column(col, len, k, b, *unary, gain, sum, leaving, m);
        if (taken == UNARY_OVERFLOW) return 1;
        *unary += taken;
        return 0;
    } else { /* low bits and neighbour term fused */
        return kern->lows_column(r->buf, r->len, lows, k, *unary, col, len, gain, sum, leaving, m);
    }
    kern->column_residuals(col, len, gain, sum, leaving, m);
    return 0;
}

/* One partition (rows [t, t + pn) of every lane) into dst: Rice parameters
 * (and caps), the length of unary area A, the low-bits area, unary area A
 * (channels [0, h)), unary area B (channels [h, nc)); a channel's values are
 * its segments' pn rows each, one segment after the other, and so are its
 * columns here (segment g of channel c: column c S + g).  The unary parts of
 * the whole partition first (a capped channel's fields before them: they say
 * how many it has), then SUB_ROWS rows at a time (a whole channel at once
 * where the partition is that short): low bits and the neighbour term, to
 * rows (lane g nc + c: a segment's channels side by side, as the output holds
 * them), synthesis. */
static int decode_partition(posreader_t *r, const lpc_kernels_t *kern, const stream_t *s, decoder_t *w, size_t t,
                            size_t pn, int top, int wide, int grids, const ephys_view_t *dst, uint64_t c0)
{
    uint32_t nc = s->nc, h = unary_split(nc), *cm = w->block.cm, segments = s->segments;
    size_t sp = pn * segments; /* a channel's values */
    int m = s->neighbours, *rice = w->block.rice, *cap = w->block.cap;
    uint64_t lows = 0;
    for (uint32_t c = 0; c < nc; c++) {
        /* version 8: r may be the previous channel's, a model the previous one's or next to it (encode.c) */
        int same_k = s->version >= 8 && c > 0 && pr_get(r, 1), b = 0;
        int k = same_k ? rice[c - 1] : (int)pr_get(r, 5), prev = c > 0 && rice[c - 1] != ZERO_PARTITION ? w->model[c - 1] : -1;
        w->model[c] = -1;
        if (s->version >= 8 && k != ZERO_PARTITION && pr_get(r, 1)) { /* rANS: a model, the k low bits here */
            if (prev >= 0 && pr_get(r, 1))
                w->model[c] = prev;
            else if (prev >= 0 && pr_get(r, 1))
                w->model[c] = prev + (pr_get(r, 1) ? 1 : -1);
            else
                w->model[c] = (int)pr_get(r, ANS_MODEL_BITS);
            if (k > ANS_MAX_RICE || !s->ans_len || w->model[c] < 0 || w->model[c] >= ANS_MODELS)
                return EPHYS_ERR_CORRUPT;
            b = ANS_CAP;
        } else if (s->capped && k != ZERO_PARTITION) {
            b = (int)pr_get(r, CAP_BITS);
            if (b && k + b > MAX_CAPPED_FIELD) return EPHYS_ERR_CORRUPT;
        }
        w->lows_at[c] = lows; /* from the low-bits area's start */
        if (k != ZERO_PARTITION) lows += (uint64_t)(w->model[c] >= 0 ? k : k + b) * sp;
        rice[c] = k;
        cap[c] = b;
    }
    uint64_t area_a = pr_get(r, 32), nbits = 8 * (uint64_t)r->len;
    uint64_t pos_a = r->pos + lows, pos_b = pos_a + area_a;
    if (r->err || pos_b > nbits) return EPHYS_ERR_CORRUPT;
    for (uint32_t c = 0; c < nc; c++) w->lows_at[c] += r->pos;
    /* the unary parts: each area parsed whole (its channels' values back to
     * back, so that the two parsing chains overlap all along), after the
     * capped channels' fields, which say how many values each column has */
    uint32_t *qa = w->unary, *qb = w->unary + (size_t)h * sp + 8;
    size_t na = 0, nb = 0;
    /* taken whole, a channel's segments are one run of columns (one count of unary parts) */
    size_t step = segments > 1 && pn * s->lanes <= WHOLE_PARTITION ? pn : SUB_ROWS;
    uint32_t run = step == pn ? segments : 1;
    for (uint32_t c = 0; c < nc; c++) {
        if (rice[c] == ZERO_PARTITION) continue;
        size_t *count = c < h ? &na : &nb;
        size_t ans_at_cap = 0;
        if (w->model[c] >= 0) { /* the channel's symbols in order, its segments' one after the other */
            ans_at_cap = kern->ans_fields(&w->ans, w->ans_table + (size_t)w->model[c] * ANS_SCALE, r->buf, r->len,
                                          w->lows_at[c], rice[c], cm + (size_t)c * sp, sp);
            if (ans_at_cap == SIZE_MAX) return EPHYS_ERR_CORRUPT;
        }
        for (uint32_t g = 0; g < segments; g += run) {
            size_t v = (size_t)c * segments + g, n = pn * run;
            if (w->model[c] >= 0 && run == segments) {
                n = ans_at_cap;
            } else if (w->model[c] >= 0) { /* a segment's share of the values at the cap */
                n = 0;
                for (size_t j = 0; j < pn; j++) n += cm[v * pn + j] >> rice[c] == ANS_ESCAPE;
            } else if (cap[c])
                n = kern->capped_fields(r->buf, r->len, w->lows_at[c] + (uint64_t)g * pn * (uint64_t)(rice[c] + cap[c]),
                                        rice[c], cap[c], cm + v * pn, pn * run);
            w->unary_at[v] = (c < h ? qa : qb) + *count;
            *count += n;
        }
    }
    if (!kern->unary_areas(r->buf, r->len, &pos_a, qa, na, &pos_b, qb, nb)) return EPHYS_ERR_CORRUPT;
    memset(qa + na, 0, 8 * sizeof(uint32_t)); /* read (and masked) by the AVX2 expand */
    memset(qb + nb, 0, 8 * sizeof(uint32_t));
    if (pos_a != r->pos + lows + area_a || pos_b > nbits) return EPHYS_ERR_CORRUPT;
    if (m) memset(w->sum, 0, sp * sizeof(uint32_t));
    r->pos = pos_b;
    for (size_t j0 = 0; j0 < pn; j0 += step) {
        size_t len = pn - j0 < step ? pn - j0 : step;
        for (uint32_t c = 0; c < nc; c++) {
            int k = rice[c], b = cap[c];
            for (uint32_t g = 0; g < segments; g += run) {
                size_t v = (size_t)c * segments + g;
                uint32_t *col = cm + v * pn + j0, *sum = w->sum + g * pn + j0;
                uint32_t *unary = w->unary_at[v] + (b ? 0 : j0);
                uint64_t at = w->lows_at[c] + ((uint64_t)g * pn + j0) * (uint64_t)k;
                if (column(r, kern, col, len * run, k, b, at, &unary, w->block.gain[c], sum,
                           m && c >= (uint32_t)m ? col - (size_t)m * sp : NULL, m))
                    return EPHYS_ERR_CORRUPT;
                if (b) w->unary_at[v] = unary;
            }
        }
        kern->transpose(cm + j0, pn, len, s->lanes, segments > 1 ? w->order : NULL, w->e);
        int err = lpc_synthesize(w, kern, s, t + j0, len, top, wide, grids, dst, c0, s->lanes);
        if (err) return err;
    }
    return EPHYS_OK;
}

/* Version 7: the starts of each channel's lanes (encode.c) before the first
 * frame's headers, as zigzag(x0 - d) in start (flagged in w->flags); after the
 * headers, finish_starts gives each lane its history: x0, or d. */
static int read_starts(posreader_t *r, const stream_t *s, decoder_t *w, uint32_t *start)
{
    for (uint32_t c = 0; c < s->nc; c++) {
        int use = (int)pr_get(r, 1), n = use ? (int)pr_get(r, 6) : 0;
        if (n > 32) return EPHYS_ERR_CORRUPT;
        for (uint32_t g = 0; g < s->segments; g++) {
            uint32_t v = g * s->nc + c;
            w->flags[v] = use;
            start[v] = n ? pr_get(r, n) : 0;
        }
    }
    return r->err ? EPHYS_ERR_CORRUPT : EPHYS_OK;
}

static int finish_starts(const stream_t *s, decoder_t *w, const uint32_t *start)
{
    int32_t lo, hi;
    dtype_range(s->dtype, &lo, &hi);
    uint32_t nv = s->lanes;
    lpc_frame_fill_history(&w->block, nv);
    for (uint32_t v = 0; v < nv; v++) {
        if (!w->flags[v]) continue;
        int32_t x0 = i32_of_u32((uint32_t)w->block.mean[v] + (uint32_t)unzigzag(start[v])); /* modulo 2^32 */
        if (x0 < lo || x0 > hi) return EPHYS_ERR_CORRUPT;
        for (size_t t = 0; t < HIST; t++) w->block.x[t * nv + v] = x0;
    }
    return EPHYS_OK;
}

/* Each channel's map (grid, dictionary or none) to its first lane, then to its others. */
static int read_maps(bitreader_t *lanes, posreader_t *pr, const stream_t *s, decoder_t *w, int *grids)
{
    block_t *b = &w->block;
    int err = EPHYS_OK, near = s->max_error > 0;
    *grids = 0;
    for (uint32_t c = 0; c < s->nc && !err; c++) {
        fields_t f = channel_fields(lanes, pr, s, c);
        uint32_t v = c;
        b->scale[v] = 1, b->base[v] = 0;
        uint32_t map = field(&f, s->version >= 6 ? MAP_BITS : 1);
        if (map == MAP_GRID) {
            b->scale[v] = field(&f, 32);
            b->base[v] = field(&f, 32);
            if (b->scale[v] < 2 || b->base[v] >= b->scale[v] || near) err = EPHYS_ERR_CORRUPT;
            *grids = 1;
        } else if (map == MAP_DICTIONARY && !near) {
            err = read_dictionary(pr, s->dtype, &w->dict_count[v], &w->dict_values[v]);
            *grids = w->dictionaries = 1;
        } else if (map != MAP_NONE) {
            err = EPHYS_ERR_CORRUPT;
        }
        if (fields_err(&f)) err = EPHYS_ERR_CORRUPT;
        for (uint32_t l = v + s->nc; l < s->lanes && !err; l += s->nc) {
            b->scale[l] = b->scale[v], b->base[l] = b->base[v];
            w->dict_count[l] = w->dict_count[v], w->dict_values[l] = w->dict_values[v];
        }
    }
    return err;
}

/* A block's decoding in steps (lpc_decoding_open, _step, _close): its stream,
 * decoder and where it stands. */
struct lpc_decoding {
    stream_t s;
    decoder_t w;
    const lpc_kernels_t *kern;
    bitreader_t lanes[LANES]; /* versions 1 and 2 */
    posreader_t pr;           /* later versions */
    ephys_view_t dst;
    uint64_t c0;
    int grids, top, wide;
    size_t t0, ps; /* the next frame, and the next partition in it (0: the frame's headers first) */
};

lpc_decoding_t *lpc_decoding_open(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc,
                                  const lpc_decoding_t *share, int *err)
{
    lpc_decoding_t *d = malloc(sizeof(*d));
    if (!d) {
        *err = EPHYS_ERR_NOMEM;
        return NULL;
    }
    stream_t *s = &d->s;
    if ((*err = lpc_parse_stream(in, len, dst, nc, s))) {
        free(d);
        return NULL;
    }
    size_t frame = (size_t)1 << s->frame_log2, part = (size_t)1 << s->partition_log2;
    size_t fl = s->rows < frame ? s->rows : frame;
    decoder_t *w = &d->w;
    if ((*err = decoder_alloc(w, fl, fl < part ? fl : part, s, share ? &share->w : NULL))) {
        free(d);
        return NULL;
    }
    d->kern = lpc_kernels();
    d->dst = *dst;
    d->c0 = c0;
    d->t0 = d->ps = 0;
    d->grids = d->top = d->wide = 0;
    size_t bits_at = STREAM_HEADER + (s->version >= 8 ? 4 + s->ans_len : 0);
    d->pr = (posreader_t){in + bits_at, len - bits_at, 0, 0};
    if (s->version < 3) *err = lpc_lanes_open(d->lanes, in, len);
    if (s->ans_len) {
        w->ans_table = lpc_ans_decode_table();
        if (ans_open(&w->ans, in + STREAM_HEADER + 4, s->ans_len, s->ans_groups)) *err = EPHYS_ERR_CORRUPT;
    }
    if (!*err) *err = read_maps(d->lanes, &d->pr, s, w, &d->grids);
    return d; /* on an error, for lpc_decoding_close */
}

/* A frame's headers: the lanes' starts (version 7's first frame), each channel's order, weights and offset. */
static int frame_headers(lpc_decoding_t *d)
{
    stream_t *s = &d->s;
    decoder_t *w = &d->w;
    uint32_t nv = s->lanes;
    int err = EPHYS_OK, starts = s->version >= 7 && d->t0 == 0;
    memset(w->block.coef, 0, (size_t)EPHYS_LPC_MAX_ORDER * nv * sizeof(int32_t));
    /* version 7: the lanes' starts (w->e, free until the first partition) */
    if (starts) err = read_starts(&d->pr, s, w, (uint32_t *)w->e);
    for (uint32_t c = 0; c < s->nc && !err; c++) {
        fields_t f = channel_fields(d->lanes, &d->pr, s, c);
        err = lpc_read_channel_header(&f, s, w, c);
    }
    if (!err && starts) err = finish_starts(s, w, (uint32_t *)w->e);
    else if (!err && d->t0 == 0) lpc_frame_fill_history(&w->block, nv);
    if (!err) d->top = lpc_frame_setup(&w->block, nv, s->dtype, s->shift, &d->wide);
    return err;
}

static int step(lpc_decoding_t *d, int *done);

int lpc_decoding_step(lpc_decoding_t *d, int *done)
{
    decoder_t *w = &d->w;
    int32_t *history = w->block.x;
    size_t bytes = (size_t)HIST * d->s.lanes * sizeof(int32_t);
    if (w->rows) { /* versions 3 on: the rows after their history in the work area, then the history back */
        memcpy(w->rows, history, bytes);
        w->block.x = w->rows;
    }
    int err = step(d, done);
    if (w->rows) {
        memcpy(history, w->rows, bytes);
        w->block.x = history;
    }
    return err;
}

static int step(lpc_decoding_t *d, int *done)
{
    stream_t *s = &d->s;
    decoder_t *w = &d->w;
    size_t frame = (size_t)1 << s->frame_log2, part = (size_t)1 << s->partition_log2, t0 = d->t0;
    size_t nt = s->rows - t0 < frame ? s->rows - t0 : frame;
    int err = EPHYS_OK;
    *done = t0 >= s->rows;
    if (*done) return EPHYS_OK;
    if (s->version == 1) { /* a whole frame, channel group by channel group */
        memset(w->block.coef, 0, (size_t)EPHYS_LPC_MAX_ORDER * s->lanes * sizeof(int32_t));
        err = lpc_lanes_grouped_frame(d->lanes, d->kern, s, w, t0, nt, d->grids, &d->dst, d->c0);
        d->ps = nt;
    } else { /* headers, then partition by partition: a few rows of every channel at a time */
        if (d->ps == 0) err = frame_headers(d);
        size_t pn = nt - d->ps < part ? nt - d->ps : part;
        if (!err && s->version >= 3)
            err = decode_partition(&d->pr, d->kern, s, w, t0 + d->ps, pn, d->top, d->wide, d->grids, &d->dst, d->c0);
        else if (!err)
            err = lpc_lanes_partition(d->lanes, d->kern, s, w, t0 + d->ps, pn, d->top, d->wide, d->grids, &d->dst,
                                      d->c0);
        d->ps += pn;
    }
    if (d->ps == nt) { /* the frame's end */
        if (s->version < 3) lpc_frame_shift_history(&w->block, nt, s->lanes); /* later versions shift as they synthesize */
        d->t0 += nt, d->ps = 0;
        *done = d->t0 >= s->rows;
    }
    return err;
}

int lpc_decoding_close(lpc_decoding_t *d, int err)
{
    if (!d) return err;
    stream_t *s = &d->s;
    /* every stream must end here: fewer than 8 padding bits, all zero */
    if (!err && s->version >= 3) {
        posreader_t *pr = &d->pr;
        uint64_t rest = 8 * (uint64_t)pr->len - pr->pos;
        if (pr->err || rest >= 8 || (rest && pr_get(pr, (int)rest))) err = EPHYS_ERR_CORRUPT;
    }
    if (!err && s->version < 3) err = lpc_lanes_end(d->lanes);
    if (!err && s->ans_len && ans_close(&d->w.ans)) err = EPHYS_ERR_CORRUPT; /* every state back at its start */
    decoder_free(&d->w);
    free(d);
    return err;
}

int lpc_decode_block(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    int err, done = 0;
    lpc_decoding_t *d = lpc_decoding_open(in, len, dst, c0, nc, NULL, &err);
    while (d && !err && !done) err = lpc_decoding_step(d, &done);
    return lpc_decoding_close(d, err);
}
