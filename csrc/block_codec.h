/* What a codec (WavPack, FLAC) plugs into the chunk container: how to code one
 * block of channels.  Internal to the C sources; not exposed through cffi. */
#ifndef EPHYS_BLOCK_CODEC_H
#define EPHYS_BLOCK_CODEC_H
#include <string.h>

#include "chunk.h"

/* A growable output buffer. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} ephys_buf_t;

int ephys_buf_append(ephys_buf_t *b, const void *data, size_t n);

/* Samples are handed over in pieces of at most EPHYS_PIECE samples so that the
 * scratch buffers stay in cache whatever the chunk length. */
#define EPHYS_PIECE 4096

typedef struct {
    int codec_id;
    /* Code channels [c0, c0 + nc) of src as one stream appended to out.  The
     * views given to encode_block and decode_block have a stream dtype (signed
     * integers, float32): the container flips unsigned samples (chunk.h). */
    int (*encode_block)(const void *params, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                        ephys_buf_t *out);
    /* Decode one stream into channels [c0, c0 + nc) of dst; fails unless the
     * stream holds exactly dst's samples, nc channels and dst's dtype. */
    int (*decode_block)(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc);
    /* The fewest bytes a valid stream of that shape can take: bounds how much a
     * header may make the decoder allocate for a given input length. */
    uint64_t (*min_block_bytes)(uint64_t n_samples, uint64_t n_channels);
    /* Optional (NULL: none): check a block's own stream headers against the
     * container's claim (samples, channels, dtype) without decoding, so that
     * a hostile header is refused before the output is allocated. */
    int (*check_block)(const uint8_t *in, size_t len, uint64_t n_samples, uint32_t nc, int dtype);
    /* Optional (NULL: always lossless): nonzero when these parameters code
     * lossily; the container then decodes each block it wrote to checksum
     * the samples a reader will get. */
    int (*is_lossy)(const void *params);
    /* Optional (NULL: decode_block only): decode_block in steps of a few
     * thousand rows, so that one thread can take several blocks' rows a band at
     * a time: block after block, each would fetch the cache lines of every
     * output row again (a row's lines hold several blocks' channels).  open
     * returns the state (NULL only with *err set; else close it, *err or not),
     * which may share the scratch of `share`, an open state of the same thread;
     * step sets *done after the last rows; close frees and returns err or the
     * stream's final check. */
    void *(*decode_open)(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc,
                         const void *share, int *err);
    int (*decode_step)(void *state, int *done);
    int (*decode_close)(void *state, int err);
} ephys_block_codec_t;

/* Parse and validate a container header, its offset table and size bounds. */
int ephys_chunk_parse(const ephys_block_codec_t *codec, const uint8_t *buf, size_t len,
                      ephys_chunk_info_t *info, size_t *payload_offset);

/* Encode src (a 2-D view) into a new malloc'd container; shape/ndim are the
 * caller's array shape recorded in the header (its product must match src),
 * flags the header's flags (EPHYS_CHUNK_FORTRAN). */
int ephys_chunk_encode(const ephys_block_codec_t *codec, const void *params,
                       const ephys_view_t *src, int ndim, const uint64_t *shape, uint32_t flags,
                       uint32_t channels_per_block, int num_threads,
                       uint8_t **out, size_t *out_len);

/* Decode a container into dst, whose shape and dtype must match the header;
 * each block's samples are checked against its checksum (format 2). */
int ephys_chunk_decode(const ephys_block_codec_t *codec, const uint8_t *buf, size_t len,
                       const ephys_view_t *dst, int num_threads);

/* Decode blocks [first_block, first_block + n_blocks) into dst, which holds
 * exactly their channels (the first of them at dst's channel 0); the header
 * and every offset are validated as for a whole chunk. */
int ephys_chunk_decode_blocks(const ephys_block_codec_t *codec, const uint8_t *buf, size_t len,
                              uint32_t first_block, uint32_t n_blocks, const ephys_view_t *dst, int num_threads);

/* CRC-32C of channels [c0, c0 + nc) of a view, in the container's order
 * (rows in time order, each sample's little-endian bytes). */
uint32_t ephys_view_crc32c(const ephys_view_t *v, uint64_t c0, uint32_t nc);

/* Samples at any address: ephys_load_T / ephys_store_T (T an <stdint.h>
 * type name) go through memcpy, which compiles to a plain load or store and,
 * unlike a dereference, is defined for unaligned addresses. */
#define EPHYS_ACCESS(T)                                                                     \
    static inline T ephys_load_##T(const void *p) { T v; memcpy(&v, p, sizeof v); return v; } \
    static inline void ephys_store_##T(void *p, T v) { memcpy(p, &v, sizeof v); }
EPHYS_ACCESS(int8_t)
EPHYS_ACCESS(int16_t)
EPHYS_ACCESS(int32_t)
EPHYS_ACCESS(int64_t)
EPHYS_ACCESS(uint8_t)
EPHYS_ACCESS(uint16_t)
EPHYS_ACCESS(uint32_t)
EPHYS_ACCESS(uint64_t)
#undef EPHYS_ACCESS
/* Little-endian header fields, whatever the machine's byte order. */
static inline void ephys_put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint32_t ephys_get_le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void ephys_put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint64_t ephys_get_le64(const uint8_t *p) { return ephys_get_le32(p) | (uint64_t)ephys_get_le32(p + 4) << 32; }
static inline int32_t ephys_clamp_i32(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : x > hi ? hi : x; }

/* Address of element (t, c) of a view of element type T, as bytes. */
#define EPHYS_AT(v, T, t, c) \
    ((char *)(v)->base + ((int64_t)(t) * (v)->sample_stride + (int64_t)(c) * (v)->channel_stride) * (int64_t)sizeof(T))

/* Copy samples [t0, t0 + nt) x channels [c0, c0 + nc) between a strided view
 * of a stream dtype (the container hands the codecs no other) and an
 * interleaved int32 buffer (float32 as its bit pattern); store saturates to
 * the dtype's range. */
void ephys_view_load(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, int32_t *block);
void ephys_view_store(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, const int32_t *block);

/* Run fn(arg, i) for i in [0, n) on up to num_threads threads; returns the
 * error of the lowest failing i, so the result does not depend on scheduling. */
int ephys_parallel_for(size_t n, int num_threads, int (*fn)(void *arg, size_t i), void *arg);

/* The size of a stream's samples (signed integers, float32; 0 for any other
 * code): what the block codecs code. */
size_t ephys_dtype_size(int dtype);
/* What the container stores samples of a view's dtype as: the signed dtype of
 * the same width for an unsigned one (chunk.h), else the dtype itself. */
int ephys_stream_dtype(int dtype);
/* The size of a view's samples, unsigned ones included; 0 for unknown codes. */
size_t ephys_sample_size(int dtype);

#endif
