/* What the decoders of every stream version share (decode.c, decode_lanes.c):
 * a channel's header (order, weights, mean, neighbour gain) and the samples
 * from a block of residuals: synthesis, then the grid and dictionary maps, into
 * the output. */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "decoder.h"

int lpc_read_channel_header(fields_t *f, const stream_t *s, decoder_t *w, uint32_t c)
{
    uint32_t nv = s->lanes, v = c; /* segment g in lane g nc + c (decode.c) */
    block_t *b = &w->block;
    int32_t lo, hi;
    dtype_range(s->dtype, &lo, &hi);
    /* version 8: order, weights and d may be the previous channel's, or relative to them */
    int related = s->version >= 8 && c > 0;
    int order = related && field(f, 1) ? b->order[v - 1] : (int)field(f, 6);
    if (order > EPHYS_LPC_MAX_ORDER) return EPHYS_ERR_CORRUPT;
    b->order[v] = order;
    if (order) {
        /* version 8's differences take 0 to 15 bits (0: none, the previous channel's weights) */
        int diff = related && field(f, 1), bits = (int)field(f, 4) + !diff;
        for (int q = 0; q < order; q++) {
            int64_t a = (bits ? field_signed(f, bits) : 0) + (diff ? (int64_t)b->coef[(size_t)q * nv + v - 1] : 0);
            if (a < INT16_MIN || a > INT16_MAX) return EPHYS_ERR_CORRUPT; /* the encoder's weights are 16-bit */
            b->coef[(size_t)q * nv + v] = (int32_t)a;
        }
    }
    b->mean[v] = 0;
    if (s->version >= 2) {
        int relative = related && field(f, 1), nb = (int)field(f, 5);
        int64_t mean = (nb ? unzigzag(field(f, nb)) : 0) + (relative ? (int64_t)b->mean[v - 1] : 0);
        if (mean < lo || mean > hi) return EPHYS_ERR_CORRUPT;
        b->mean[v] = (int32_t)mean;
    }
    b->gain[v] = 0;
    if (s->neighbours && c > 0 && field(f, 1)) b->gain[v] = field_signed(f, GAIN_BITS);
    for (uint32_t l = v + s->nc; l < nv; l += s->nc) { /* version 7: the channel's other segments */
        b->order[l] = order;
        for (int q = 0; q < order; q++) b->coef[(size_t)q * nv + l] = b->coef[(size_t)q * nv + v];
        b->mean[l] = b->mean[v];
        b->gain[l] = b->gain[v];
    }
    return fields_err(f) ? EPHYS_ERR_CORRUPT : EPHYS_OK;
}

/* y -> x into out; returns nonzero if an x falls outside [lo, hi] (corrupt).
 * Each channel's range of y whose x is in [lo, hi] comes first (into bounds:
 * 2 nc values), so that the kernel runs in 32-bit lanes: y scale + base is
 * exact modulo 2^32 for those y. */
static int from_grid(const lpc_kernels_t *kern, const int32_t *rows, size_t nt, uint32_t nc, const uint32_t *scale,
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

/* y -> x of the channels with a dictionary, in rows (nt x nc); nonzero if a y
 * has no value (corrupt). */
static int from_dictionaries(const decoder_t *w, int32_t *rows, size_t nt, uint32_t nc)
{
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t n = w->dict_count[c];
        const int32_t *values = w->dict_values[c];
        if (!n) continue;
        for (size_t t = 0; t < nt; t++) {
            int64_t at = (int64_t)rows[t * nc + c] + n / 2;
            if (at < 0 || at >= n) return 1;
            rows[t * nc + c] = values[at];
        }
    }
    return 0;
}

/* Version 7: rows [t, t + nt) of each segment's lanes (segment g: lanes
 * [g nc, g nc + nc)) to the segment's samples in dst, the padding past the last
 * sample left out.  int16 channels side by side are packed straight into their
 * rows; other views through ephys_view_store. */
