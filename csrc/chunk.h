/* Chunk container shared by the block codecs (WavPack, FLAC).
 *
 * A chunk of shape (samples, channels...) is cut into blocks of consecutive
 * channels; each block is one independent codec stream.  Layout (little endian):
 *
 *   0   4  magic "NCEP"
 *   4   1  format version (1)
 *   5   1  codec id (EPHYS_CODEC_*)
 *   6   1  dtype (EPHYS_DTYPE_*)
 *   7   1  ndim (1..EPHYS_MAX_NDIM); axis 0 is time, the others are channels
 *   8   4  channels per block
 *   12  4  number of blocks = ceil(channels / channels per block), 0 if empty
 *   16  4  * ndim: shape
 *   ..  4  * blocks: end offset of each block, relative to the payload start
 *   ..     payload: the block streams back to back
 *
 * The offset table lets a reader decode one block of channels without the rest.
 * The declarations below are read by cffi (preprocessor lines are skipped).
 */
#ifndef EPHYS_CHUNK_H
#define EPHYS_CHUNK_H
#include <stddef.h>
#include <stdint.h>

#define EPHYS_MAX_NDIM 8

enum {
    EPHYS_OK = 0,
    EPHYS_ERR_NOMEM = 1,
    EPHYS_ERR_ARGS = 2,
    EPHYS_ERR_TRUNCATED = 3,
    EPHYS_ERR_MAGIC = 4,
    EPHYS_ERR_VERSION = 5,
    EPHYS_ERR_HEADER = 6,
    EPHYS_ERR_CORRUPT = 7,
    EPHYS_ERR_CODEC = 8,
    EPHYS_ERR_OUT_SIZE = 9,
    EPHYS_ERR_RANGE = 10,
    EPHYS_ERR_LIBRARY = 11,
    EPHYS_ERR_THREADS = 12
};

enum { EPHYS_DTYPE_INT8 = 1, EPHYS_DTYPE_INT16 = 2, EPHYS_DTYPE_INT32 = 3, EPHYS_DTYPE_FLOAT32 = 4 };
enum { EPHYS_CODEC_WAVPACK = 1, EPHYS_CODEC_FLAC = 2, EPHYS_CODEC_LPC = 3 };

/* What a chunk header says; filled by ephys_chunk_info. */
typedef struct {
    int codec;
    int dtype;
    int ndim;
    uint64_t shape[8];
    uint64_t n_samples;
    uint64_t n_channels;
    uint32_t channels_per_block;
    uint32_t n_blocks;
} ephys_chunk_info_t;

/* A 2-D strided view of the samples: element (t, c) is at
 * base + (t * sample_stride + c * channel_stride) * itemsize. */
typedef struct {
    void *base;
    int dtype;
    uint64_t n_samples;
    uint64_t n_channels;
    int64_t sample_stride;
    int64_t channel_stride;
} ephys_view_t;

const char *ephys_strerror(int code);
void ephys_free(void *p);
int ephys_chunk_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info);

#endif
