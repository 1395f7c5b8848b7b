/* The frame state shared by encoder and decoder (frame.h). */
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int lpc_frame_alloc(frame_t *fr, size_t f, uint32_t nc)
{
    memset(fr, 0, sizeof(*fr));
    fr->x = malloc((HIST + f) * nc * sizeof(int32_t)); /* each frame row is written before it is read */
    fr->coef = malloc((size_t)EPHYS_LPC_MAX_ORDER * nc * sizeof(int32_t));
    fr->order = malloc(nc * sizeof(int));
    fr->mean = calloc(nc, sizeof(int32_t));
    fr->gain = malloc(nc * sizeof(int32_t));
    fr->init.i32 = malloc(nc * sizeof(int32_t));
    fr->init.i64 = malloc(nc * sizeof(int64_t));
    if (!fr->x || !fr->coef || !fr->order || !fr->mean || !fr->gain || !fr->init.i32 || !fr->init.i64) {
        lpc_frame_free(fr);
        return EPHYS_ERR_NOMEM;
    }
    memset(fr->x, 0, (size_t)HIST * nc * sizeof(int32_t));
    return EPHYS_OK;
}

void lpc_frame_free(frame_t *fr)
{
    free(fr->x); free(fr->coef); free(fr->order); free(fr->mean); free(fr->gain);
    free(fr->init.i32); free(fr->init.i64);
}

/* int32 accumulation runs where it cannot overflow, the int64 path elsewhere;
 * both give the same values, so this is the decoder's choice as much as the
 * encoder's. */
int lpc_frame_setup(frame_t *fr, uint32_t nc, int dtype, int shift, int *wide)
{
    int top = 0;
    *wide = dtype == EPHYS_DTYPE_INT32;
    for (uint32_t c = 0; c < nc; c++) {
        if (fr->order[c] > top) top = fr->order[c];
        int64_t sum = 0, sum_abs = 0;
        for (int i = 0; i < fr->order[c]; i++) {
            int32_t a = fr->coef[(size_t)i * nc + c];
            sum += a;
            sum_abs += a < 0 ? -(int64_t)a : a;
        }
        /* |d| <= 2^31 and |2^s - sum a| < 2^21: no overflow */
        int64_t start = ((int64_t)1 << (shift - 1)) + (int64_t)fr->mean[c] * (((int64_t)1 << shift) - sum);
        fr->init.i64[c] = start;
        /* |x| <= 2^15: |sum a x + start| < 2^31 */
        if (sum_abs * 32768 + (start < 0 ? -start : start) >= ((int64_t)1 << 31)) *wide = 1;
    }
    for (uint32_t c = 0; c < nc; c++) fr->init.i32[c] = *wide ? 0 : (int32_t)fr->init.i64[c];
    /* above 4, the next of 8, 16, 32: the kernels have those orders as constants, and
     * the weights past a channel's order are zero (the history holds HIST rows) */
    return top <= 4 ? top : top <= 8 ? 8 : top <= 16 ? 16 : EPHYS_LPC_MAX_ORDER;
}

void lpc_frame_fill_history(frame_t *fr, uint32_t nc)
{
    for (size_t t = 0; t < HIST; t++) memcpy(fr->x + t * nc, fr->mean, nc * sizeof(int32_t));
}

void lpc_frame_shift_history(frame_t *fr, size_t nt, uint32_t nc)
{
    memmove(fr->x, fr->x + nt * nc, (size_t)HIST * nc * sizeof(int32_t));
}
