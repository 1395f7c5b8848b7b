/* Shared part of the HDF5 filter plugins: HDF5 function lookup, can_apply,
 * set_local and the filter function around the chunk container.
 *
 * Not linking libhdf5: a process may hold two libhdf5 (h5py wheels bundle
 * their own; h5dump uses the system one), and a plugin linked to one of them
 * would call the wrong one from the other.  So the plugin calls HDF5 only
 * through function pointers looked up in the libhdf5 that is calling it:
 * dladdr() on the callback's return address names that library, dlopen()
 * with RTLD_NOLOAD gets a handle to the already loaded copy, dlsym() finds the
 * functions.  When that fails (an HDF5 linked statically into a program),
 * the process' global symbols are searched instead.  Each calling library
 * gets its own table, so one plugin file serves any number of them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5plugin.h"

typedef struct {
    const void *key; /* base address of the calling library */
    int ok;          /* every function found */
    herr_t (*Pget_filter_by_id2)(hid_t, H5Z_filter_t, unsigned *, size_t *, unsigned[], size_t, char[],
                                 unsigned *);
    herr_t (*Pmodify_filter)(hid_t, H5Z_filter_t, unsigned, size_t, const unsigned[]);
    int (*Pget_chunk)(hid_t, int, hsize_t[]);
    int (*Tget_class)(hid_t);
    size_t (*Tget_size)(hid_t);
    int (*Tget_order)(hid_t);
    int (*Tget_sign)(hid_t);
    void *(*allocate_memory)(size_t, bool);
    herr_t (*free_memory)(void *);
} h5_api_t;

#define MAX_APIS 8
static h5_api_t apis[MAX_APIS];
static int n_apis;
static pthread_mutex_t apis_lock = PTHREAD_MUTEX_INITIALIZER;

static int load_api(void *handle, h5_api_t *a)
{
#define LOAD(field, symbol) *(void **)&a->field = dlsym(handle, symbol)
    LOAD(Pget_filter_by_id2, "H5Pget_filter_by_id2");
    LOAD(Pmodify_filter, "H5Pmodify_filter");
    LOAD(Pget_chunk, "H5Pget_chunk");
    LOAD(Tget_class, "H5Tget_class");
    LOAD(Tget_size, "H5Tget_size");
    LOAD(Tget_order, "H5Tget_order");
    LOAD(Tget_sign, "H5Tget_sign");
    LOAD(allocate_memory, "H5allocate_memory");
    LOAD(free_memory, "H5free_memory");
#undef LOAD
    a->ok = a->Pget_filter_by_id2 && a->Pmodify_filter && a->Pget_chunk && a->Tget_class && a->Tget_size
            && a->Tget_order && a->Tget_sign && a->allocate_memory && a->free_memory;
    return a->ok;
}

/* The HDF5 functions of the library that called us (NULL: none found). */
static const h5_api_t *h5_api(const void *caller)
{
    Dl_info di;
    const void *key = NULL;
    if (caller && dladdr(caller, &di) && di.dli_fname) key = di.dli_fbase;
    const h5_api_t *found = NULL;
    pthread_mutex_lock(&apis_lock);
    for (int i = 0; i < n_apis && !found; i++)
        if (apis[i].key == key) found = &apis[i];
    if (!found) {
        h5_api_t a;
        memset(&a, 0, sizeof(a));
        a.key = key;
        void *handle = key ? dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD) : NULL;
        /* The handle is kept: the library stays loaded as long as it calls us. */
        if (!handle || !load_api(handle, &a)) load_api(RTLD_DEFAULT, &a);
        if (n_apis < MAX_APIS) {
            apis[n_apis] = a;
            found = &apis[n_apis++];
        } else if (a.ok) {
            /* more libhdf5 copies than slots: overwrite the last one */
            apis[MAX_APIS - 1] = a;
            found = &apis[MAX_APIS - 1];
        }
    }
    pthread_mutex_unlock(&apis_lock);
    return found && found->ok ? found : NULL;
}

/* The thread count belongs to the machine that runs the filter, not to the file:
 * the value that numcodecs-ephys 0.1.0 stored in cd_values is ignored, and the
 * process's NUMCODECS_EPHYS_NUM_THREADS (what numcodecs_ephys.set_num_threads
 * sets) or else every core is used. */
