/* EphysLPC: our own lossless / near-lossless codec for multichannel ephys, one
 * block codec of the chunk container (container codec id EPHYS_CODEC_LPC).
 *
 * Each block of channels is one stream.  Stream layout (little endian):
 *
 *   0   1  stream version (4; versions 1 to 3 still decode, see below)
 *   1   1  dtype (EPHYS_DTYPE_INT8/16/32), equal to the container's
 *   2   1  log2 of the frame length F in samples (4..16)
 *   3   1  log2 of the Rice partition length P in samples (4..min(12, log2 F))
 *   4   1  coefficient shift s (1..15): predictor weights are integers / 2^s
 *   5   1  neighbours m (0..8): channels whose residuals predict the next one
 *   6   1  capped: 1 if each channel's partition header carries a cap b (below), else 0
 *   7   1  zero
 *   8   4  samples, equal to the container's
 *   12  4  channels, equal to the container's block
 *   16  4  max_error k (0 lossless; at most EPHYS_LPC_MAX_ERROR)
 *   20     one bit stream to the end of the stream: each field is stored least
 *          significant bit first, from the lowest bit of each byte up; the
 *          stream is zero-padded to a byte.
 *
 * The bit stream holds, for each channel of the block in order, 1 bit: 1 if
 * the channel sits on a grid, then 32 bits scale (>= 2) and 32 bits base
 * (< scale): the channel's samples are x = y * scale + base and the codec
 * codes y (lossless mode only; without a grid, y = x).  Then come the frames
 * (samples [f F, (f + 1) F)) in order.  A frame is every channel's header in
 * channel order:
 *   6 bits  order p (0..32)
 *   if p:   4 bits b - 1, then p weights a_1..a_p of b bits each (two's complement)
 *   5 bits n, then (if n) n bits zigzag(d): the channel's offset d in this frame,
 *           which must lie in [lo, hi] (the encoder writes the frame's rounded mean)
 *   if m and the channel is not the block's first: 1 bit g; if g, 10 bits gain G
 *           (two's complement)
 * then the frame's partitions of P samples (the last may be shorter, pn
 * samples) in order.  A partition is:
 *   per channel: 5 bits, its Rice parameter r; r = 31: every value of the
 *           channel in this partition is 0 (it has no fields and no unary
 *           parts); else, if capped, 2 bits: its cap b (0..3; r + b <= 25 when b > 0)
 *   32 bits: the length in bits of unary area A
 *   the low-bits area: per channel in order, a field of r + b bits for each of
 *           its pn values u (q = u >> r is u's high part, T = 2^b - 1):
 *           (min(q, T) << r) | (the r low bits of u)
 *   unary area A: the unary parts of channels [0, h), h = nc - nc / 2, in order
 *   unary area B: the unary parts of channels [h, nc), in order
 * A channel has a unary part for each value whose field's top b bits are all
 * ones (q >= T; with b = 0, every value), in order: q - T zero bits and a one
 * bit, or, when q - T >= 32, an escape: 32 zero bits, then q - T in 32 bits.
 * So b = 0 is Rice coding; b = 2 or 3 codes the first T high parts in b bits
 * (flat, as near-Gaussian residuals want: 1.5-2.6% below Rice there) and the
 * rest in unary.  (Two areas let a decoder parse two channels at once; the
 * fields apart from the unary parts let it unpack them 8 at a time.)
 *
 * Decoding channel c at sample t (x: decoded samples; before the first, the
 * channel's d of the first frame; [lo, hi]: the dtype's range; arithmetic in
 * int64, wrap = modulo 2^32 to int32; >> is a floor shift):
 *   pred = clamp((sum_i a_i x[t - i] + d (2^s - sum_i a_i) + 2^(s-1)) >> s, lo, hi)
 *          (that is d plus the prediction of x - d: a probe channel's DC offset
 *          costs the predictor nothing)
 *   v    = zigzag^-1(u)                      (0, -1, 1, -2 ... from u = 0, 1, 2, 3 ...)
 *   S    = the sum of e of the m channels before c (same t, same block), modulo 2^32
 *   e    = wrap(v + (wrap(G S + 64) >> 7))
 *   lossless:   y = wrap(pred + e), which must lie in [lo, hi]; x = y * scale + base,
 *               which must lie in [lo, hi]
 *   max_error k: x = clamp(pred + e (2k + 1), lo, hi)
 * (pred is computed from the channel's earlier y; x stands for y in the first lines.)
 * In near-lossless mode the encoder quantizes inside this loop (JPEG-LS), so
 * every decoded sample is within k of the original.
 *
 * Version 3 (0.2.0.dev0) is version 4 with byte 6 zero: no caps, Rice coding.
 * Versions 1 and 2 (written by 0.2.0.dev0) differ in the entropy layout and
 * the neighbour term.  After the header come the byte lengths of 4 lanes (4
 * bytes each), then the lanes back to back.  A lane is a bit stream, most
 * significant bit first; channel c is coded in lane c % 4, which holds the
 * grid fields and frame headers of its channels.  Each value is coded whole:
 * q zero bits, a one bit and the r low bits, or for q >= 32 32 zero bits and
 * the 32 bits of u.  Version 2 stores a frame's channel headers first and then
 * partition by partition (each partition: per channel its 5-bit r and its
 * values); version 1 stores channel group by channel group (4 channels, one
 * per lane), each with its headers and then its partitions, and has no offset
 * fields (every d is 0).  Their neighbour term is ((G S + 64) >> 7) in int64,
 * wrapped.
 *
 * The declarations below are read by cffi (preprocessor lines are skipped).
 */
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
    int coef_shift;      /* precision of the predictor weights */
    int neighbours;      /* channels used to predict each channel's residual */
    uint32_t max_error;  /* 0: lossless */
} ephys_lpc_params_t;

/* Kernels: 0 = the best this CPU runs, 1 = portable scalar, 2 = SSE2, 3 = AVX2. */
enum { EPHYS_LPC_KERNEL_AUTO = 0, EPHYS_LPC_KERNEL_SCALAR = 1, EPHYS_LPC_KERNEL_SSE2 = 2, EPHYS_LPC_KERNEL_AVX2 = 3 };

int ephys_lpc_default_params(int level, uint32_t max_error, ephys_lpc_params_t *params);
/* Select the kernel for later calls of this process (for tests); returns
 * EPHYS_ERR_ARGS if this CPU cannot run it. */
int ephys_lpc_set_kernel(int kernel);
int ephys_lpc_kernel(void);

int ephys_lpc_encode(const ephys_lpc_params_t *params, const ephys_view_t *src,
                     int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                     int num_threads, uint8_t **out, size_t *out_len);
int ephys_lpc_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info);
int ephys_lpc_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads);
/* Decode channel blocks [first_block, first_block + n_blocks) into dst (their channels only). */
int ephys_lpc_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                            const ephys_view_t *dst, int num_threads);

#endif
