/* The EphysLPC stream: its header, the constants of its layout, and the integer
 * arithmetic that encoder and decoder must agree on bit for bit.  The layout of
 * every stream version is specified in docs/format.md. */
#ifndef EPHYS_LPC_STREAM_H
#define EPHYS_LPC_STREAM_H
#include <stddef.h>
#include <stdint.h>

#include "block_codec.h"
#include "lpc_codec.h"

#define STREAM_VERSION 8 /* written where rANS may code (ans.h); 1 to 4, 6 and 7 still decode; 5 is the float stream
                          (floats.h) */
#define RICE_VERSION 7    /* written where it may not */
#define STREAM_HEADER 20
#define LANES 4 /* versions 1 and 2: channel c is coded in bit stream c % LANES */
#define LANE_TABLE (4 * LANES)
#define HIST EPHYS_LPC_MAX_ORDER /* rows of history kept before a frame */
#define GAIN_BITS 10
#define GAIN_SHIFT 7
#define ESCAPE_Q 32
#define ZERO_PARTITION 31
#define CAP_BITS 2          /* version 4: width of a channel's cap b in a partition */
#define MAX_CAPPED_FIELD 25 /* version 4: r + b at the most when b > 0 */
#define MIN_FRAME_LOG2 4
#define MAX_FRAME_LOG2 16
#define MIN_PARTITION_LOG2 4
#define MAX_PARTITION_LOG2 12
#define MAX_COEF_SHIFT 15
#define MAX_NEIGHBOURS 8
/* Version 6: each channel's map from coded y to samples x, 2 bits */
enum { MAP_NONE = 0, MAP_GRID = 1, MAP_DICTIONARY = 2 };
#define MAP_BITS 2
#define DICTIONARY_COUNT_BITS 16 /* count - 1 of a dictionary's values (at most 65536) */
#define DICTIONARY_HEADER_BITS (DICTIONARY_COUNT_BITS + 32 + 5) /* count - 1, first value, gap parameter */
/* Version 7: a block of nc channels and n samples is coded as S time segments of
 * ceil(n / S) rows each (header byte 7: S), segment s of channel c in lane c S + s
 * of the prediction (the SIMD lanes run across lanes: few channels fill them with
 * segments); the encoder pads the last segment, the decoder drops the padding.
 * Segments only where the lanes are few: at most MAX_SEGMENT_LANES of them. */
#define MAX_SEGMENTS 64
#define MAX_SEGMENT_LANES 64
#define ATTR_INLINE static inline __attribute__((always_inline))

/* A stream's header, parsed (decoder). */
typedef struct {
    int version, dtype, capped;
    int frame_log2, partition_log2, shift, neighbours;
    uint32_t max_error;
    uint64_t n_samples;
    uint32_t nc;
    uint32_t segments; /* S: 1 before version 7 */
    int ans_groups;    /* version 8: G, the rANS states are 8 G (ans.h) */
    size_t ans_len;    /* version 8: the bytes of the rANS area */
    uint32_t lanes;    /* nc S: the lanes of the prediction */
    uint64_t rows;     /* ceil(n_samples / S): the rows of each lane */
} stream_t;

/* Version 7: the rows of each segment of n samples cut into S. */
static inline uint64_t segment_rows(uint64_t n, uint32_t segments) { return (n + segments - 1) / segments; }

/* Versions 3 and 4: channels [0, h) have their unary parts in area A, the rest in B. */
static inline uint32_t unary_split(uint32_t nc) { return nc - nc / 2; }

/* Two's complement conversions without implementation-defined behaviour. */
static inline int32_t i32_of_u32(uint32_t v) { return v <= INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1; }
static inline int32_t wrap32(int64_t v) { return i32_of_u32((uint32_t)(uint64_t)v); }
static inline int64_t floor_shift(int64_t v, int s) { return v >= 0 ? v >> s : -((-v - 1) >> s) - 1; }
static inline int64_t floor_div(int64_t v, int64_t g) { return v >= 0 ? v / g : -((-v - 1) / g) - 1; } /* g > 0 */
static inline uint32_t zigzag(int32_t v) { return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31)); }
static inline int32_t unzigzag(uint32_t u) { return i32_of_u32((u >> 1) ^ (0u - (u & 1))); }

static inline void dtype_range(int dtype, int32_t *lo, int32_t *hi)
{
    switch (dtype) {
    case EPHYS_DTYPE_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case EPHYS_DTYPE_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    default: *lo = INT32_MIN; *hi = INT32_MAX;
    }
}

#endif