static int process_threads(void)
{
    const char *env = getenv("NUMCODECS_EPHYS_NUM_THREADS");
    char *end = NULL;
    long n = env && *env ? strtol(env, &end, 10) : 0;
    if (n >= 1 && end && !*end) return n > EPHYS_MAX_THREADS ? EPHYS_MAX_THREADS : (int)n;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return count > EPHYS_MAX_THREADS ? EPHYS_MAX_THREADS : count;
    }
#endif
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > EPHYS_MAX_THREADS ? EPHYS_MAX_THREADS : (int)n;
}

/* The chunk dtype for an HDF5 datatype, 0 when it is not one we code. */
static int dtype_of(const h5_api_t *api, hid_t type)
{
    int cls = api->Tget_class(type);
    size_t size = api->Tget_size(type);
    if (api->Tget_order(type) != H5T_ORDER_LE) return 0; /* 1-byte types report LE too */
    if (cls == H5T_INTEGER) {
        int is_signed = api->Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: return is_signed ? EPHYS_DTYPE_INT8 : EPHYS_DTYPE_UINT8;
        case 2: return is_signed ? EPHYS_DTYPE_INT16 : EPHYS_DTYPE_UINT16;
        case 4: return is_signed ? EPHYS_DTYPE_INT32 : EPHYS_DTYPE_UINT32;
        }
    }
    if (cls == H5T_FLOAT && size == 4) return EPHYS_DTYPE_FLOAT32;
    if (cls == H5T_FLOAT && size == 8) return EPHYS_DTYPE_FLOAT64;
    return 0;
}

htri_t ephys_h5_can_apply(const ephys_h5_codec_t *codec, const void *caller, hid_t dcpl, hid_t type)
{
    const h5_api_t *api = h5_api(caller);
    if (!api) return -1;
    int dtype = dtype_of(api, type);
    if (!dtype || !codec->dtype_ok(ephys_stream_dtype(dtype))) return 0;
    hsize_t dims[H5S_MAX_RANK];
    int ndim = api->Pget_chunk(dcpl, H5S_MAX_RANK, dims);
    if (ndim < 1 || ndim > EPHYS_MAX_NDIM) return 0;
    return 1;
}

/* The codec options from cd_values: the user's, defaults for those missing. */
static void read_options(const ephys_h5_codec_t *codec, size_t n, const unsigned *cd, unsigned *opts)
{
    for (unsigned i = 0; i < codec->n_options; i++) opts[i] = i < n ? cd[i] : codec->defaults[i];
}

herr_t ephys_h5_set_local(const ephys_h5_codec_t *codec, const void *caller, hid_t dcpl, hid_t type)
{
    const h5_api_t *api = h5_api(caller);
    if (!api) return -1;
    unsigned flags = 0, cd[EPHYS_H5_MAX_CD];
    size_t n = EPHYS_H5_MAX_CD;
    if (api->Pget_filter_by_id2(dcpl, codec->id, &flags, &n, cd, 0, NULL, NULL) < 0) return -1;
    unsigned out[EPHYS_H5_MAX_CD];
    read_options(codec, n, cd, out);
    if (codec->check_options(out) != EPHYS_OK) return -1;
    int dtype = dtype_of(api, type);
    if (!dtype || !codec->dtype_ok(ephys_stream_dtype(dtype))) return -1;
    hsize_t dims[H5S_MAX_RANK];
    int ndim = api->Pget_chunk(dcpl, H5S_MAX_RANK, dims);
    if (ndim < 1 || ndim > EPHYS_MAX_NDIM) return -1;
    unsigned k = codec->n_options;
    out[k++] = EPHYS_H5_LOCAL_VERSION;
    out[k++] = (unsigned)dtype;
    out[k++] = (unsigned)ndim;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] > UINT32_MAX) return -1;
        out[k++] = (unsigned)dims[d];
    }
    return api->Pmodify_filter(dcpl, codec->id, flags, k, out);
}

