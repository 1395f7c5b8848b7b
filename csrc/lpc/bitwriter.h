/* The bit writer of stream versions 3, 4 and 6: each field least significant bit
 * first, from the lowest bit of each byte up, into a growable buffer. */
#ifndef EPHYS_LPC_BITWRITER_H
#define EPHYS_LPC_BITWRITER_H
#include <stdlib.h>

#include "stream.h"

typedef struct {
    ephys_buf_t *out;
    uint64_t acc; /* the low n bits are pending */
    int n;
    int err;
} bitwriter_t;

/* Room for extra more bytes, plus the 8 a flush may write; nonzero on failure. */
static inline int bw_reserve(bitwriter_t *w, size_t extra)
{
    ephys_buf_t *b = w->out;
    if (w->err) return w->err;
    if (b->cap - b->len >= extra + 16) return 0;
    size_t cap = b->cap ? 2 * b->cap : 4096;
    while (cap - b->len < extra + 16) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return w->err = EPHYS_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* Writes the whole bytes of the pending bits as one 8-byte store (the bytes
 * past them are rewritten by the next flush). */
static inline void bw_flush(bitwriter_t *w)
{
    ephys_buf_t *b = w->out;
    if (bw_reserve(w, 0)) {
        w->n &= 7;
        return;
    }
    ephys_put_le64(b->data + b->len, w->acc);
    int bytes = w->n >> 3;
    b->len += (size_t)bytes;
    w->acc = bytes == 8 ? 0 : w->acc >> (8 * bytes);
    w->n &= 7;
}

static inline void bw_put(bitwriter_t *w, uint32_t v, int nbits) /* nbits <= 32, v < 2^nbits */
{
    if (w->n + nbits > 64) bw_flush(w);
    w->acc |= (uint64_t)v << (w->n & 63); /* n == 64 only with nbits == 0, v == 0 */
    w->n += nbits;
}

static inline void bw_signed(bitwriter_t *w, int32_t v, int nbits)
{
    bw_put(w, (uint32_t)v & (uint32_t)(((uint64_t)1 << nbits) - 1), nbits);
}

static inline void bw_finish(bitwriter_t *w)
{
    if (w->n & 7) bw_put(w, 0, 8 - (w->n & 7));
    bw_flush(w);
}

/* Bulk writes keep the pending bits in a local copy (fewer than 32 of them
 * between values) and store 4 bytes at a time; room is reserved beforehand. */
typedef struct {
    uint8_t *o;
    uint64_t acc;
    int n;
} bulk_t;

ATTR_INLINE int bulk_begin(bitwriter_t *w, size_t bytes, bulk_t *b)
{
    bw_flush(w);
    if (bw_reserve(w, bytes)) return 1;
    b->o = w->out->data + w->out->len;
    b->acc = w->acc;
    b->n = w->n;
    return 0;
}

ATTR_INLINE void bulk_spill(bulk_t *b)
{
    if (b->n >= 32) {
        ephys_put_le32(b->o, (uint32_t)b->acc);
        b->o += 4;
        b->acc >>= 32;
        b->n -= 32;
    }
}

ATTR_INLINE void bulk_end(bitwriter_t *w, const bulk_t *b)
{
    w->out->len = (size_t)(b->o - w->out->data);
    w->acc = b->acc;
    w->n = b->n;
}

ATTR_INLINE void bulk_low(bulk_t *b, uint32_t v, int k) /* v < 2^k */
{
    b->acc |= (uint64_t)v << b->n;
    b->n += k;
    bulk_spill(b);
}

/* q zero bits and a one bit, or an escape (ESCAPE_Q zero bits, then q in 32 bits). */
ATTR_INLINE void bulk_unary(bulk_t *b, uint32_t q)
{
    if (q < ESCAPE_Q) {
        b->acc |= (uint64_t)1 << (b->n + (int)q);
        b->n += (int)q + 1;
    } else {
        b->n += ESCAPE_Q;
        bulk_spill(b);
        b->acc |= (uint64_t)q << b->n;
        b->n += 32;
    }
    bulk_spill(b);
}

/* For writers that add whole words of bits (b->n + bits < 64): stores 8 bytes,
 * keeps fewer than 8 bits pending. */
ATTR_INLINE void bulk_word(bulk_t *b, uint64_t word, int bits)
{
    b->acc |= word << b->n;
    b->n += bits;
    ephys_put_le64(b->o, b->acc);
    b->o += b->n >> 3;
    b->acc >>= b->n & 56;
    b->n &= 7;
}

#endif
