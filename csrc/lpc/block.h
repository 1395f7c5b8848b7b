/* What encoder and decoder both keep of the block of channels they code: the
 * frame being coded (its samples after their history, each channel's
 * predictor), the channels' grids, and one partition's columns and codes. */
#ifndef EPHYS_LPC_BLOCK_H
#define EPHYS_LPC_BLOCK_H
#include "kernels.h"

typedef struct {
    int32_t *x;       /* (HIST + F) x nc samples, history first */
    int32_t *coef;    /* EPHYS_LPC_MAX_ORDER x nc weights of the frame */
    int *order;       /* per channel */
    int32_t *mean;    /* per channel offset d of the frame (the encoder writes its rounded mean) */
    int32_t *gain;    /* per channel neighbour gain */
    acc_init_t init;  /* per channel accumulator start */
    int64_t *acc64;   /* nc: the int64 accumulators of the prediction */
    uint32_t *scale, *base; /* per channel grid: x = y * scale + base */
    uint32_t *cm;     /* nc x P: one partition channel-major, coded values */
    int *rice, *cap;  /* per channel: its Rice parameter and cap b in a partition (cap 0: plain Rice) */
} block_t;

#pragma GCC visibility push(hidden) /* internal: not exported from the extension */
/* For frames of up to f rows and partitions of up to part rows of nc channels;
 * the history starts at zero (version 1 streams decode from there). */
int lpc_block_alloc(block_t *block, size_t f, size_t part, uint32_t nc);
void lpc_block_free(block_t *block);
/* The accumulator starts of the frame's weights and offsets; returns its
 * highest order, and whether int32 accumulation could overflow in *wide. */
int lpc_frame_setup(block_t *block, uint32_t nc, int dtype, int shift, int *wide);
/* Before a block's first frame the history is each channel's offset d. */
void lpc_frame_fill_history(block_t *block, uint32_t nc);
/* The last HIST rows of a frame of nt rows become the next frame's history. */
void lpc_frame_shift_history(block_t *block, size_t nt, uint32_t nc);
#pragma GCC visibility pop

#endif