static void store_segments(decoder_t *w, const stream_t *s, const int32_t *rows, size_t t, size_t nt,
                           const ephys_view_t *dst, uint64_t c0)
{
    uint32_t nc = s->nc, nv = s->lanes;
    for (uint32_t g = 0; g < s->segments; g++) {
        uint64_t first = g * s->rows + t;
        if (first >= s->n_samples) break;
        size_t n = s->n_samples - first < nt ? (size_t)(s->n_samples - first) : nt;
        const int32_t *from = rows + (size_t)g * nc;
#if defined(__SSE2__)
        if (dst->dtype == EPHYS_DTYPE_INT16 && dst->channel_stride == 1) {
            if (dst->row_crc) dst->row_crc->next_row = UINT64_MAX; /* not counted: the container reads back */
            size_t j = 0;
            if (nc == 4 && dst->sample_stride == 4) { /* a tetrode's rows one after another: two at a time */
                char *o = (char *)dst->base + ((int64_t)first * 4 + (int64_t)c0) * 2;
                for (; j + 2 <= n; j += 2) {
                    __m128i a = _mm_loadu_si128((const __m128i *)(from + j * nv));
                    __m128i b = _mm_loadu_si128((const __m128i *)(from + (j + 1) * nv));
                    _mm_storeu_si128((__m128i *)(o + 8 * j), _mm_packs_epi32(a, b));
                }
            }
            for (; j < n; j++) {
                char *o = (char *)dst->base + ((int64_t)(first + j) * dst->sample_stride + (int64_t)c0) * 2;
                const int32_t *in = from + j * nv;
                uint32_t c = 0;
                for (; c + 8 <= nc; c += 8) {
                    __m128i a = _mm_loadu_si128((const __m128i *)(in + c)), b = _mm_loadu_si128((const __m128i *)(in + c + 4));
                    _mm_storeu_si128((__m128i *)(o + 2 * c), _mm_packs_epi32(a, b));
                }
                if (c + 4 <= nc) {
                    __m128i a = _mm_loadu_si128((const __m128i *)(in + c));
                    _mm_storel_epi64((__m128i *)(o + 2 * c), _mm_packs_epi32(a, a));
                    c += 4;
                }
                for (; c < nc; c++) ephys_store_int16_t(o + 2 * c, (int16_t)ephys_clamp_i32(in[c], INT16_MIN, INT16_MAX));
            }
            continue;
        }
#endif
        for (size_t j = 0; j < n; j++) memcpy(w->seg + j * nc, from + j * nv, nc * sizeof(int32_t));
        ephys_view_store(dst, first, n, c0, nc, w->seg);
    }
}

/* The rows' history sits before them in w->block.x: versions 1 and 2 keep a
 * whole frame there, later versions only the rows being synthesized, whose
 * last HIST rows then become the history of the next (a few KB stay in cache
 * where a frame's rows would stream through it). */
int lpc_synthesize(decoder_t *w, const lpc_kernels_t *kern, const stream_t *s, size_t t, size_t nt, int top,
                   int wide, int grids, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    block_t *block = &w->block;
    int32_t lo, hi;
    dtype_range(s->dtype, &lo, &hi);
    int32_t *rows = block->x + (size_t)(HIST + (s->version >= 3 ? 0 : t % ((size_t)1 << s->frame_log2))) * nc;
    if (s->max_error)
        kern->near(rows, nt, nc, block->coef, top, s->shift, lo, hi, &block->init, block->acc64, w->e, NULL,
                   2 * (int64_t)s->max_error + 1);
    else if (kern->synth(rows, nt, nc, block->coef, top, s->shift, wide, lo, hi, &block->init, w->flags, block->acc64,
                         w->e))
        return EPHYS_ERR_CORRUPT;
    /* acc64 (nc int64 of scratch, free once synthesis is done) holds the 2 nc bounds */
    if (grids && from_grid(kern, rows, nt, nc, block->scale, block->base, lo, hi, w->e, (int32_t *)block->acc64))
        return EPHYS_ERR_CORRUPT;
    if (w->dictionaries && from_dictionaries(w, w->e, nt, nc)) return EPHYS_ERR_CORRUPT;
    if (s->segments > 1)
        store_segments(w, s, grids ? w->e : rows, t, nt, dst, c0);
    else
        ephys_view_store(dst, t, nt, c0, nc, grids ? w->e : rows);
    if (s->version >= 3) lpc_frame_shift_history(block, nt, nc);
    return EPHYS_OK;
}
