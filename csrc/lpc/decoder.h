/* The decoder's parts: streams of versions 3, 4, 6 and 7 and the frame loop of every
 * version (decode.c), the lanes of versions 1 and 2 (decode_lanes.c), the channel
 * headers and synthesis they share (synthesis.c). */
#ifndef EPHYS_LPC_DECODER_H
#define EPHYS_LPC_DECODER_H
#include "block.h"

/* A block's work areas, for frames of F rows and partitions of P rows of the
 * stream's lanes (nc S: version 7's segments). */
typedef struct {
    block_t block;
    int32_t *e;          /* F x nc: coded values, then residuals, of the rows being synthesized; then the
                            samples of the rows on a grid */
    int32_t *flags;      /* per lane: corruption flags of the int32 synthesis */
    uint32_t *dict_count; /* version 6, per lane: the values of its channel's dictionary (0: none) */
    int32_t **dict_values; /* version 6, per lane: x = dict_values[v][y + dict_count[v] / 2]; a channel's
                              lanes share the values of its first */
    int dictionaries;      /* whether any channel has one */
    uint32_t lanes;        /* of the block: its channels times its segments */
    uint32_t segments;     /* S: lanes per channel */
    int32_t *seg;          /* version 7 with S > 1: P x nc, a segment's rows on their way to the output */
    uint32_t *order;       /* version 7 with S > 1: lane g nc + c's column of a partition, c S + g */
    /* versions 3, 4, 6 and 7 */
    uint32_t *sum;       /* P S: the running neighbour sums */
    uint64_t *lows_at;   /* per channel: bit position of its low bits in the partition */
    uint32_t *unary;     /* the values of a partition's unary parts: area A, 8 spare, area B, 8 spare */
    uint32_t **unary_at; /* per column (c S + g): its next values in unary */
    int *model;          /* version 8, per channel: its rANS model in the partition, or -1 */
    ans_decoder_t ans;   /* version 8: the rANS states and words */
    const uint32_t *ans_table;
    int32_t *rows;       /* versions 3 on: (HIST + the rows synthesized at once) x lanes, a step's rows after their
                            history (block.x keeps the history between steps) */
    size_t rows_size, e_size, cm_size, unary_size; /* the values rows, e, block.cm and unary hold */
    void *arrays;                        /* the one allocation of e and the arrays after it (which may be shared) */
} decoder_t;

/* Header fields in either bit order: one lane's, most significant bit first
 * (versions 1 and 2), or the one bit stream's, least significant bit first. */
typedef struct {
    bitreader_t *msb;
    posreader_t *lsb;
} fields_t;

/* The fields of channel c: lane c % LANES (versions 1, 2) or the one stream. */
static inline fields_t channel_fields(bitreader_t *lanes, posreader_t *pr, const stream_t *s, uint32_t c)
{
    return s->version >= 3 ? (fields_t){NULL, pr} : (fields_t){&lanes[c % LANES], NULL};
}

static inline uint32_t field(fields_t *f, int nbits)
{
    return f->lsb ? pr_get(f->lsb, nbits) : br_get(f->msb, nbits);
}

static inline int32_t field_signed(fields_t *f, int nbits)
{
    uint32_t v = field(f, nbits), sign = 1u << (nbits - 1);
    return i32_of_u32((v ^ sign) - sign);
}

static inline int fields_err(const fields_t *f) { return f->lsb ? f->lsb->err : f->msb->err; }

#pragma GCC visibility push(hidden) /* internal: not exported from the extension */
/* decode.c */
/* The stream header against the container's claim (dst's dtype and samples, nc channels). */
int lpc_parse_stream(const uint8_t *in, size_t len, const ephys_view_t *dst, uint32_t nc, stream_t *s);
/* ephys_block_codec_t.decode_block */
int lpc_decode_block(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc);
/* ephys_block_codec_t.decode_open, _step and _close: lpc_decode_block a frame
 * (version 1) or a partition at a time.  share: NULL, or a decoding of the same
 * thread whose partition arrays this one may use too (if they are large enough). */
typedef struct lpc_decoding lpc_decoding_t;
lpc_decoding_t *lpc_decoding_open(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc,
                                  const lpc_decoding_t *share, int *err);
int lpc_decoding_step(lpc_decoding_t *d, int *done);
int lpc_decoding_close(lpc_decoding_t *d, int err);

/* synthesis.c, every version */
/* One channel's frame header (order, weights, offset d, neighbour gain), to each of its lanes. */
int lpc_read_channel_header(fields_t *f, const stream_t *s, decoder_t *w, uint32_t c);
/* Rows [t, t + nt) of the block's nc lanes from their residuals in w->e (which
 * this consumes) into channels [c0, c0 + s->nc) of dst (version 7: each
 * segment's rows to its samples). */
int lpc_synthesize(decoder_t *w, const lpc_kernels_t *kern, const stream_t *s, size_t t, size_t nt, int top,
                   int wide, int grids, const ephys_view_t *dst, uint64_t c0, uint32_t nc);

/* decode_lanes.c, versions 1 and 2 */
/* The lanes after the header, from its table of lane lengths. */
int lpc_lanes_open(bitreader_t *lanes, const uint8_t *in, size_t len);
/* Version 1: a frame (rows [t0, t0 + nt)) channel group by channel group,
 * each group of LANES channels its headers, then its partitions. */
int lpc_lanes_grouped_frame(bitreader_t *lanes, const lpc_kernels_t *kern, const stream_t *s, decoder_t *w,
                            size_t t0, size_t nt, int grids, const ephys_view_t *dst, uint64_t c0);
/* Version 2: the partition of rows [t, t + pn) of every channel, group by group. */
int lpc_lanes_partition(bitreader_t *lanes, const lpc_kernels_t *kern, const stream_t *s, decoder_t *w, size_t t,
                        size_t pn, int top, int wide, int grids, const ephys_view_t *dst, uint64_t c0);
/* Every lane must end where its bits end: fewer than 8 padding bits, all zero. */
int lpc_lanes_end(bitreader_t *lanes);

#pragma GCC visibility pop

#endif
