/* The decoder of stream versions 1 and 2 (development builds of 0.2.0): four
 * lanes, bit streams read most significant bit first, channel c in lane c % 4;
 * each value coded whole; the neighbour term in int64.  Their layout is in
 * docs/format.md; decode.c runs their frame loop. */
#include <string.h>

#include "decoder.h"

int lpc_lanes_open(bitreader_t *lanes, const uint8_t *in, size_t len)
{
    const uint8_t *at = in + STREAM_HEADER + LANE_TABLE, *end = in + len;
    for (int l = 0; l < LANES; l++) {
        uint32_t lane_len = ephys_get_le32(in + STREAM_HEADER + 4 * l);
        if (lane_len > (size_t)(end - at)) return EPHYS_ERR_CORRUPT;
        lanes[l] = (bitreader_t){at, at + lane_len, 0, 0, 0};
        at += lane_len;
    }
    return at != end ? EPHYS_ERR_CORRUPT : EPHYS_OK;
}

int lpc_lanes_end(bitreader_t *lanes)
{
    for (int l = 0; l < LANES; l++) {
        bitreader_t *br = &lanes[l];
        br_refill(br);
        if (br->p != br->end || br->n >= 8 || (br->n && (br->acc >> (64 - br->n)))) return EPHYS_ERR_CORRUPT;
    }
    return EPHYS_OK;
}

/* One channel's partition into a strided column; the reader lives in locals. */
static void rice_partition(bitreader_t *r, int k, int32_t *out, size_t pn, uint32_t nc)
{
    bitreader_t br = *r;
    for (size_t j = 0; j < pn; j++) out[j * nc] = unzigzag(br_rice(&br, k));
    *r = br;
}

/* One partition (pn rows) of g <= LANES consecutive channels, lane i holding
 * channel i of them, into dst_e (row stride nc). */
static int read_lane_partition(const lpc_kernels_t *kern, bitreader_t *lanes, uint32_t g, int32_t *dst_e, size_t pn,
                               uint32_t nc)
{
    int k[LANES], zero = 0;
    for (uint32_t i = 0; i < g; i++) {
        k[i] = (int)br_get(&lanes[i], 5);
        zero |= k[i] == ZERO_PARTITION;
    }
    if (!(g == LANES && !zero && kern->rice_lanes(lanes, k, dst_e, pn, nc))) {
        for (uint32_t i = 0; i < g; i++) {
            if (k[i] == ZERO_PARTITION)
                for (size_t j = 0; j < pn; j++) dst_e[j * nc + i] = 0;
            else
                rice_partition(&lanes[i], k[i], dst_e + i, pn, nc);
        }
    }
    for (uint32_t i = 0; i < g; i++)
        if (lanes[i].err) return EPHYS_ERR_CORRUPT;
    return EPHYS_OK;
}

/* The neighbour term of versions 1 and 2: channel c's residual e is predicted
 * from S_c, the sum of e over channels [c - m, c) at the same sample, and the
 * coded value is v = wrap(e - ((G_c S_c + 64) >> 7)) in int64. */
static inline int32_t neighbour_term(int32_t gain, int64_t sum)
{
    return wrap32(floor_shift(gain * sum + (1 << (GAIN_SHIFT - 1)), GAIN_SHIFT));
}

/* v -> e in place.  Each row is a serial chain across channels, so four rows
 * run side by side for the CPU to overlap them. */
#define NB_ROWS 4
__attribute__((noinline)) static void neighbours_inverse(int32_t *e, size_t nt, uint32_t nc, int m, const int32_t *gain)
{
    if (!m) return;
    size_t t = 0;
    for (; t + NB_ROWS <= nt; t += NB_ROWS) {
        int32_t *row = e + t * nc;
        int64_t sum[NB_ROWS] = {0};
        for (uint32_t c = 0; c < nc; c++) {
            for (int k = 0; k < NB_ROWS; k++) {
                int32_t *r = row + (size_t)k * nc;
                int32_t ev = i32_of_u32((uint32_t)r[c] + (uint32_t)neighbour_term(gain[c], sum[k]));
                r[c] = ev;
                sum[k] += ev;
                if (c >= (uint32_t)m) sum[k] -= r[c - m];
            }
        }
    }
    for (; t < nt; t++) {
        int32_t *r = e + t * nc;
        int64_t sum = 0;
        for (uint32_t c = 0; c < nc; c++) {
            int32_t ev = i32_of_u32((uint32_t)r[c] + (uint32_t)neighbour_term(gain[c], sum));
            r[c] = ev;
            sum += ev;
            if (c >= (uint32_t)m) sum -= r[c - m];
        }
    }
}

/* Rows [t, t + nt) from their coded values in w->e. */
static int synthesize_lanes(decoder_t *w, const lpc_kernels_t *kern, const stream_t *s, size_t t, size_t nt, int top,
                            int wide, int grids, const ephys_view_t *dst, uint64_t c0)
{
    neighbours_inverse(w->e, nt, s->nc, s->neighbours, w->block.gain);
    return lpc_synthesize(w, kern, s, t, nt, top, wide, grids, dst, c0, s->nc);
}

int lpc_lanes_grouped_frame(bitreader_t *lanes, const lpc_kernels_t *kern, const stream_t *s, decoder_t *w,
                            size_t t0, size_t nt, int grids, const ephys_view_t *dst, uint64_t c0)
{
    uint32_t nc = s->nc;
    size_t part = (size_t)1 << s->partition_log2;
    int err = EPHYS_OK;
    for (uint32_t cg = 0; cg < nc && !err; cg += LANES) {
        uint32_t g = nc - cg < LANES ? nc - cg : LANES;
        for (uint32_t c = cg; c < cg + g && !err; c++) {
            fields_t f = channel_fields(lanes, NULL, s, c);
            err = lpc_read_channel_header(&f, s, w, c);
        }
        for (size_t ps = 0; !err && ps < nt; ps += part) {
            size_t pn = nt - ps < part ? nt - ps : part;
            err = read_lane_partition(kern, lanes, g, w->e + ps * nc + cg, pn, nc);
        }
    }
    if (err) return err;
    int wide, top = lpc_frame_setup(&w->block, nc, s->dtype, s->shift, &wide);
    return synthesize_lanes(w, kern, s, t0, nt, top, wide, grids, dst, c0);
}

int lpc_lanes_partition(bitreader_t *lanes, const lpc_kernels_t *kern, const stream_t *s, decoder_t *w, size_t t,
                        size_t pn, int top, int wide, int grids, const ephys_view_t *dst, uint64_t c0)
{
    uint32_t nc = s->nc;
    int err = EPHYS_OK;
    for (uint32_t cg = 0; cg < nc && !err; cg += LANES)
        err = read_lane_partition(kern, lanes, nc - cg < LANES ? nc - cg : LANES, w->e + cg, pn, nc);
    return err ? err : synthesize_lanes(w, kern, s, t, pn, top, wide, grids, dst, c0);
}
