/* BitTruncation filter: drops the low bits of int16/int32 samples, rounding to
 * nearest with ties away from zero and saturating at the dtype's limits.
 * Read by cffi. */
#ifndef EPHYS_BITTRUNCATION_H
#define EPHYS_BITTRUNCATION_H
#include <stddef.h>
#include <stdint.h>

/* in: C-contiguous int16 (itemsize 2) or int32 (4) chunk, aligned to its itemsize
 * (the Python side makes sure of it); out: exactly the
 * encoded size (ephys_filter_layout with param = bits). */
int ephys_bittruncation_encode(const void *in, size_t in_len, int itemsize, int ndim, const uint64_t *shape,
                               int bits, int num_threads, uint8_t *out, size_t out_len);
int ephys_bittruncation_decode(const uint8_t *buf, size_t len, void *out, size_t out_len, int num_threads);

#endif
