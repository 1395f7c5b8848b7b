/* The decoder: a stream's header, its grids, dictionaries and frames, and
 * the partitions of versions 3, 4 and 6 (those of versions 1 and 2 are in
 * decode_lanes.c; what every version shares, in synthesis.c).  A decoder must
 * survive any byte string: every field is checked before it is used, and a
 * stream that does not end where its last field ends is corrupt. */
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "floats.h" /* its stream version, which integer streams skip */

static void decoder_free(decoder_t *w)
{
    for (uint32_t c = 0; w->dict_values && c < w->nc; c++) free(w->dict_values[c]);
    free(w->dict_values); free(w->dict_count);
    lpc_block_free(&w->block);
    free(w->e); free(w->flags); free(w->sum); free(w->lows_at); free(w->unary); free(w->unary_at);
}

static int decoder_alloc(decoder_t *w, size_t f, size_t part, uint32_t nc)
{
    memset(w, 0, sizeof(*w));
    if (lpc_block_alloc(&w->block, f, part, nc)) return EPHYS_ERR_NOMEM;
    w->e = malloc(f * nc * sizeof(int32_t));
    w->flags = malloc(nc * sizeof(int32_t));
    w->sum = malloc(part * sizeof(uint32_t));
    w->lows_at = malloc(nc * sizeof(uint64_t));
    w->unary = malloc((nc * part + 16) * sizeof(uint32_t)); /* + 8 after each area: the AVX2 expand reads 8 at a time */
    w->unary_at = malloc(nc * sizeof(uint32_t *));
    w->nc = nc;
    w->dict_count = calloc(nc, sizeof(uint32_t));
    w->dict_values = calloc(nc, sizeof(int32_t *));
    if (!w->dict_count || !w->dict_values || !w->e || !w->flags || !w->sum || !w->lows_at || !w->unary ||
        !w->unary_at) {
        decoder_free(w);
        return EPHYS_ERR_NOMEM;
    }
    return EPHYS_OK;
}

/* The fewest bits the frames of a stream can take (every partition a zero one). */
static uint64_t min_stream_bits(const stream_t *s)
{
    uint64_t f = (uint64_t)1 << s->frame_log2, part = (uint64_t)1 << s->partition_log2, bits = 0;
    uint64_t full = s->n_samples / f, rest = s->n_samples % f;
    uint64_t head = s->version >= 2 ? 6 + 5 : 6; /* order, m */
    uint64_t area = s->version >= 3 ? 32 : 0; /* per partition: the length of unary area A */
    bits += (uint64_t)s->nc * (s->version >= 6 ? MAP_BITS : 1); /* each channel's map (grid flag) */
    bits += full * (s->nc * (head + 5 * (f / part)) + area * (f / part));
    if (rest) bits += (uint64_t)s->nc * (head + 5 * ((rest + part - 1) / part)) + area * ((rest + part - 1) / part);
    return bits;
}

