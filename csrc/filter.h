/* Header shared by the filters (Delta2D, BitTruncation, LSB).  Read by cffi.
 *
 * A filter keeps the chunk an array of the input dtype whose trailing axes are
 * the input's channel axes, so that a following WavPack/FLAC still sees
 * (time, channels); the header travels in extra leading "rows" of that array:
 *
 *   bytes (little endian), format version 2:
 *   0   4  magic "EPHF"
 *   4   1  format version (2)
 *   5   1  filter id (EPHYS_FILTER_*)
 *   6   1  itemsize of the signed integer dtype (1, 2, 4 or 8)
 *   7   1  ndim of the original chunk (0..8)
 *   8   1  filter parameter (Delta2D: axis code; BitTruncation: bits; LSB: 0)
 *   9   1  flags: EPHYS_FILTER_FORTRAN (the original chunk was in Fortran
 *          order, and decoding returns that order: zarr reads a chunk's memory
 *          in its array's order), EPHYS_FILTER_UNCHECKED (no checksum of the
 *          samples: a header rebuilt by the zarr 3 filters, which store none)
 *   10  2  zero
 *   12  4  u32 extra rows after the header (LSB: correction table rows)
 *   16  8  u64 number of escaped samples (LSB; zero for the other filters)
 *   24  8  u64 hash of the parameters decoding needs beyond the header (LSB:
 *          offsets and steps; zero for the other filters)
 *   32  4  CRC-32C of the decoded chunk's bytes in C order (little endian)
 *   36  4  CRC-32C of header bytes 0..35 and of the shape
 *   40  8 * ndim  shape (u64)
 *   ... padding to a whole number of rows: each padding byte repeats the byte
 *       at the same position of the first row after the header (zero if there
 *       is none), so that a codec after the filter sees no jump in the
 *       channels the header does not occupy
 *
 * A row is one time step of every channel (channels * itemsize bytes); a chunk
 * without channels (a zero-length channel axis) is flat with rows of one item.
 * After the header rows come the filter's table rows, then the samples (one
 * row per time step), then (LSB) the escape rows.
 *
 * Format version 1 (numcodecs-ephys 0.1.0) still decodes: bytes 9..11 zero,
 * no checksums, the shape at byte 32.  The kernels write the header with
 * zero flags and checksums; ephys_filter_seal fills them in once the encoded
 * chunk is complete, and ephys_filter_verify checks a decoded chunk.
 *
 * The header only frames a filter's samples for numcodecs, whose codecs hand
 * each other bare bytes: the kernels themselves (ephys_delta2d_apply /
 * _invert, ephys_bittruncation_apply / _invert) work on bare samples, which is
 * what the zarr 3 filters store (their chunk spec already says dtype, shape
 * and parameters).  Writing the header is internal (filter_frame.h).
 */
#ifndef EPHYS_FILTER_H
#define EPHYS_FILTER_H
#include <stddef.h>
#include <stdint.h>

enum { EPHYS_FILTER_FORTRAN = 1, EPHYS_FILTER_UNCHECKED = 2 };

enum { EPHYS_FILTER_DELTA2D = 1, EPHYS_FILTER_BITTRUNCATION = 2, EPHYS_FILTER_LSB = 3 };

typedef struct {
    int version;
    int flags;
    int filter;
    int itemsize;
    int ndim;
    int param;
    uint64_t shape[8];
    uint64_t n_samples;     /* shape[0], 1 for ndim 0 */
    uint64_t n_channels;    /* product of shape[1:] */
    uint64_t row_bytes;     /* bytes per row of the encoded array */
    uint64_t header_rows;
    uint64_t table_rows;
    uint64_t n_escapes;      /* samples stored in escape rows after the payload (LSB) */
    uint64_t params_hash;    /* hash of the parameters decoding needs (LSB) */
    uint64_t payload_offset; /* byte offset of the first sample row */
    uint64_t total_bytes;    /* expected total length of the encoded chunk */
} ephys_filter_info_t;

/* Layout of an encoded chunk for a given input; fills info (table_rows and
 * n_escapes as given).  Returns EPHYS_ERR_ARGS on impossible sizes. */
int ephys_filter_layout(int filter, int itemsize, int ndim, const uint64_t *shape, int param,
                        uint64_t table_rows, uint64_t n_escapes, ephys_filter_info_t *info);
/* Parse and validate a header against the input length. */
int ephys_filter_parse(const uint8_t *buf, size_t len, int filter, ephys_filter_info_t *info);
/* Set the flags and the checksum of the decoded chunk (samples: its
 * C-order bytes, or NULL with EPHYS_FILTER_UNCHECKED) in a complete encoded
 * chunk of format version 2, then the header checksum. */
int ephys_filter_seal(uint8_t *buf, size_t len, int flags, const void *samples, size_t samples_len);
/* Check a decoded chunk (C-order bytes) against the encoded chunk's checksum:
 * EPHYS_OK, or EPHYS_ERR_CHECKSUM; nothing to check for version 1 or
 * EPHYS_FILTER_UNCHECKED. */
int ephys_filter_verify(const uint8_t *buf, size_t len, const void *samples, size_t samples_len);

#endif
