/* EphysLPC: our own lossless / near-lossless codec for multichannel ephys, one
 * block codec of the chunk container (container codec id EPHYS_CODEC_LPC).
 * Each block of channels is one stream: per-frame linear prediction over time,
 * prediction of each channel's residual from the channels before it, and
 * partitioned Rice coding, optionally with capped high parts or rANS-coded ones.  The stream
 * layout, every version of it and the decoding arithmetic are specified in
 * docs/format.md.
 *
 * The files of csrc/lpc/: stream.h (header constants and shared arithmetic),
 * bitwriter.h and bitreader.h, ans.h and ans.c (version 8's rANS), kernel_bodies.h (the per-sample loops, written
 * once) compiled per instruction set by kernel_template.h into kernels.c
 * (scalar, SSE2, the CPU dispatch) and kernels_avx2.c, block.c (the state
 * both directions keep), analysis.c and encode.c, decode.c (versions 3, 4 and
 * 6) and decode_lanes.c (versions 1 and 2) over synthesis.c (what both
 * decoders share), lpc_codec.c (the entry points); float32 / float64 chunks:
 * floats.h (stream version 5: its layout, and the calls the integer codec
 * makes), floats_stream.h (sample formats and what the float encoder and
 * decoder share), floats_grid.c (finding a block's grid), floats_encode.c and
 * floats_decode.c.
 *
 * This is the only public header of the folder: the declarations below are
 * read by cffi (preprocessor lines are skipped, integer constants kept). */
#ifndef EPHYS_LPC_CODEC_H
#define EPHYS_LPC_CODEC_H
#include "chunk.h"

#define EPHYS_LPC_MAX_ORDER 32
#define EPHYS_LPC_MAX_ERROR 65535
/* Channels per block by default (EphysLPC's block_channels): the prediction
 * kernels have a version for this count as a constant. */
#define EPHYS_LPC_BLOCK_CHANNELS 32

/* How the encoder codes; ephys_lpc_default_params fills it from a level. */
typedef struct {
    int max_order;       /* 0..EPHYS_LPC_MAX_ORDER: the highest LPC order tried per frame */
    int frame_log2;      /* frame length 2^frame_log2 samples */
    int partition_log2;  /* Rice partition length 2^partition_log2 samples */
    int alt_partition_log2; /* 0, or a second partition length: each block is coded with both and the shorter kept */
    int capped;          /* 1: a channel's partition may cap the high parts in 2 or 3 bits of the low fields (version 4) */
    int coef_shift;      /* precision of the predictor weights: integers / 2^coef_shift */
    int alt_coef_shift;  /* 0, or a second precision: each block is also coded with it and the shortest kept */
    int alt_frame_log2;  /* 0, or a second frame length (at least both partition lengths), tried likewise */
    int neighbours;      /* channels used to predict each channel's residual */
    uint32_t max_error;  /* 0: lossless */
    int alt_segments;    /* 0, or 1: a block cut into time segments (stream version 7, where its channels are
                            few) is also coded without them, and the shorter kept */
    int ans_max_rice;    /* -1, or the highest Rice parameter of a channel's partition whose high parts
                            may be rANS coded instead (stream version 8; capped streams only) */
} ephys_lpc_params_t;

/* Kernels: 0 = the best this CPU runs, 1 = portable scalar, 2 = SSE2, 3 = AVX2. */
enum { EPHYS_LPC_KERNEL_AUTO = 0, EPHYS_LPC_KERNEL_SCALAR = 1, EPHYS_LPC_KERNEL_SSE2 = 2, EPHYS_LPC_KERNEL_AVX2 = 3 };

int ephys_lpc_default_params(int level, uint32_t max_error, ephys_lpc_params_t *params);
/* Select the kernel for the streams this process codes from now on (for
 * tests); returns EPHYS_ERR_ARGS if this CPU cannot run it. */
int ephys_lpc_set_kernel(int kernel);
int ephys_lpc_kernel(void);

int ephys_lpc_encode(const ephys_lpc_params_t *params, const ephys_view_t *src,
                     int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                     int num_threads, uint8_t **out, size_t *out_len);
/* Float32 / float64 chunks (stream version 5, floats.h): lossless with
 * max_error 0, else every finite sample within max_error (an absolute bound
 * in the data's units) and NaN and infinities exact.  params as for integer
 * chunks, with params->max_error 0.  ephys_lpc_info / _decode / _decode_blocks
 * read them as any other chunk. */
int ephys_lpc_encode_float(const ephys_lpc_params_t *params, double max_error, const ephys_view_t *src, int ndim,
                           const uint64_t *shape, uint32_t flags, uint32_t channels_per_block, int num_threads,
                           uint8_t **out, size_t *out_len);
int ephys_lpc_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info);
int ephys_lpc_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads);
/* Decode channel blocks [first_block, first_block + n_blocks) into dst (their channels only). */
int ephys_lpc_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                            const ephys_view_t *dst, int num_threads);

#endif
