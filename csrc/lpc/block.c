/* The block state shared by encoder and decoder (block.h). */
#include <stdlib.h>
#include <string.h>

#include "block.h"

int lpc_block_alloc(block_t *block, size_t f, size_t part, uint32_t nc)
{
    memset(block, 0, sizeof(*block));
    block->x = malloc((HIST + f) * nc * sizeof(int32_t)); /* each frame row is written before it is read */
    block->coef = malloc((size_t)EPHYS_LPC_MAX_ORDER * nc * sizeof(int32_t));
    block->order = malloc(nc * sizeof(int));
    block->mean = calloc(nc, sizeof(int32_t));
    block->gain = malloc(nc * sizeof(int32_t));
    block->init.i32 = malloc(nc * sizeof(int32_t));
    block->init.i64 = malloc(nc * sizeof(int64_t));
    block->acc64 = malloc(nc * sizeof(int64_t));
    block->scale = malloc(nc * sizeof(uint32_t));
    block->base = malloc(nc * sizeof(uint32_t));
    block->cm = malloc(part * nc * sizeof(uint32_t));
    block->rice = malloc(nc * sizeof(int));
    block->cap = calloc(nc, sizeof(int));
    if (!block->x || !block->coef || !block->order || !block->mean || !block->gain || !block->init.i32 ||
        !block->init.i64 || !block->acc64 || !block->scale || !block->base || !block->cm || !block->rice ||
        !block->cap) {
        lpc_block_free(block);
        return EPHYS_ERR_NOMEM;
    }
    memset(block->x, 0, (size_t)HIST * nc * sizeof(int32_t));
    return EPHYS_OK;
}

void lpc_block_free(block_t *block)
{
    free(block->x); free(block->coef); free(block->order); free(block->mean); free(block->gain);
    free(block->init.i32); free(block->init.i64); free(block->acc64); free(block->scale); free(block->base);
    free(block->cm); free(block->rice); free(block->cap);
}

/* int32 accumulation runs where it cannot overflow, the int64 path elsewhere;
 * both give the same values, so this is the decoder's choice as much as the
 * encoder's. */
int lpc_frame_setup(block_t *block, uint32_t nc, int dtype, int shift, int *wide)
{
    int top = 0;
    *wide = dtype == EPHYS_DTYPE_INT32;
    for (uint32_t c = 0; c < nc; c++) {
        if (block->order[c] > top) top = block->order[c];
        int64_t sum = 0, sum_abs = 0;
        for (int i = 0; i < block->order[c]; i++) {
            int32_t a = block->coef[(size_t)i * nc + c];
            sum += a;
            sum_abs += a < 0 ? -(int64_t)a : a;
        }
        /* |d| <= 2^31 and |2^s - sum a| < 2^21: no overflow */
        int64_t start = ((int64_t)1 << (shift - 1)) + (int64_t)block->mean[c] * (((int64_t)1 << shift) - sum);
        block->init.i64[c] = start;
        /* |x| <= 2^15: |sum a x + start| < 2^31 */
        if (sum_abs * 32768 + (start < 0 ? -start : start) >= ((int64_t)1 << 31)) *wide = 1;
    }
    for (uint32_t c = 0; c < nc; c++) block->init.i32[c] = *wide ? 0 : (int32_t)block->init.i64[c];
    /* above 4, the next of 8, 16, 32: the kernels have those orders as constants, and
     * the weights past a channel's order are zero (the history holds HIST rows) */
    return top <= 4 ? top : top <= 8 ? 8 : top <= 16 ? 16 : EPHYS_LPC_MAX_ORDER;
}

void lpc_frame_fill_history(block_t *block, uint32_t nc)
{
    for (size_t t = 0; t < HIST; t++) memcpy(block->x + t * nc, block->mean, nc * sizeof(int32_t));
}

void lpc_frame_shift_history(block_t *block, size_t nt, uint32_t nc)
{
    memmove(block->x, block->x + nt * nc, (size_t)HIST * nc * sizeof(int32_t));
}