int lpc_parse_stream(const uint8_t *in, size_t len, const ephys_view_t *dst, uint32_t nc, stream_t *s)
{
    if (len < STREAM_HEADER) return EPHYS_ERR_TRUNCATED;
    if (in[0] < 1 || in[0] > STREAM_VERSION || in[0] == EPHYS_LPC_FLOAT_VERSION) return EPHYS_ERR_VERSION;
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
    if (s->dtype != dst->dtype || s->n_samples != dst->n_samples || s->nc != nc || in[6] > (s->version >= 4) ||
        in[7] || s->frame_log2 < MIN_FRAME_LOG2 || s->frame_log2 > MAX_FRAME_LOG2 ||
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


#define SUB_ROWS 256 /* rows of a partition taken from its columns to the output at a time: they stay in L1 */

/* One partition (rows [t, t + pn) of every channel) into dst: Rice parameters
 * (and caps), the length of unary area A, the low-bits area, unary area A
 * (channels [0, h)), unary area B (channels [h, nc)).  The unary parts of the
 * whole partition first (a capped channel's fields before them: they say how
 * many it has), then SUB_ROWS rows at a time: low bits and the neighbour term
 * per channel, to rows, synthesis. */
static int decode_partition(posreader_t *r, const lpc_kernels_t *kern, const stream_t *s, decoder_t *w, size_t t,
                            size_t pn, int top, int wide, int grids, const ephys_view_t *dst, uint64_t c0)
{
    uint32_t nc = s->nc, h = unary_split(nc), *cm = w->block.cm;
    int m = s->neighbours, *rice = w->block.rice, *cap = w->block.cap;
    uint64_t lows = 0;
    for (uint32_t c = 0; c < nc; c++) {
        int k = (int)pr_get(r, 5), b = 0;
        if (s->capped && k != ZERO_PARTITION) {
            b = (int)pr_get(r, CAP_BITS);
            if (b && k + b > MAX_CAPPED_FIELD) return EPHYS_ERR_CORRUPT;
        }
        w->lows_at[c] = lows; /* from the low-bits area's start */
        if (k != ZERO_PARTITION) lows += (uint64_t)(k + b) * pn;
        rice[c] = k;
        cap[c] = b;
    }
    uint64_t area_a = pr_get(r, 32), nbits = 8 * (uint64_t)r->len;
    uint64_t pos_a = r->pos + lows, pos_b = pos_a + area_a;
    if (r->err || pos_b > nbits) return EPHYS_ERR_CORRUPT;
    for (uint32_t c = 0; c < nc; c++) w->lows_at[c] += r->pos;
    /* the unary parts: each area parsed whole (its channels' values back to
     * back, so that the two parsing chains overlap all along), after the
     * capped channels' fields, which say how many values each has */
    uint32_t *qa = w->unary, *qb = w->unary + (size_t)h * pn + 8;
    size_t na = 0, nb = 0;
    for (uint32_t c = 0; c < nc; c++) {
        if (rice[c] == ZERO_PARTITION) continue;
        size_t n = cap[c] ? kern->capped_fields(r->buf, r->len, w->lows_at[c], rice[c], cap[c], cm + (size_t)c * pn, pn)
                          : pn;
        size_t *count = c < h ? &na : &nb;
        w->unary_at[c] = (c < h ? qa : qb) + *count;
        *count += n;
    }
    if (!kern->unary_areas(r->buf, r->len, &pos_a, qa, na, &pos_b, qb, nb)) return EPHYS_ERR_CORRUPT;
    memset(qa + na, 0, 8 * sizeof(uint32_t)); /* read (and masked) by the AVX2 expand */
    memset(qb + nb, 0, 8 * sizeof(uint32_t));
    if (pos_a != r->pos + lows + area_a || pos_b > nbits) return EPHYS_ERR_CORRUPT;
    if (m) memset(w->sum, 0, pn * sizeof(uint32_t));
    r->pos = pos_b;
    for (size_t j0 = 0; j0 < pn; j0 += SUB_ROWS) {
        size_t len = pn - j0 < SUB_ROWS ? pn - j0 : SUB_ROWS;
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t *col = cm + (size_t)c * pn + j0;
            uint32_t *leaving = m && c >= (uint32_t)m ? col - (size_t)m * pn : NULL;
            int k = rice[c];
            int32_t gain = w->block.gain[c];
            if (k == ZERO_PARTITION) {
                memset(col, 0, len * sizeof(uint32_t));
            } else if (cap[c]) { /* col holds its fields; its next values over the cap, while in L1 */
                size_t taken = kern->add_unary_parts(col, len, k, cap[c], w->unary_at[c]);
                if (taken == UNARY_OVERFLOW) return EPHYS_ERR_CORRUPT;
                w->unary_at[c] += taken;
            } else { /* low bits and neighbour term fused */
                if (kern->lows_column(r->buf, r->len, w->lows_at[c] + (uint64_t)j0 * k, k, w->unary_at[c] + j0, col,
                                      len, gain, w->sum + j0, leaving, m))
                    return EPHYS_ERR_CORRUPT;
                continue;
            }
            kern->column_residuals(col, len, gain, w->sum + j0, leaving, m);
        }
        kern->transpose(cm + j0, pn, len, nc, w->e);
        int err = lpc_synthesize(w, kern, s, t + j0, len, top, wide, grids, dst, c0, nc);
        if (err) return err;
    }
    return EPHYS_OK;
}

int lpc_decode_block(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    stream_t s;
    int err = lpc_parse_stream(in, len, dst, nc, &s);
    if (err) return err;
    const lpc_kernels_t *kern = lpc_kernels();
    size_t n = s.n_samples, frame = (size_t)1 << s.frame_log2, part = (size_t)1 << s.partition_log2;
    size_t fl = n < frame ? n : frame;
    int near = s.max_error > 0;
    decoder_t w;
    if ((err = decoder_alloc(&w, fl, fl < part ? fl : part, nc))) return err;
    bitreader_t lanes[LANES];
    posreader_t pr = {in + STREAM_HEADER, len - STREAM_HEADER, 0, 0};
    if (s.version < 3) err = lpc_lanes_open(lanes, in, len);
    int grids = 0;
    for (uint32_t c = 0; c < nc && !err; c++) {
        fields_t f = channel_fields(lanes, &pr, &s, c);
        w.block.scale[c] = 1, w.block.base[c] = 0;
        uint32_t map = field(&f, s.version >= 6 ? MAP_BITS : 1);
        if (map == MAP_GRID) {
            w.block.scale[c] = field(&f, 32);
            w.block.base[c] = field(&f, 32);
            if (w.block.scale[c] < 2 || w.block.base[c] >= w.block.scale[c] || near) err = EPHYS_ERR_CORRUPT;
            grids = 1;
        } else if (map == MAP_DICTIONARY && !near) {
            err = read_dictionary(&pr, s.dtype, &w.dict_count[c], &w.dict_values[c]);
            grids = w.dictionaries = 1;
        } else if (map != MAP_NONE) {
            err = EPHYS_ERR_CORRUPT;
        }
        if (fields_err(&f)) err = EPHYS_ERR_CORRUPT;
    }
    for (size_t t0 = 0; !err && t0 < n; t0 += frame) {
        size_t nt = n - t0 < frame ? n - t0 : frame;
        memset(w.block.coef, 0, (size_t)EPHYS_LPC_MAX_ORDER * nc * sizeof(int32_t));
        if (s.version == 1) {
            err = lpc_lanes_grouped_frame(lanes, kern, &s, &w, t0, nt, grids, dst, c0);
        } else { /* headers, then partition by partition: a few rows of every channel at a time */
            int wide = 0, top = 0;
            for (uint32_t c = 0; c < nc && !err; c++) {
                fields_t f = channel_fields(lanes, &pr, &s, c);
                err = lpc_read_channel_header(&f, &s, &w, c);
            }
            if (!err && t0 == 0) lpc_frame_fill_history(&w.block, nc);
            if (!err) top = lpc_frame_setup(&w.block, nc, s.dtype, s.shift, &wide);
            for (size_t ps = 0; !err && ps < nt; ps += part) {
                size_t pn = nt - ps < part ? nt - ps : part;
                if (s.version >= 3)
                    err = decode_partition(&pr, kern, &s, &w, t0 + ps, pn, top, wide, grids, dst, c0);
                else
                    err = lpc_lanes_partition(lanes, kern, &s, &w, t0 + ps, pn, top, wide, grids, dst, c0);
            }
        }
        lpc_frame_shift_history(&w.block, nt, nc);
    }
    /* every stream must end here: fewer than 8 padding bits, all zero */
    if (!err && s.version >= 3) {
        uint64_t rest = 8 * (uint64_t)pr.len - pr.pos;
        if (pr.err || rest >= 8 || (rest && pr_get(&pr, (int)rest))) err = EPHYS_ERR_CORRUPT;
    }
    if (!err && s.version < 3) err = lpc_lanes_end(lanes);
    decoder_free(&w);
    return err;
}
