/* LSB filter: maps int16/int32 samples onto a per-channel grid
 * offset + k * step (k stored), losslessly: a per-chunk correction table per
 * channel and grid index, plus escaped samples, give back every value exactly.
 * Read by cffi. */
#ifndef EPHYS_LSB_H
#define EPHYS_LSB_H
#include <stddef.h>
#include <stdint.h>

/* Correction table entries per channel at most (more: the samples are escaped). */
#define EPHYS_LSB_MAX_TABLE 65536
/* The parameters' limits (|offset| and step; a step of an integer grid is at
 * least 1): they keep offset + k * step exact in int64 (see recon in lsb.c). */
#define EPHYS_LSB_MAX_OFFSET 1099511627776
#define EPHYS_LSB_MAX_STEP 16777216

/* FNV-1a hash of the parameters, stored in every chunk. */
uint64_t ephys_lsb_params_hash(const double *offsets, const double *steps, uint64_t n_channels);
/* The value the decoder reconstructs from grid index k before corrections:
 * offset + k * step in double (no fused multiply-add), rounded half away from
 * zero, saturated to the dtype. */
int64_t ephys_lsb_reconstruct(double offset, double step, int64_t k, int itemsize);

/* in: C-contiguous chunk (itemsize 2 or 4), aligned to its itemsize (the Python
 * side makes sure of it); offsets/steps: one per channel
 * (product of shape[1:], 1 for a 1-D chunk).  *out is malloc'd (ephys_free). */
int ephys_lsb_encode(const void *in, size_t in_len, int itemsize, int ndim, const uint64_t *shape,
                     const double *offsets, const double *steps, uint64_t n_params, int num_threads,
                     uint8_t **out, size_t *out_len, uint64_t *n_escapes);
/* Float input (float_itemsize 4: float32, 8: float64) on a grid, such as
 * SpikeInterface's scaled traces (int16 x gain + offset, in float32): each
 * sample becomes the grid index k whose reconstruction r(k) = k * step +
 * offset, in the input's precision (float32: both operations rounded to
 * float32, as numpy computes them; float64: double), equals it bit for bit.
 * Samples that no k in the int32 range gives (off the grid, NaN, infinities,
 * -0.0) are escaped with their bit pattern.  The grid indices are int16 when
 * every one fits, else int32 (the header's itemsize); the header's parameter
 * byte holds float_itemsize (0 for integer input).  Steps from just above 0. */
int ephys_lsb_encode_float(const void *in, size_t in_len, int float_itemsize, int ndim, const uint64_t *shape,
                           const double *offsets, const double *steps, uint64_t n_params,
                           uint8_t **out, size_t *out_len, uint64_t *n_escapes);
/* out: the decoded chunk, integers or (parameter byte 4 or 8) floats. */
int ephys_lsb_decode(const uint8_t *buf, size_t len, const double *offsets, const double *steps,
                     uint64_t n_params, void *out, size_t out_len, int num_threads);

#endif
