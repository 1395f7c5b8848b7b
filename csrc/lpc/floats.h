/* EphysLPC on float32 / float64 samples: each block of channels becomes a
 * plane of int32 "grid indices" coded by the integer LPC stream, plus what
 * gives every float back bit for bit.  Stream layout (little endian):
 *
 *   0   1  stream version 5 (a float stream; integer streams are versions 1-4 and 6,
 *          so a reader older than float streams refuses it as a newer version)
 *   1   1  dtype: EPHYS_DTYPE_FLOAT32 or EPHYS_DTYPE_FLOAT64, equal to the container's
 *   2   1  mode: 1 grid, 2 split, 3 bounded, 4 channel grids, 5 raw (below); a
 *          reader refuses a mode it does not know (readers before modes 4 and 5 do)
 *   3   1  channel grids mode: the arithmetic, 0 double, 1 float32 (float32
 *          streams only; below); other modes: zero
 *   4   4  samples, equal to the container's
 *   8   4  channels, equal to the container's block
 *   12  8  step (IEEE double; grid and bounded modes, else 0): finite, > 0
 *   20  8  offset (IEEE double; grid and bounded modes, else 0): finite
 *   28  2  top exponent E (split mode, else 0): a biased exponent of a normal number
 *   30  1  repeats: 1 when each raw exception carries a repeat bit (below), else 0
 *   31  1  zero
 *   32  4  length L of the integer stream
 *   36  T  channel grids mode only (else T = 0): per channel of the block, in
 *          order, its step and offset (IEEE doubles, 8 bytes each: T = 16 x
 *          channels): step finite and > 0, offset finite
 *   36+T L an EphysLPC integer stream (version 4 or 6, dtype int32) of the block's
 *          samples x channels coded indices j (grid and channel grids modes: j =
 *          k, or through the channel's map below; the other modes: j = k, the
 *          grid index)
 *   ..  4  number of exceptions X (at most samples x channels)
 *   ..     one bit stream to the end (fields least significant bit first, from
 *          the lowest bit of each byte up; zero-padded to a byte):
 *            5 bits gap parameter rg, 5 bits delta parameter rd,
 *            per exception, in sample order (row t, channel c: index t nc + c):
 *              rice(rg) of the gap (index - previous index - 1; the first: index),
 *              1 bit raw; raw: with repeats, 1 bit repeat (1: the previous raw
 *              exception's bits, nothing follows; the first cannot repeat), then
 *              unless repeated the sample's bits (32 or 64, in 32-bit pieces, low first);
 *              else rice(rd) of zigzag(delta), delta (|delta| < 2^31) the sample's
 *              distance in ulps from its reconstruction (below)
 *            grid and channel grids modes: the maps of gappy grids (a converter's levels that skip
 *              grid points: Open Ephys counts of 0.195 uV 24.04 apart): 1 bit,
 *              0: no channel is mapped; 1: 5 bits rk, 5 bits rj, then per channel
 *              1 bit mapped; if mapped, its m distinct indices k_0 < ... < k_(m-1)
 *              and their coded indices j_0 < ... < j_(m-1): rice(4) of m - 3
 *              (m <= samples), zigzag(k_0) and zigzag(j_0) in 32 bits each, then
 *              per later entry rice(rk) of k_i - k_(i-1) - 1 and rice(rj) of
 *              j_i - j_(i-1) - 1; every |k_i| and |j_i| < 2^30.  A mapped
 *              channel's coded index must be one of its j_i; k is the k_i.
 *            split mode: the extra bits of every sample that is not an exception
 *              and has k != 0, in sample order (their count follows from k)
 *          rice(r) of u: q = u >> r zero bits and a one bit, then the r low bits
 *          of u; q >= 32: 32 zero bits, then u in 64 bits (two 32-bit pieces).
 *
 * Raw mode: bytes 3 and 12 to 35 zero, then exactly samples x channels samples as they
 * are (4 or 8 bytes, little endian, in sample order), nothing else: written
 * where every other mode is longer, so that a block costs at most its samples
 * and the header.
 *
 * Decoding sample (t, c) with grid index k:
 *   grid:    x = k * step + offset in double (no fused multiply-add), rounded to
 *            the dtype (round to nearest even).  Data scaled from integers (int16 x
 *            a gain, + an offset) gives back the scaled value exactly.
 *   split:   no grid: k is the sample's top mantissa bits.  M = 24 (float32) or
 *            53 (float64) mantissa bits with the hidden one, K = 24 or 30 bits of
 *            k.  k = 0: x = +0.  Else b = bitlength(|k|) <= K, s = M - b extra
 *            bits, exponent e = E - s + (M - K) >= 1 (biased), mantissa
 *            (|k| << s) | extra, sign of k.  Every normal number of exponent in
 *            (E - K, E] is such a sample, its extra bits the mantissa bits below
 *            the block's integer grid (the encoder takes E where that window
 *            holds the most samples: a rare huge value is an exception instead
 *            of pushing every other sample's bits below the grid).
 *   channel grids: as grid, with channel c's own step and offset from the
 *            table (gains or offsets per channel: SpikeInterface's scaled
 *            traces, channels with their mean removed).  Arithmetic 1 (float32
 *            only) rounds the product to float32 before the addition:
 *            x = float(double(float(k * step)) + offset), what float32
 *            arithmetic gives for a float32 gain and offset (SpikeInterface
 *            scales int16 traces with float32 gains and offsets).
 *   bounded: as grid, without maps (the encoder quantized inside the integer
 *            stream's prediction loop, or on a grid of twice the bound alone, and
 *            checked every finite sample against the bound: any beyond it, and
 *            outliers beyond the indices' range, are raw exceptions).
 * Then each exception replaces its sample: raw bits, or the ordered integer of
 * the reconstruction's bits plus delta (ulps: the sign-magnitude bit pattern
 * mapped monotonically to a signed integer, -0 next to +0).  The exceptions
 * hold whatever the rule does not give: NaN (any payload), infinities, -0,
 * subnormals and exponents outside the window in split mode, samples off the
 * grid.  The k of an exception is
 * the channel's previous k, so that it costs the predictor nothing.
 *
 * Internal to the C sources: the integer LPC codec calls these for float views.
 */
