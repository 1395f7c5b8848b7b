/* The block state shared by encoder and decoder (block.h). */
#include <stdlib.h>
#include <string.h>

#include "block.h"

/* The block's arrays carved from one allocation (a block of few channels and
 * samples decodes in microseconds: two dozen mallocs were a part of that),
 * each at a 64-byte boundary; mem NULL only measures.  x comes first: its
 * address is the allocation's. */
#define CARVE_ALIGN ((size_t)64)
#define CARVE(field, count)                                                                  \
    (block->field = mem ? (void *)(mem + at) : NULL,                                         \
     at += ((count) * sizeof(*block->field) + CARVE_ALIGN - 1) & ~(CARVE_ALIGN - 1))
static size_t carve(block_t *block, char *mem, size_t f, size_t part, uint32_t nc)
{
    size_t at = 0;
    CARVE(x, (HIST + f) * nc); /* each frame row is written before it is read */
    CARVE(coef, (size_t)EPHYS_LPC_MAX_ORDER * nc);
    CARVE(order, nc);
    CARVE(mean, nc);
    CARVE(gain, nc);
    CARVE(init.i32, nc);
    CARVE(init.i64, nc);
    CARVE(acc64, nc);
    CARVE(scale, nc);
    CARVE(base, nc);
    CARVE(cm, part * nc);
    CARVE(rice, nc);
    CARVE(cap, nc);
    return at;
}
#undef CARVE

int lpc_block_alloc(block_t *block, size_t f, size_t part, uint32_t nc)
{
    memset(block, 0, sizeof(*block));
    char *mem = malloc(carve(block, NULL, f, part, nc));
    if (!mem) return EPHYS_ERR_NOMEM;
    carve(block, mem, f, part, nc);
    memset(block->mean, 0, nc * sizeof(int32_t));
    memset(block->cap, 0, nc * sizeof(int));
    memset(block->x, 0, (size_t)HIST * nc * sizeof(int32_t));
    return EPHYS_OK;
}

void lpc_block_free(block_t *block) { free(block->x); }

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
