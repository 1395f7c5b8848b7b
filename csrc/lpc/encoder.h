/* The encoder's parts: the analysis of a block (analysis.c) and the coding of
 * its stream (encode.c). */
#ifndef EPHYS_LPC_ENCODER_H
#define EPHYS_LPC_ENCODER_H
#include "block.h"

#pragma GCC visibility push(hidden) /* internal: not exported from the extension */
/* The predictor of lanes [c, c + width) (one channel's segments, version 7)
 * for a frame of nt rows of nc lanes (history before them) from their summed
 * autocorrelation r of lags 0..max_order around their offset d: the order with
 * the fewest estimated bits (at most max_order), its weights quantized to
 * integers / 2^shift into q, and the bits each weight takes in *coef_bits.
 * With prev_q (version 8: the previous channel's prev_order weights, which
 * its header codes in a few bits), those where they cost no more, their
 * header saving counted. */
int lpc_fit(const double *r, const int32_t *rows, size_t nt, uint32_t nc, uint32_t c, uint32_t width, int32_t d,
            int max_order, int shift, int32_t *q, int *coef_bits, const int32_t *prev_q, int prev_order);
/* Each channel's grid x = y * scale + base, if all its samples sit on one
 * (scale 1 otherwise); returns whether any channel has one.  scratch holds
 * rows x nc samples. */
int lpc_find_grids(const ephys_view_t *src, uint64_t c0, uint32_t nc, int32_t *scratch, size_t rows,
                   uint32_t *scale, uint32_t *base);
/* Version 6: a channel coded as the ranks of its values among its distinct
 * values (count of them, sorted in values; rank maps x - values[0] to its
 * rank - count / 2, the y the stream codes); count 0: none. */
typedef struct {
    uint32_t count;
    int gap_rice; /* the Rice parameter of the gaps between values, as written */
    int32_t *values, *rank;
} lpc_dictionary_t;
/* Each channel's dictionary where one pays (int8 and int16 samples without a
 * grid); *any: whether any channel has one.  scratch holds rows x nc samples. */
int lpc_find_dictionaries(const ephys_view_t *src, uint64_t c0, uint32_t nc, int32_t *scratch, size_t rows,
                          const uint32_t *scale, lpc_dictionary_t *dict, int *any);
void lpc_dictionary_free(lpc_dictionary_t *d);
/* x -> rank in place, for the channels with a dictionary. */
void lpc_to_dictionary(int32_t *rows, size_t nt, uint32_t nc, const lpc_dictionary_t *dict);
/* x -> y in place. */
void lpc_to_grid(int32_t *rows, size_t nt, uint32_t nc, const uint32_t *scale, const uint32_t *base);
/* The frame's offset d per channel (block->mean, one for each run of width
 * lanes) from its nt rows of nc lanes; sum: nc of scratch. */
void lpc_centre(block_t *block, int first, size_t nt, uint32_t nc, uint32_t width, int dtype, int32_t *sum);

/* ephys_block_codec_t.encode_block */
int lpc_encode_block(const void *params, const ephys_view_t *src, uint64_t c0, uint32_t nc, ephys_buf_t *out);

#pragma GCC visibility pop

#endif
