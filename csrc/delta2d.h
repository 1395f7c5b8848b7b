/* Delta2D filter: differences along time, space (channels) or both, with
 * wrap-around integer arithmetic so that decoding is bit-exact.  Read by cffi. */
#ifndef EPHYS_DELTA2D_H
#define EPHYS_DELTA2D_H
#include <stddef.h>
#include <stdint.h>

enum { EPHYS_DELTA_TIME = 1, EPHYS_DELTA_SPACE = 2, EPHYS_DELTA_TIME_SPACE = 3 };

/* The kernel, on bare samples: in and out are C-contiguous (n_samples,
 * n_channels) arrays of signed integers of itemsize bytes (1, 2, 4 or 8),
 * len bytes each, aligned to their itemsize (the Python side makes sure of
 * it).  apply writes the differences of in to out, which must not overlap
 * in; invert turns differences back into samples in place. */
int ephys_delta2d_apply(const void *in, void *out, size_t len, int itemsize, uint64_t n_samples,
                        uint64_t n_channels, int axis, int num_threads);
int ephys_delta2d_invert(void *data, size_t len, int itemsize, uint64_t n_samples, uint64_t n_channels,
                         int axis, int num_threads);

/* The numcodecs chunk (filter.h): the header, then the kernel's output.
 * in: C-contiguous chunk of the given shape (in_len bytes), aligned; out: a
 * buffer of exactly the encoded size (ephys_filter_layout).  ndim 0..8. */
int ephys_delta2d_encode(const void *in, size_t in_len, int itemsize, int ndim, const uint64_t *shape,
                         int axis, int num_threads, uint8_t *out, size_t out_len);
/* out: C-contiguous buffer of the original chunk (shape product * itemsize bytes). */
int ephys_delta2d_decode(const uint8_t *buf, size_t len, void *out, size_t out_len, int num_threads);

#endif