typedef struct {
    unsigned opts[EPHYS_H5_MAX_OPTIONS];
    int dtype, ndim;
    uint64_t shape[EPHYS_MAX_NDIM];
    uint64_t n_samples, n_channels, nbytes;
} local_t;

/* What set_local recorded; fails on a layout it does not know. */
static int read_local(const ephys_h5_codec_t *codec, size_t n, const unsigned *cd, local_t *l)
{
    unsigned k = codec->n_options;
    if (n < k + 3 || cd[k] != EPHYS_H5_LOCAL_VERSION) return EPHYS_ERR_ARGS;
    read_options(codec, n, cd, l->opts);
    l->dtype = (int)cd[k + 1];
    l->ndim = (int)cd[k + 2];
    size_t itemsize = ephys_sample_size(l->dtype);
    if (!itemsize || l->ndim < 1 || l->ndim > EPHYS_MAX_NDIM || n < k + 3 + (size_t)l->ndim) return EPHYS_ERR_ARGS;
    l->n_channels = 1;
    for (int d = 0; d < l->ndim; d++) {
        l->shape[d] = cd[k + 3 + d];
        if (d && l->shape[d] && l->n_channels > UINT32_MAX / l->shape[d]) return EPHYS_ERR_ARGS;
        if (d) l->n_channels *= l->shape[d];
    }
    l->n_samples = l->shape[0];
    /* cd_values come from the file: refuse sizes HDF5 cannot have written (chunks < 4 GiB)
     * rather than let the product overflow. */
    if (!l->n_samples || !l->n_channels || l->n_samples > (UINT32_MAX / itemsize) / l->n_channels) return EPHYS_ERR_ARGS;
    l->nbytes = l->n_samples * l->n_channels * itemsize;
    return EPHYS_OK;
}

static void *h5_alloc(const h5_api_t *api, size_t n) { return api ? api->allocate_memory(n ? n : 1, 0) : malloc(n ? n : 1); }
static void h5_free(const h5_api_t *api, void *p)
{
    if (api) api->free_memory(p);
    else free(p);
}

size_t ephys_h5_filter(const ephys_h5_codec_t *codec, const void *caller, unsigned flags, size_t cd_nelmts,
                       const unsigned cd_values[], size_t nbytes, size_t *buf_size, void **buf)
{
    /* Without the HDF5 allocator (not found), fall back on malloc/free: what
     * HDF5 itself uses unless built with memory sanity checks. */
    const h5_api_t *api = h5_api(caller);
    local_t l;
    if (!buf || !*buf || !buf_size || read_local(codec, cd_nelmts, cd_values, &l) != EPHYS_OK) return 0;
    ephys_view_t view;
    view.dtype = l.dtype;
    view.n_samples = l.n_samples;
    view.n_channels = l.n_channels;
    view.sample_stride = (int64_t)l.n_channels;
    view.channel_stride = 1;

    if (flags & H5Z_FLAG_REVERSE) {
        ephys_chunk_info_t info;
        if (nbytes > *buf_size || codec->info(*buf, nbytes, &info) != EPHYS_OK) return 0;
        if (info.dtype != l.dtype || info.n_samples != l.n_samples || info.n_channels != l.n_channels) return 0;
        void *out = h5_alloc(api, l.nbytes);
        if (!out) return 0;
        view.base = out;
        if (codec->decode(*buf, nbytes, &view, process_threads()) != EPHYS_OK) {
            h5_free(api, out);
            return 0;
        }
        h5_free(api, *buf);
        *buf = out;
        *buf_size = l.nbytes;
        return l.nbytes;
    }

    /* Edge chunks arrive padded to the full chunk, so the size is always this. */
    if (nbytes != l.nbytes) return 0;
    view.base = *buf;
    uint8_t *coded = NULL;
    size_t coded_len = 0;
    if (codec->encode(l.opts, &view, l.ndim, l.shape, process_threads(), &coded, &coded_len) != EPHYS_OK) return 0;
    void *out = h5_alloc(api, coded_len);
    if (!out) {
        free(coded);
        return 0;
    }
    memcpy(out, coded, coded_len);
    free(coded);
    h5_free(api, *buf);
    *buf = out;
    *buf_size = coded_len;
    return coded_len;
}
