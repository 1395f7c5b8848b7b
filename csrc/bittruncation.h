/* BitTruncation filter: drops the low bits of int16/int32 samples, rounding to
 * nearest with ties away from zero and saturating at the dtype's limits.
 * Read by cffi. */
#ifndef EPHYS_BITTRUNCATION_H
#define EPHYS_BITTRUNCATION_H
#include <stddef.h>
#include <stdint.h>

/* The kernel, on bare samples: in and out are len bytes of int16 (itemsize 2)
 * or int32 (4) samples, aligned to their itemsize (the Python side makes sure
 * of it), either the same buffer or not overlapping.  apply stores
 * q = round(x / 2^bits), invert x = q * 2^bits; bits from 0 to 8 * itemsize - 1. */
int ephys_bittruncation_apply(const void *in, void *out, size_t len, int itemsize, int bits, int num_threads);
int ephys_bittruncation_invert(const void *in, void *out, size_t len, int itemsize, int bits, int num_threads);

/* The numcodecs chunk (filter.h): the header, then the kernel's output.
 * in: C-contiguous int16 or int32 chunk, aligned; out: exactly the encoded
 * size (ephys_filter_layout with param = bits). */
int ephys_bittruncation_encode(const void *in, size_t in_len, int itemsize, int ndim, const uint64_t *shape,
                               int bits, int num_threads, uint8_t *out, size_t out_len);
int ephys_bittruncation_decode(const uint8_t *buf, size_t len, void *out, size_t out_len, int num_threads);

#endif
