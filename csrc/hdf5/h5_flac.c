/* HDF5 filter plugin: FLAC in the numcodecs-ephys chunk container.  Its filter
 * id: EPHYS_H5_FILTER_ID (h5plugin.h).  Not the registered FLAC filter 32027: that one
 * stores plain FLAC streams, ours a container of FLAC streams (stereo pairs,
 * channel blocks), so it needs an id of its own.
 *
 * Codec options, cd_values[0..5] (then the set_local part, see h5plugin.h):
 *   0  level: libFLAC compression level 0..8, default 5
 *   1  blocksize: samples per FLAC frame, 16..65535, default 4096
 *   2  channels per FLAC stream: 1..8, default 2 (stereo pairs)
 *   3  channels per block (independent unit): 1..1048576, default 16 (as
 *      numcodecs_ephys.FLAC: tests/test_unsigned.py checks that they agree)
 *   4  unused, 0 (numcodecs-ephys 0.1.0 stored a thread count here; the
 *      plugin takes it from the reading process instead: h5plugin.c)
 *   5  exhaustive stereo search: 0 (default) or 1
 */
#include <stdint.h>

#include "h5plugin.h"
#include "flac_codec.h"


static int check_options(const unsigned *o)
{
    if (o[0] > 8) return EPHYS_ERR_ARGS;
    if (o[1] < EPHYS_FLAC_MIN_BLOCKSIZE || o[1] > EPHYS_FLAC_MAX_BLOCKSIZE) return EPHYS_ERR_ARGS;
    if (o[2] < 1 || o[2] > EPHYS_FLAC_MAX_CHANNELS) return EPHYS_ERR_ARGS;
    if (o[3] < 1 || o[3] > (1u << 20) || o[5] > 1) return EPHYS_ERR_ARGS;
    return EPHYS_OK;
}

static int dtype_ok(int dtype)
{
    return dtype == EPHYS_DTYPE_INT8 || dtype == EPHYS_DTYPE_INT16
           || (dtype == EPHYS_DTYPE_INT32 && ephys_flac_max_bits_per_sample() >= 32);
}

static int encode(const unsigned *o, const ephys_view_t *src, int ndim, const uint64_t *shape, int num_threads,
                  uint8_t **out, size_t *out_len)
{
    ephys_flac_params_t p;
    p.level = (int)o[0];
    p.blocksize = o[1];
    p.channels_per_stream = o[2];
    p.exhaustive_stereo = (int)o[5];
    return ephys_flac_encode(&p, src, ndim, shape, 0, o[3], num_threads, out, out_len);
}

static const ephys_h5_codec_t codec = {
    EPHYS_H5_FILTER_ID, "numcodecs-ephys FLAC", 6, {5, 4096, 2, 16, 0, 0},
    check_options, dtype_ok, encode, ephys_flac_info, ephys_flac_decode,
};

EPHYS_H5_PLUGIN(codec, EPHYS_H5_FILTER_ID, "numcodecs-ephys FLAC")