#ifndef EPHYS_LPC_FLOATS_H
#define EPHYS_LPC_FLOATS_H
#include "block_codec.h"

#define EPHYS_LPC_FLOAT_VERSION 5

/* What the float layer needs: the integer block codec that codes the grid
 * indices and its parameters for each use, and the absolute bound. */
typedef struct {
    const ephys_block_codec_t *ints;
    const void *grid_params;  /* lossless, indices of a grid (integer-like signals) */
    const void *wide_params;  /* lossless, noise-like values (split planes, quantized filtered data): finer
                                 weights and higher orders pay there */
    const void *near_params;  /* as wide_params, inside the prediction loop with max_error
                                 EPHYS_LPC_FLOAT_LOOP_K; NULL if lossless */
    double max_error;         /* 0: lossless; else the absolute bound in the data's units */
} ephys_float_coding_t;

/* The integer loop's bound in bounded mode, in fine grid steps: the quantizer
 * step is then close to twice the bound, and the first rounding to the fine
 * grid takes 1/33 of the error budget. */
#define EPHYS_LPC_FLOAT_LOOP_K 16

int ephys_float_is_dtype(int dtype);
int ephys_lpc_float_encode_block(const ephys_float_coding_t *fc, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                                 ephys_buf_t *out);
int ephys_lpc_float_decode_block(const ephys_block_codec_t *ints, const uint8_t *in, size_t len,
                                 const ephys_view_t *dst, uint64_t c0, uint32_t nc);
int ephys_lpc_float_check_block(const ephys_block_codec_t *ints, const uint8_t *in, size_t len, uint64_t n_samples,
                                uint32_t nc, int dtype);

#endif
