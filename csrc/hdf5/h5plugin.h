/* What the WavPack and FLAC HDF5 filter plugins share: the cd_values layout,
 * can_apply / set_local / filter logic around the chunk container, and the
 * run-time lookup of the HDF5 functions they call.
 *
 * cd_values (unsigned ints), for both filters:
 *
 *   [0, n_options)      the codec's options, as the user gives them (a user may
 *                       give fewer: set_local fills in the defaults)
 *   n_options           cd_values layout version written by set_local (1)
 *   n_options + 1       dtype (EPHYS_DTYPE_*: 1 int8, 2 int16, 3 int32, 4 float32,
 *                       5 uint8, 6 uint16, 7 uint32; each codec takes the unsigned
 *                       types of the signed ones it codes, chunk.h)
 *   n_options + 2       chunk rank (1..8)
 *   n_options + 3 ...   chunk dims; axis 0 is time, the others are channels
 *
 * Each HDF5 chunk is one numcodecs-ephys chunk container (csrc/chunk.h),
 * byte-identical to what the numcodecs codec with the same options writes for
 * that chunk, so either side decodes the other's chunks.
 */
#ifndef EPHYS_H5PLUGIN_H
#define EPHYS_H5PLUGIN_H
#include "h5_abi.h"
#include "block_codec.h" /* chunk.h, ephys_stream_dtype, ephys_sample_size */

/* The filter id of the plugin being compiled: the build passes it (-DEPHYS_H5_FILTER_ID=...)
 * from numcodecs_ephys/hdf5/_filter_ids.py, the one place that states the ids, so that one
 * source makes a library for each id a filter has (its current one and any former one). */
#ifndef EPHYS_H5_FILTER_ID
#error "EPHYS_H5_FILTER_ID is not defined: build the plugins with csrc/build_hdf5_plugins.py"
#endif

#define EPHYS_H5_EXPORT __attribute__((visibility("default")))
#define EPHYS_H5_LOCAL_VERSION 1
#define EPHYS_H5_MAX_OPTIONS 8
#define EPHYS_H5_MAX_CD (EPHYS_H5_MAX_OPTIONS + 3 + EPHYS_MAX_NDIM)

typedef struct {
    H5Z_filter_t id;
    const char *name;
    unsigned n_options;
    unsigned defaults[EPHYS_H5_MAX_OPTIONS];
    /* EPHYS_OK when the options are valid */
    int (*check_options)(const unsigned *opts);
    /* nonzero when the codec codes that stream dtype (signed or float32) */
    int (*dtype_ok)(int dtype);
    int (*encode)(const unsigned *opts, const ephys_view_t *src, int ndim, const uint64_t *shape,
                  int num_threads, uint8_t **out, size_t *out_len);
    /* the codec's own ephys_*_info and ephys_*_decode: decoding needs no option */
    int (*info)(const uint8_t *buf, size_t len, ephys_chunk_info_t *info);
    int (*decode)(const uint8_t *buf, size_t len, const ephys_view_t *dst, int num_threads);
} ephys_h5_codec_t;

/* The callbacks, given the address HDF5 called from (to find that libhdf5). */
htri_t ephys_h5_can_apply(const ephys_h5_codec_t *codec, const void *caller, hid_t dcpl, hid_t type);
herr_t ephys_h5_set_local(const ephys_h5_codec_t *codec, const void *caller, hid_t dcpl, hid_t type);
size_t ephys_h5_filter(const ephys_h5_codec_t *codec, const void *caller, unsigned flags, size_t cd_nelmts,
                       const unsigned cd_values[], size_t nbytes, size_t *buf_size, void **buf);

/* The H5Z_class2_t, its three callbacks and the two exported H5PL functions. */
#define EPHYS_H5_PLUGIN(CODEC, ID, NAME)                                                           \
    static htri_t plugin_can_apply(hid_t dcpl, hid_t type, hid_t space)                            \
    {                                                                                              \
        (void)space;                                                                               \
        return ephys_h5_can_apply(&CODEC, __builtin_return_address(0), dcpl, type);                \
    }                                                                                              \
    static herr_t plugin_set_local(hid_t dcpl, hid_t type, hid_t space)                            \
    {                                                                                              \
        (void)space;                                                                               \
        return ephys_h5_set_local(&CODEC, __builtin_return_address(0), dcpl, type);                \
    }                                                                                              \
    static size_t plugin_filter(unsigned flags, size_t n, const unsigned cd[], size_t nbytes,      \
                                size_t *buf_size, void **buf)                                      \
    {                                                                                              \
        return ephys_h5_filter(&CODEC, __builtin_return_address(0), flags, n, cd, nbytes,          \
                               buf_size, buf);                                                     \
    }                                                                                              \
    static const H5Z_class2_t plugin_class = {H5Z_CLASS_T_VERS, ID, 1, 1, NAME,                    \
                                              plugin_can_apply, plugin_set_local, plugin_filter};  \
    EPHYS_H5_EXPORT H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_FILTER; }             \
    EPHYS_H5_EXPORT const void *H5PLget_plugin_info(void) { return &plugin_class; }

#endif
