/* EphysLPC as a block codec of the chunk container: its parameters and entry
 * points (lpc_codec.h). */
#include <float.h>

#include "ans.h"
#include "decoder.h"
#include "encoder.h"
#include "floats.h"

int ephys_lpc_default_params(int level, uint32_t max_error, ephys_lpc_params_t *p)
{
    /* Each channel's order is chosen per frame by the bits it would spend.  On
     * the AP-band recordings orders above 4 are rarely worth their weights;
     * wideband recordings (LFP, 1/f spectra under an anti-alias low-pass) may
     * want up to 32, which level 3 tries, also with finer weights than 1/16.
     * Long frames and partitions keep the side information small, except
     * where the amplitude swings within a frame (LFP bands), which level 3
     * tries too with short partitions (and every level with 512-sample ones
     * on smooth blocks: encode.c).  The capped low fields of levels 2 and
     * 3 code near-Gaussian residuals in fewer bits than Rice codes, at some
     * encoding speed (docs/benchmarks.md has the measured figures). */
    static const int orders[] = {0, 2, 4, EPHYS_LPC_MAX_ORDER};
    if (!p || level < 1 || level > 3 || max_error > EPHYS_LPC_MAX_ERROR) return EPHYS_ERR_ARGS;
    p->max_order = orders[level];
    p->frame_log2 = 13;
    p->partition_log2 = 11;
    p->alt_partition_log2 = level == 3 ? 6 : 0;
    p->capped = level >= 2;
    p->coef_shift = 4;
    p->alt_coef_shift = level == 3 ? 12 : 0;
    p->alt_frame_log2 = level == 3 ? 11 : 0;
    p->neighbours = 4;
    p->max_error = max_error;
    /* each time segment starts its prediction afresh: with orders up to 32
     * that may cost more than level 3 wants to pay for the speed */
    p->alt_segments = level == 3;
    /* rANS (stream version 8): level 2 on the partitions whose Rice parameter
     * is 0 (the quietest residuals: Rice codes are furthest from their entropy
     * there, and their unary parts cost the decoder most; from parameter 1 on,
     * rANS decoding costs more per value than Rice's), level 3 on all */
    p->ans_max_rice = level == 1 ? -1 : level == 2 ? 0 : ANS_MAX_RICE;
    return EPHYS_OK;
}

static int params_ok(const ephys_lpc_params_t *p)
{
    return p && p->max_order >= 0 && p->max_order <= EPHYS_LPC_MAX_ORDER && p->frame_log2 >= MIN_FRAME_LOG2 &&
           p->frame_log2 <= MAX_FRAME_LOG2 && p->partition_log2 >= MIN_PARTITION_LOG2 &&
           p->partition_log2 <= MAX_PARTITION_LOG2 && p->partition_log2 <= p->frame_log2 && p->coef_shift >= 1 &&
           p->coef_shift <= MAX_COEF_SHIFT && p->alt_coef_shift >= 0 && p->alt_coef_shift <= MAX_COEF_SHIFT &&
           (!p->alt_frame_log2 || (p->alt_frame_log2 >= MIN_FRAME_LOG2 && p->alt_frame_log2 <= MAX_FRAME_LOG2 &&
                                   p->alt_frame_log2 >= p->partition_log2 &&
                                   p->alt_frame_log2 >= p->alt_partition_log2)) &&
           (!p->alt_partition_log2 || (p->alt_partition_log2 >= MIN_PARTITION_LOG2 &&
                                       p->alt_partition_log2 <= MAX_PARTITION_LOG2 &&
                                       p->alt_partition_log2 <= p->frame_log2)) &&
           p->neighbours >= 0 && p->neighbours <= MAX_NEIGHBOURS && p->max_error <= EPHYS_LPC_MAX_ERROR &&
           (p->capped == 0 || p->capped == 1) && (p->alt_segments == 0 || p->alt_segments == 1) &&
           p->ans_max_rice >= -1 && p->ans_max_rice <= ANS_MAX_RICE;
}

static uint64_t lpc_min_bytes(uint64_t n_samples, uint64_t n_channels)
{
    if (!n_samples || !n_channels) return 0;
    return STREAM_HEADER + (n_channels * 12 + 7) / 8; /* grid flag, one frame, one partition */
}

/* The stream header against the container's claim, before the output is allocated. */
static int lpc_check_block(const uint8_t *in, size_t len, uint64_t n_samples, uint32_t nc, int dtype)
{
    ephys_view_t claim = {NULL, dtype, n_samples, nc, 0, 0, NULL};
    stream_t s;
    return lpc_parse_stream(in, len, &claim, nc, &s);
}

static int lpc_is_lossy(const void *params) { return ((const ephys_lpc_params_t *)params)->max_error > 0; }

