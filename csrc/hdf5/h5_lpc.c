/* HDF5 filter plugin: EphysLPC (lossless and near-lossless) in the numcodecs-ephys
 * chunk container.  Its filter id: EPHYS_H5_FILTER_ID (h5plugin.h).
 *
 * Codec options, cd_values[0..3] (then the set_local part, see h5plugin.h):
 *   0  level: 1, 2 (default) or 3
 *   1  max_error: 0 lossless (default), else every sample within that many units
 *      (at most EPHYS_LPC_MAX_ERROR)
 *   2  channels per block (independent stream): 1..2^20, default 32
 *   3  float datasets: the bit pattern of a float32 absolute bound (a
 *      non-integer max_error, which then takes the place of option 1; integer
 *      datasets refuse it).  Zero or the pattern of a subnormal float means no
 *      bound: earlier files hold 0 or a thread count there, and must keep
 *      their meaning.  (The plugin takes its thread count from the process that
 *      runs it, h5plugin.c.)
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "h5plugin.h"
#include "lpc/lpc_codec.h"


static float option_as_float(const unsigned *o)
{
    uint32_t bits = o[3];
    float bound;
    memcpy(&bound, &bits, 4);
    return bound;
}

/* Option 3 holds a float bound (valid or not) unless it reads as zero or a subnormal. */
static int has_float_bound(const unsigned *o) { return !(fabsf(option_as_float(o)) < FLT_MIN); }

static double float_bound(const unsigned *o) { return has_float_bound(o) ? option_as_float(o) : (double)o[1]; }

static int check_options(const unsigned *o)
{
    ephys_lpc_params_t p;
    if (ephys_lpc_default_params((int)o[0], o[1], &p)) return EPHYS_ERR_ARGS;
    if (o[2] < 1 || o[2] > (1u << 20)) return EPHYS_ERR_ARGS;
    if (has_float_bound(o) && (o[1] || !(float_bound(o) > 0) || !isfinite(float_bound(o)))) return EPHYS_ERR_ARGS;
    return EPHYS_OK;
}

static int dtype_ok(int dtype)
{
    return dtype == EPHYS_DTYPE_INT8 || dtype == EPHYS_DTYPE_INT16 || dtype == EPHYS_DTYPE_INT32 ||
           dtype == EPHYS_DTYPE_FLOAT32 || dtype == EPHYS_DTYPE_FLOAT64;
}

static int encode(const unsigned *o, const ephys_view_t *src, int ndim, const uint64_t *shape, int num_threads,
                  uint8_t **out, size_t *out_len)
{
    ephys_lpc_params_t p;
    int is_float = src->dtype == EPHYS_DTYPE_FLOAT32 || src->dtype == EPHYS_DTYPE_FLOAT64;
    if (has_float_bound(o) && !is_float) return EPHYS_ERR_ARGS;
    int err = ephys_lpc_default_params((int)o[0], is_float ? 0 : o[1], &p);
    if (err) return err;
    if (is_float) return ephys_lpc_encode_float(&p, float_bound(o), src, ndim, shape, 0, o[2], num_threads, out, out_len);
    return ephys_lpc_encode(&p, src, ndim, shape, 0, o[2], num_threads, out, out_len);
}

static const ephys_h5_codec_t codec = {
    EPHYS_H5_FILTER_ID, "numcodecs-ephys EphysLPC", 4, {2, 0, 32, 0},
    check_options, dtype_ok, encode, ephys_lpc_info, ephys_lpc_decode,
};

EPHYS_H5_PLUGIN(codec, EPHYS_H5_FILTER_ID, "numcodecs-ephys EphysLPC")
