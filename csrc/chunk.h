/* Chunk container shared by the block codecs (WavPack, FLAC, LPC).
 *
 * A chunk of shape (samples, channels...) is cut into blocks of consecutive
 * channels; each block is one independent codec stream.  Layout of format
 * version 2 (little endian), written by this version:
 *
 *   0   4  magic "NCEP"
 *   4   1  format version (2)
 *   5   1  codec id (EPHYS_CODEC_*)
 *   6   1  dtype of the block streams (EPHYS_DTYPE_INT8/16/32, FLOAT32, FLOAT64)
 *   7   1  ndim (1..EPHYS_MAX_NDIM); axis 0 is time, the others are channels
 *   8   4  channels per block
 *   12  4  number of blocks = ceil(channels / channels per block), 0 if empty
 *   16  4  flags: bit 0 (EPHYS_CHUNK_FORTRAN) the encoded array was in Fortran
 *          order, and decoding returns that order (zarr reads a chunk's memory
 *          in its array's order); bit 1 (EPHYS_CHUNK_UNSIGNED, numcodecs-ephys
 *          0.2) the samples were unsigned integers of the stream dtype's width:
 *          the streams hold each sample with its top bit flipped (u XOR 2^(b-1)
 *          maps 0..2^b-1 in order onto the signed range, so the codecs see
 *          the same signal shifted by -2^(b-1)), and decoding flips it back;
 *          never with float32 or float64.  The other bits are zero.  A reader refuses a
 *          chunk with a bit it does not know (EPHYS_ERR_FLAGS), as every
 *          format-2 reader has, so a new flag needs no new format version:
 *          older readers refuse unsigned chunks instead of decoding them as
 *          signed
 *   20  4  * ndim: shape
 *   ..  8  * blocks: end offset of the block's stream, relative to the payload
 *          start (u32), then the CRC-32C of the block's decoded samples (u32):
 *          rows in time order, each the block's channels in order, each sample
 *          in its little-endian bytes as decoded (unsigned: after the flip back)
 *   ..  4  CRC-32C of every header byte before it
 *   ..     payload: the block streams back to back
 *
 * Format version 1 (numcodecs-ephys 0.1.0) still decodes: no flags field (C
 * order), 4-byte offset table entries, no checksums; the shape follows byte 16.
 *
 * The offset table lets a reader decode one block of channels without the
 * rest; the block checksums make a corrupted stream an error even where the
 * codec library would conceal it.  The declarations below are read by cffi
 * (preprocessor lines are skipped).
 */
#ifndef EPHYS_CHUNK_H
#define EPHYS_CHUNK_H
#include <stddef.h>
#include <stdint.h>

#define EPHYS_MAX_NDIM 8
#define EPHYS_MAX_THREADS 256 /* threads one call may use */
#define EPHYS_CHUNK_FORTRAN 1
#define EPHYS_CHUNK_UNSIGNED 2

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
    EPHYS_ERR_CHECKSUM = 13,
    EPHYS_ERR_FLAGS = 14
};

enum { EPHYS_DTYPE_INT8 = 1, EPHYS_DTYPE_INT16 = 2, EPHYS_DTYPE_INT32 = 3, EPHYS_DTYPE_FLOAT32 = 4 };
/* float64 (EphysLPC only; numcodecs-ephys 0.3): a code older readers do not know,
 * so they refuse such a chunk (EPHYS_ERR_HEADER) instead of misreading it. */
enum { EPHYS_DTYPE_FLOAT64 = 8 };
/* Unsigned samples, in the views given to the container (ephys_*_encode,
 * *_decode, *_decode_blocks) and in ephys_chunk_info_t only: the container
 * stores them as the signed dtype of their width with EPHYS_CHUNK_UNSIGNED
 * and hands the block codecs signed views, so no codec sees these codes. */
enum { EPHYS_DTYPE_UINT8 = 5, EPHYS_DTYPE_UINT16 = 6, EPHYS_DTYPE_UINT32 = 7 };
enum { EPHYS_CODEC_WAVPACK = 1, EPHYS_CODEC_FLAC = 2, EPHYS_CODEC_LPC = 3 };

/* What a chunk header says; filled by each codec's *_info function. */
typedef struct {
    int version;
    uint32_t flags;
    int codec;
    int dtype; /* of the decoded samples: EPHYS_DTYPE_UINT* with EPHYS_CHUNK_UNSIGNED */
    int ndim;
    uint64_t shape[8];
    uint64_t n_samples;
    uint64_t n_channels;
    uint32_t channels_per_block;
    uint32_t n_blocks;
} ephys_chunk_info_t;

/* The CRC-32C of a block's samples, accumulated while a decoder stores them
 * in row order (so that they are checked while still in cache). */
typedef struct {
    uint32_t crc;
    uint64_t next_row; /* UINT64_MAX once the rows came out of order */
    uint64_t c0;
    uint32_t nc;
} ephys_row_crc_t;

/* A 2-D strided view of the samples: element (t, c) is at
 * base + (t * sample_stride + c * channel_stride) * itemsize. */
typedef struct {
    void *base;
    int dtype;
    uint64_t n_samples;
    uint64_t n_channels;
    int64_t sample_stride;
    int64_t channel_stride;
    ephys_row_crc_t *row_crc; /* NULL, or where ephys_view_store accumulates */
} ephys_view_t;

const char *ephys_strerror(int code);
/* CRC-32C (Castagnoli), chained like zlib's crc32: start with 0.  The
 * hardware instruction where the CPU has it; the portable table otherwise. */
uint32_t ephys_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t ephys_crc32c_portable(uint32_t crc, const void *data, size_t len);
void ephys_free(void *p);

/* A codec's whole-chunk decoder (ephys_lpc_decode, ephys_wavpack_decode, ...). */
typedef int (*ephys_decode_fn)(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads);
/* decode_fn into C-contiguous memory at base of n_samples x n_channels samples of
 * dtype, the view built here: one call from Python for a small chunk, whose decode
 * takes a few microseconds (building the view from Python took a tenth of that). */
int ephys_decode_contiguous(ephys_decode_fn decode_fn, const uint8_t *buf, size_t len, void *base, int dtype,
                            uint64_t n_samples, uint64_t n_channels, int num_threads);

#endif