/* The integer streams alone: what the float layer (floats_encode.c, floats_decode.c) codes its grid indices with. */
static const ephys_block_codec_t int_codec = {EPHYS_CODEC_LPC, lpc_encode_block, lpc_decode_block, lpc_min_bytes,
                                              lpc_check_block, lpc_is_lossy, NULL, NULL, NULL};

/* Every stream, integer or float (stream version 5), by the container's dtype. */
static int any_decode_block(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    if (ephys_float_is_dtype(dst->dtype)) return ephys_lpc_float_decode_block(&int_codec, in, len, dst, c0, nc);
    return lpc_decode_block(in, len, dst, c0, nc);
}

static int any_check_block(const uint8_t *in, size_t len, uint64_t n_samples, uint32_t nc, int dtype)
{
    if (ephys_float_is_dtype(dtype)) return ephys_lpc_float_check_block(&int_codec, in, len, n_samples, nc, dtype);
    return lpc_check_block(in, len, n_samples, nc, dtype);
}

/* Integer streams in steps; float streams whole (NULL without an error). */
static void *any_decode_open(const uint8_t *in, size_t len, const ephys_view_t *dst, uint64_t c0, uint32_t nc,
                             const void *share, int *err)
{
    *err = EPHYS_OK;
    if (ephys_float_is_dtype(dst->dtype)) return NULL;
    return lpc_decoding_open(in, len, dst, c0, nc, share, err);
}

static int any_decode_step(void *state, int *done) { return lpc_decoding_step(state, done); }

static int any_decode_close(void *state, int err) { return lpc_decoding_close(state, err); }

static const ephys_block_codec_t lpc_codec = {EPHYS_CODEC_LPC,  lpc_encode_block, any_decode_block, lpc_min_bytes,
                                              any_check_block,  lpc_is_lossy,     any_decode_open,  any_decode_step,
                                              any_decode_close};

static int float_encode_block(const void *coding, const ephys_view_t *src, uint64_t c0, uint32_t nc, ephys_buf_t *out)
{
    return ephys_lpc_float_encode_block(coding, src, c0, nc, out);
}

static int float_is_lossy(const void *coding) { return ((const ephys_float_coding_t *)coding)->max_error > 0; }

static const ephys_block_codec_t float_codec = {EPHYS_CODEC_LPC, float_encode_block, any_decode_block, lpc_min_bytes,
                                                any_check_block, float_is_lossy, NULL, NULL, NULL};

int ephys_lpc_encode(const ephys_lpc_params_t *params, const ephys_view_t *src,
                     int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                     int num_threads, uint8_t **out, size_t *out_len)
{
    if (!params_ok(params) || !src || ephys_float_is_dtype(src->dtype)) return EPHYS_ERR_ARGS;
    return ephys_chunk_encode(&lpc_codec, params, src, ndim, shape, flags, channels_per_block, num_threads, out,
                              out_len);
}

int ephys_lpc_encode_float(const ephys_lpc_params_t *params, double max_error, const ephys_view_t *src, int ndim,
                           const uint64_t *shape, uint32_t flags, uint32_t channels_per_block, int num_threads,
                           uint8_t **out, size_t *out_len)
{
    if (!params_ok(params) || params->max_error || !src || !ephys_float_is_dtype(src->dtype) || !(max_error >= 0) ||
        !(max_error <= DBL_MAX))
        return EPHYS_ERR_ARGS;
    /* noise-like planes (a float's top mantissa bits, quantized filtered
     * data) are coded shorter with orders up to 12, weights in 1/256 and the
     * residuals of 8 channels before each, unlike the integer recordings
     * (measured on band-passed recordings: docs/benchmarks.md) */
    ephys_lpc_params_t wide = *params, near;
    if (wide.max_order >= 4) wide.max_order = 12;
    wide.coef_shift = 8;
    wide.neighbours = MAX_NEIGHBOURS;
    near = wide;
    near.max_error = EPHYS_LPC_FLOAT_LOOP_K;
    ephys_float_coding_t coding = {&int_codec, params, &wide, max_error > 0 ? &near : NULL, max_error};
    return ephys_chunk_encode(&float_codec, &coding, src, ndim, shape, flags, channels_per_block, num_threads, out,
                              out_len);
}

int ephys_lpc_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info)
{
    return ephys_chunk_parse(&lpc_codec, buf, len, info, NULL);
}

int ephys_lpc_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads)
{
    return ephys_chunk_decode(&lpc_codec, buf, len, dst, num_threads);
}

int ephys_lpc_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                            const ephys_view_t *dst, int num_threads)
{
    return ephys_chunk_decode_blocks(&lpc_codec, buf, len, first_block, n_blocks, dst, num_threads);
}
