/* WavPack (lossless and hybrid) in the chunk container, plus the bare WavPack
 * streams that wavpack-numcodecs writes (codec id "wavpack").  Read by cffi. */
#ifndef EPHYS_WAVPACK_CODEC_H
#define EPHYS_WAVPACK_CODEC_H
#include "chunk.h"

/* Hybrid (lossy) mode takes 32-bit integer samples within this many bits (-2^23 .. 2^23 - 1)
 * and refuses a block holding others (EPHYS_ERR_RANGE). Wider samples go through libwavpack's
 * 32-bit extension, where the bit rate no longer bounds the errors: one sample at -2^31 among
 * small ones (sd 10) adds errors of ~1000 to its neighbours (a sample at -2^23 adds ~7, as
 * -2^15 does in int16), and full-scale samples of a constant signal lose their low byte.
 * Lossless mode takes the whole int32 range. */
#define EPHYS_WAVPACK_HYBRID_INT32_BITS 24

typedef struct {
    int level;             /* 1 fast, 2 normal, 3 high, 4 very high */
    double bps;            /* 0: lossless; >= 2.25: hybrid (lossy) bits per sample */
    int dynamic_shaping;   /* hybrid only: 1 lets WavPack shape the noise per block */
    double shaping_weight; /* hybrid, dynamic_shaping 0: fixed weight in [-1, 1], 0 = none */
} ephys_wavpack_params_t;

const char *ephys_wavpack_library_version(void);

int ephys_wavpack_encode(const ephys_wavpack_params_t *params, const ephys_view_t *src,
                         int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                         int num_threads, uint8_t **out, size_t *out_len);
int ephys_wavpack_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info);
int ephys_wavpack_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads);
/* Decode channel blocks [first_block, first_block + n_blocks) into dst (their channels only). */
int ephys_wavpack_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                                const ephys_view_t *dst, int num_threads);

int ephys_wavpack_stream_encode(const ephys_wavpack_params_t *params, const ephys_view_t *src,
                                uint8_t **out, size_t *out_len);
int ephys_wavpack_stream_info(const uint8_t *buf, size_t len, uint64_t *n_samples,
                              uint32_t *n_channels, int *dtype);
int ephys_wavpack_stream_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst);

#endif
