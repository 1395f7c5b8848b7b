/* Internal to the filters' C sources (not read by cffi): framing a kernel's
 * samples with the header of filter.h, and the thread rule of the kernels. */
#ifndef EPHYS_FILTER_FRAME_H
#define EPHYS_FILTER_FRAME_H
#include <stddef.h>
#include <stdint.h>

#include "filter.h"

/* Below this many bytes of samples a pass runs on the calling thread: starting
 * threads costs more than they save on chunks smaller than a few hundred kB. */
#define EPHYS_FILTER_PARALLEL_BYTES ((uint64_t)1 << 18)

/* The threads a pass over nbytes of samples uses (1 below the threshold). */
int ephys_filter_threads(uint64_t nbytes, int num_threads);

/* Whether len bytes are exactly n_samples x n_channels items of itemsize
 * (1, 2, 4 or 8) bytes, without overflow. */
int ephys_filter_samples_ok(size_t len, int itemsize, uint64_t n_samples, uint64_t n_channels);

/* Whether the len-byte buffers a and b overlap without being the same. */
int ephys_filter_overlap(const void *a, const void *b, size_t len);

/* Write the header described by info at the start of out (header_rows rows,
 * zero padded); once the rows after it are written, ephys_filter_pad_header
 * sets the padding (out holds total_bytes). */
void ephys_filter_write_header(const ephys_filter_info_t *info, uint8_t *out);
void ephys_filter_pad_header(const ephys_filter_info_t *info, uint8_t *out);

/* The start of encoding for a filter whose kernel maps samples one to one
 * (Delta2D, BitTruncation): lays out the chunk of in (in_len bytes of samples
 * of shape), checks the buffers against it and writes the header into out; the
 * caller then writes the samples at out + info->payload_offset and pads the header. */
int ephys_filter_begin_encode(int filter, int itemsize, int ndim, const uint64_t *shape, int param,
                              const void *in, size_t in_len, uint8_t *out, size_t out_len,
                              ephys_filter_info_t *info);

#endif
