/* HDF5 filter plugin: WavPack (lossless and hybrid) in the numcodecs-ephys
 * chunk container.  Its filter id: EPHYS_H5_FILTER_ID (h5plugin.h).
 *
 * Codec options, cd_values[0..5] (then the set_local part, see h5plugin.h):
 *   0  level: 1 fast, 2 normal (default), 3 high, 4 very high
 *   1  bps in thousandths of a bit per sample: 0 lossless (default), else
 *      hybrid at 2250..32000 (2.25 to 32 bits per sample)
 *   2  dynamic noise shaping (hybrid): 1 (default) or 0
 *   3  fixed shaping weight in thousandths, as a two's-complement int32 in
 *      [-1000, 1000] (used when 2 is 0); default 0
 *   4  channels per block (independent stream): 1..4096, default 16 (as
 *      numcodecs_ephys.WavPack: tests/test_unsigned.py checks that they agree)
 *   5  unused, 0 (numcodecs-ephys 0.1.0 stored a thread count here; the
 *      plugin takes it from the reading process instead: h5plugin.c)
 */
#include <stdint.h>

#include "h5plugin.h"
#include "wavpack_codec.h"


static int check_options(const unsigned *o)
{
    int32_t weight = (int32_t)o[3];
    if (o[0] < 1 || o[0] > 4) return EPHYS_ERR_ARGS;
    if (o[1] != 0 && (o[1] < 2250 || o[1] > 32000)) return EPHYS_ERR_ARGS;
    if (o[2] > 1 || weight < -1000 || weight > 1000) return EPHYS_ERR_ARGS;
    if (o[4] < 1 || o[4] > 4096) return EPHYS_ERR_ARGS;
    return EPHYS_OK;
}

static int dtype_ok(int dtype) { return ephys_dtype_size(dtype) != 0 && dtype != EPHYS_DTYPE_FLOAT64; }

static int encode(const unsigned *o, const ephys_view_t *src, int ndim, const uint64_t *shape, int num_threads,
                  uint8_t **out, size_t *out_len)
{
    ephys_wavpack_params_t p;
    p.level = (int)o[0];
    p.bps = o[1] / 1000.0;
    p.dynamic_shaping = (int)o[2];
    p.shaping_weight = (int32_t)o[3] / 1000.0;
    return ephys_wavpack_encode(&p, src, ndim, shape, 0, o[4], num_threads, out, out_len);
}

static const ephys_h5_codec_t codec = {
    EPHYS_H5_FILTER_ID, "numcodecs-ephys WavPack", 6, {2, 0, 1, 0, 16, 0},
    check_options, dtype_ok, encode, ephys_wavpack_info, ephys_wavpack_decode,
};

EPHYS_H5_PLUGIN(codec, EPHYS_H5_FILTER_ID, "numcodecs-ephys WavPack")
