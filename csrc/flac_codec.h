/* FLAC in the chunk container, plus the bare FLAC files that flac-numcodecs
 * writes (codec id "flac").  Read by cffi.
 *
 * One container block (channels [c0, c0 + nc) of the chunk) is a sequence of
 * FLAC streams, each coding the next channels_per_stream channels (the last
 * one fewer when nc is not a multiple), back to back:
 *
 *   4  length L of the stream in bytes (little endian)
 *   L  a complete FLAC stream: "fLaC", STREAMINFO (marked as the last metadata
 *      block, total samples filled in, MD5 all zero) and the frames.  The
 *      VORBIS_COMMENT block libFLAC always writes is left out: it only names
 *      the library and would cost 44 bytes per stream.
 *
 * The layout is self-describing: a reader takes each stream's channel count
 * from its STREAMINFO and needs the counts to add up to nc, so it decodes
 * blocks written with any channels_per_stream.  FLAC codes two-channel
 * streams with stereo decorrelation (left/side, mid/side), which is why pairs
 * compress Neuropixels data best.
 *
 * Integrity: every FLAC frame carries a CRC-8 header check and a CRC-16 over
 * the frame, which the decoder verifies; any CRC failure, lost sync, frame of
 * an unexpected shape or sample count fails the decode.  Our streams carry no
 * MD5 (computing one per stream would only cost time: the frame CRCs already
 * cover every byte).  flac-numcodecs files do carry an MD5, and it is checked.
 */
#ifndef EPHYS_FLAC_CODEC_H
#define EPHYS_FLAC_CODEC_H
#include "chunk.h"

#define EPHYS_FLAC_MAX_CHANNELS 8
#define EPHYS_FLAC_MIN_BLOCKSIZE 16
#define EPHYS_FLAC_MAX_BLOCKSIZE 65535

typedef struct {
    int level;                     /* libFLAC compression level 0..8 */
    uint32_t blocksize;            /* samples per FLAC frame, 16..65535 */
    uint32_t channels_per_stream;  /* 1..8 */
    int exhaustive_stereo;         /* 2-channel streams: 1 tries all four stereo modes per frame
                                    * (libFLAC's presets), 0 picks one by libFLAC's estimate
                                    * (its "loose mid-side"): ~1.3x faster, <= 0.1% larger */
} ephys_flac_params_t;

/* What flac-numcodecs sets: level, blocksize (0: libFLAC's default for the
 * level), sample rate; streamable subset on. */
typedef struct {
    int level;
    uint32_t blocksize;
    uint32_t sample_rate;
} ephys_flac_stream_params_t;

const char *ephys_flac_library_version(void);
/* The widest samples this libFLAC can encode (24 before libFLAC 1.4, then 32). */
int ephys_flac_max_bits_per_sample(void);

int ephys_flac_encode(const ephys_flac_params_t *params, const ephys_view_t *src,
                      int ndim, const uint64_t *shape, uint32_t flags, uint32_t channels_per_block,
                      int num_threads, uint8_t **out, size_t *out_len);
int ephys_flac_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info);
int ephys_flac_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads);
/* Decode channel blocks [first_block, first_block + n_blocks) into dst (their channels only). */
int ephys_flac_decode_blocks(const uint8_t *buf, size_t len, uint32_t first_block, uint32_t n_blocks,
                             const ephys_view_t *dst, int num_threads);

/* A complete FLAC file of src's channels (1..8), byte-identical to what
 * flac-numcodecs 0.1.2 writes for the same samples and parameters. */
int ephys_flac_stream_encode(const ephys_flac_stream_params_t *params, const ephys_view_t *src,
                             uint8_t **out, size_t *out_len);
int ephys_flac_stream_info(const uint8_t *buf, size_t len, uint64_t *n_samples,
                           uint32_t *n_channels, uint32_t *bits_per_sample);
/* Decode a whole FLAC file into dst (int16 or int32, dst->n_channels equal to
 * the file's), checking the file's MD5 when it has one. */
int ephys_flac_stream_decode(const uint8_t *buf, size_t len, const ephys_view_t *dst);

#endif
