/* What encoder and decoder both keep of the frame being coded: its samples
 * after their history, and each channel's predictor. */
#ifndef EPHYS_LPC_FRAME_H
#define EPHYS_LPC_FRAME_H
#include "kernels.h"

typedef struct {
    int32_t *x;     /* (HIST + F) x nc samples, history first */
    int32_t *coef;  /* EPHYS_LPC_MAX_ORDER x nc weights of the frame */
    int *order;     /* per channel */
    int32_t *mean;  /* per channel offset d of the frame (the encoder writes its rounded mean) */
    int32_t *gain;  /* per channel neighbour gain */
    acc_init_t init; /* per channel accumulator start */
} frame_t;

#pragma GCC visibility push(hidden) /* internal: not exported from the extension */
/* Frames of up to f rows of nc channels; the history starts at zero (version 1
 * streams decode from there). */
int lpc_frame_alloc(frame_t *fr, size_t f, uint32_t nc);
void lpc_frame_free(frame_t *fr);
/* The accumulator starts of the frame's weights and offsets; returns its
 * highest order, and whether int32 accumulation could overflow in *wide. */
int lpc_frame_setup(frame_t *fr, uint32_t nc, int dtype, int shift, int *wide);
/* Before a block's first frame the history is each channel's offset d. */
void lpc_frame_fill_history(frame_t *fr, uint32_t nc);
/* The last HIST rows of a frame of nt rows become the next frame's history. */
void lpc_frame_shift_history(frame_t *fr, size_t nt, uint32_t nc);

#pragma GCC visibility pop

#endif
