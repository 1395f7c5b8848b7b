/* The bit readers: a position in the one bit stream of versions 3, 4 and 6 (least
 * significant bit first), and the lane readers of versions 1 and 2 (most
 * significant bit first).  Both see zero bits past the end and set err. */
#ifndef EPHYS_LPC_BITREADER_H
#define EPHYS_LPC_BITREADER_H
#include <string.h>

#include "stream.h"

ATTR_INLINE uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

ATTR_INLINE uint64_t load_be64(const uint8_t *p) { return __builtin_bswap64(load_le64(p)); }

/* ---- versions 3, 4 and 6: least significant bit first ---- */

typedef struct {
    const uint8_t *buf;
    size_t len;   /* bytes */
    uint64_t pos; /* bits read */
    int err;
} posreader_t;

/* At least 57 bits from bit position pos (zeros past the end). */
ATTR_INLINE uint64_t peek_bits(const uint8_t *buf, size_t len, uint64_t pos)
{
    size_t b = (size_t)(pos >> 3);
    uint64_t v = 0;
    if (b + 8 <= len)
        v = load_le64(buf + b);
    else
        for (size_t i = 0; b + i < len && i < 8; i++) v |= (uint64_t)buf[b + i] << (8 * i);
    return v >> (pos & 7);
}

static inline uint32_t pr_get(posreader_t *r, int nbits) /* 0 <= nbits <= 32 */
{
    if (r->pos + (uint64_t)nbits > 8 * (uint64_t)r->len) {
        r->err = 1;
        return 0;
    }
    uint32_t v = (uint32_t)(peek_bits(r->buf, r->len, r->pos) & (((uint64_t)1 << nbits) - 1));
    r->pos += (uint64_t)nbits;
    return v;
}

/* ---- versions 1 and 2: most significant bit first, one reader per lane ---- */

typedef struct {
    const uint8_t *p, *end;
    uint64_t acc; /* the top n bits are the next ones */
    int n;
    int err;
} bitreader_t;

static inline void br_refill(bitreader_t *r)
{
    if (r->end - r->p >= 8) {
        r->acc |= load_be64(r->p) >> r->n;
        r->p += (63 - r->n) >> 3;
        r->n |= 56;
    } else {
        while (r->n <= 56 && r->p < r->end) {
            r->acc |= (uint64_t)*r->p++ << (56 - r->n);
            r->n += 8;
        }
    }
}

static inline uint32_t br_get(bitreader_t *r, int nbits) /* 1 <= nbits <= 32 */
{
    if (r->n < nbits) {
        br_refill(r);
        if (r->n < nbits) {
            r->err = 1;
            return 0;
        }
    }
    uint32_t v = (uint32_t)(r->acc >> (64 - nbits));
    r->acc <<= nbits;
    r->n -= nbits;
    return v;
}

/* One value coded whole: q zero bits, a one bit and the k low bits, or for
 * q >= ESCAPE_Q an escape (ESCAPE_Q zero bits, then the 32 bits of u). */
static inline uint32_t br_rice(bitreader_t *r, int k)
{
    if (r->n < ESCAPE_Q + 1) br_refill(r); /* then any unary part but an escape is in acc */
    int z = r->acc ? __builtin_clzll(r->acc) : 64;
    if (z >= ESCAPE_Q) {
        if (r->n < ESCAPE_Q) {
            r->err = 1;
            return 0;
        }
        r->acc <<= ESCAPE_Q;
        r->n -= ESCAPE_Q;
        return br_get(r, 32);
    }
    if (z + 1 > r->n) {
        r->err = 1;
        return 0;
    }
    r->acc <<= z + 1;
    r->n -= z + 1;
    uint64_t u = (uint64_t)z << k;
    if (k) u |= br_get(r, k);
    if (u > UINT32_MAX) r->err = 1;
    return (uint32_t)u;
}

/* A lane reader without bounds checks, for where the lane holds at least 8
 * bytes per value still to read (plus 16): a value never takes more than 64
 * bits.  Taken from and given back to a bitreader_t. */
typedef struct {
    const uint8_t *p;
    uint64_t acc;
    int n;
} lane_t;

ATTR_INLINE void lane_refill(lane_t *l)
{
    l->acc |= load_be64(l->p) >> l->n;
    l->p += (63 - l->n) >> 3;
    l->n |= 56;
}

ATTR_INLINE int32_t lane_rice(lane_t *l, int k, uint64_t *bad)
{
    lane_refill(l); /* every time: cheaper than a mispredicted branch */
    int z = __builtin_clzll(l->acc | 1);
    /* a refill leaves at least 56 bits: enough for the unary part and, up to
     * k = 23, the low bits too; a larger k may need a second refill */
    uint64_t u;
    if (__builtin_expect(z >= ESCAPE_Q, 0)) {
        l->acc <<= ESCAPE_Q;
        l->n -= ESCAPE_Q;
        lane_refill(l);
        u = l->acc >> 32;
        l->acc <<= 32;
        l->n -= 32;
    } else {
        l->acc <<= z + 1;
        l->n -= z + 1;
        if (l->n < k) lane_refill(l);
        u = ((uint64_t)z << k) | ((l->acc >> 1) >> (63 - k));
        l->acc <<= k;
        l->n -= k;
    }
    *bad |= u >> 32;
    return unzigzag((uint32_t)u);
}

#endif
