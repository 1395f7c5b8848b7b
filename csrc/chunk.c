/* Chunk container and channel-block threads shared by WavPack and FLAC. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "block_codec.h"

#define MAGIC "NCEP"
#define FORMAT_VERSION 1
#define FIXED_HEADER 16

const char *ephys_strerror(int code)
{
    switch (code) {
    case EPHYS_OK: return "no error";
    case EPHYS_ERR_NOMEM: return "out of memory";
    case EPHYS_ERR_ARGS: return "invalid arguments";
    case EPHYS_ERR_TRUNCATED: return "the chunk is truncated";
    case EPHYS_ERR_MAGIC: return "not a numcodecs-ephys chunk (bad magic bytes)";
    case EPHYS_ERR_VERSION: return "unsupported chunk format version (written by a newer numcodecs-ephys?)";
    case EPHYS_ERR_HEADER: return "the chunk header is corrupted";
    case EPHYS_ERR_CORRUPT: return "the compressed data is corrupted";
    case EPHYS_ERR_CODEC: return "the chunk was written by another codec";
    case EPHYS_ERR_OUT_SIZE: return "the output array has the wrong size or dtype for this chunk";
    case EPHYS_ERR_RANGE: return "a sample is out of the range the codec supports";
    case EPHYS_ERR_LIBRARY: return "the codec library reported an error";
    case EPHYS_ERR_THREADS: return "could not start worker threads";
    default: return "unknown error";
    }
}

void ephys_free(void *p) { free(p); }

size_t ephys_dtype_size(int dtype)
{
    switch (dtype) {
    case EPHYS_DTYPE_INT8: return 1;
    case EPHYS_DTYPE_INT16: return 2;
    case EPHYS_DTYPE_INT32: case EPHYS_DTYPE_FLOAT32: return 4;
    default: return 0;
    }
}

int ephys_buf_append(ephys_buf_t *b, const void *data, size_t n)
{
    if (n > SIZE_MAX - b->len) return EPHYS_ERR_NOMEM;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) return EPHYS_ERR_NOMEM;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return EPHYS_OK;
}

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get_u32(const uint8_t *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }

/* ---- strided view <-> interleaved int32 block ----
 * Rows (time) outside, channels inside: a C-order chunk is then read and
 * written sequentially, which matters far more than the loop order suggests. */

#define COPY_ROWS(SRC_T, src_base, DST_T, dst_base, CONVERT)                                \
    for (uint64_t t = t0; t < t0 + nt; t++) {                                              \
        const SRC_T *s = (const SRC_T *)(src_base);                                        \
        DST_T *o = (DST_T *)(dst_base);                                                    \
        for (uint32_t c = 0; c < nc; c++) CONVERT;                                         \
    }

void ephys_view_load(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, int32_t *block)
{
    int64_t cs = v->channel_stride;
#define ROW_IN(T) ((const T *)v->base + (int64_t)t * v->sample_stride + (int64_t)c0 * cs)
    switch (v->dtype) {
    case EPHYS_DTYPE_INT8: COPY_ROWS(int8_t, ROW_IN(int8_t), int32_t, block + (t - t0) * nc, o[c] = s[c * cs]) break;
    case EPHYS_DTYPE_INT16: COPY_ROWS(int16_t, ROW_IN(int16_t), int32_t, block + (t - t0) * nc, o[c] = s[c * cs]) break;
    default: COPY_ROWS(int32_t, ROW_IN(int32_t), int32_t, block + (t - t0) * nc, o[c] = s[c * cs])
    }
#undef ROW_IN
}

static int32_t clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : x > hi ? hi : x; }

void ephys_view_store(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, const int32_t *block)
{
    int64_t cs = v->channel_stride;
#define ROW_OUT(T) ((T *)v->base + (int64_t)t * v->sample_stride + (int64_t)c0 * cs)
    switch (v->dtype) {
    case EPHYS_DTYPE_INT8:
        COPY_ROWS(int32_t, block + (t - t0) * nc, int8_t, ROW_OUT(int8_t), o[c * cs] = (int8_t)clamp(s[c], INT8_MIN, INT8_MAX))
        break;
    case EPHYS_DTYPE_INT16:
        COPY_ROWS(int32_t, block + (t - t0) * nc, int16_t, ROW_OUT(int16_t), o[c * cs] = (int16_t)clamp(s[c], INT16_MIN, INT16_MAX))
        break;
    default: COPY_ROWS(int32_t, block + (t - t0) * nc, int32_t, ROW_OUT(int32_t), o[c * cs] = s[c])
    }
#undef ROW_OUT
}

/* ---- threads ---- */

typedef struct {
    int (*fn)(void *, size_t);
    void *arg;
    size_t n, next;
    pthread_mutex_t lock;
    size_t first_err_index;
    int first_err;
} pool_t;

static void *pool_worker(void *p)
{
    pool_t *pool = p;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        size_t i = pool->next++;
        pthread_mutex_unlock(&pool->lock);
        if (i >= pool->n) return NULL;
        int err = pool->fn(pool->arg, i);
        if (err) {
            pthread_mutex_lock(&pool->lock);
            if (!pool->first_err || i < pool->first_err_index) {
                pool->first_err = err;
                pool->first_err_index = i;
            }
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

int ephys_parallel_for(size_t n, int num_threads, int (*fn)(void *arg, size_t i), void *arg)
{
    pool_t pool = {fn, arg, n, 0, PTHREAD_MUTEX_INITIALIZER, 0, 0};
    size_t workers = num_threads > 1 ? (size_t)num_threads : 1;
    if (workers > n) workers = n;
    if (workers > 256) workers = 256;
    size_t extra = workers ? workers - 1 : 0;
    pthread_t tids[256];
    size_t started = 0;
    for (; started < extra; started++)
        if (pthread_create(&tids[started], NULL, pool_worker, &pool)) break;
    pool_worker(&pool); /* the calling thread works too */
    for (size_t i = 0; i < started; i++) pthread_join(tids[i], NULL);
    pthread_mutex_destroy(&pool.lock);
    return pool.first_err;
}

/* ---- header ---- */

static size_t header_size(int ndim, uint32_t n_blocks) { return FIXED_HEADER + 4 * (size_t)ndim + 4 * (size_t)n_blocks; }

int ephys_chunk_parse(const ephys_block_codec_t *codec, const uint8_t *buf, size_t len,
                      ephys_chunk_info_t *info, size_t *payload_offset)
{
    if (!buf || !info) return EPHYS_ERR_ARGS;
    if (len < 4) return EPHYS_ERR_TRUNCATED;
    if (memcmp(buf, MAGIC, 4)) return EPHYS_ERR_MAGIC;
    if (len < FIXED_HEADER) return EPHYS_ERR_TRUNCATED;
    if (buf[4] != FORMAT_VERSION) return EPHYS_ERR_VERSION;
    memset(info, 0, sizeof(*info));
    info->codec = buf[5];
    info->dtype = buf[6];
    info->ndim = buf[7];
    info->channels_per_block = get_u32(buf + 8);
    info->n_blocks = get_u32(buf + 12);
    if (codec && info->codec != codec->codec_id) return EPHYS_ERR_CODEC;
    if (!ephys_dtype_size(info->dtype) || info->ndim < 1 || info->ndim > EPHYS_MAX_NDIM)
        return EPHYS_ERR_HEADER;
    if (len < FIXED_HEADER + 4 * (size_t)info->ndim) return EPHYS_ERR_TRUNCATED;
    uint64_t channels = 1;
    for (int d = 0; d < info->ndim; d++) {
        info->shape[d] = get_u32(buf + FIXED_HEADER + 4 * d);
        if (d > 0) {
            if (info->shape[d] && channels > UINT32_MAX / info->shape[d]) return EPHYS_ERR_HEADER;
            channels *= info->shape[d];
        }
    }
    info->n_samples = info->shape[0];
    info->n_channels = channels;
    uint64_t expect_blocks = 0;
    if (info->n_samples && channels) {
        if (!info->channels_per_block) return EPHYS_ERR_HEADER;
        expect_blocks = (channels + info->channels_per_block - 1) / info->channels_per_block;
    }
    if (info->n_blocks != expect_blocks) return EPHYS_ERR_HEADER;
    size_t hs = header_size(info->ndim, info->n_blocks);
    if (len < hs) return EPHYS_ERR_TRUNCATED;
    /* Offsets must increase, stay inside the input, and each block must be at
     * least as long as the smallest valid stream of its shape. */
    uint64_t prev = 0, payload = len - hs;
    const uint8_t *table = buf + FIXED_HEADER + 4 * (size_t)info->ndim;
    for (uint32_t b = 0; b < info->n_blocks; b++) {
        uint64_t end = get_u32(table + 4 * (size_t)b);
        if (end < prev) return EPHYS_ERR_HEADER;
        if (end > payload) return EPHYS_ERR_TRUNCATED;
        uint64_t nc = channels - (uint64_t)b * info->channels_per_block;
        if (nc > info->channels_per_block) nc = info->channels_per_block;
        if (codec && end - prev < codec->min_block_bytes(info->n_samples, nc)) return EPHYS_ERR_CORRUPT;
        prev = end;
    }
    if (prev != payload) return prev < payload ? EPHYS_ERR_CORRUPT : EPHYS_ERR_TRUNCATED;
    if (payload_offset) *payload_offset = hs;
    return EPHYS_OK;
}

int ephys_chunk_info(const uint8_t *buf, size_t len, ephys_chunk_info_t *info)
{
    return ephys_chunk_parse(NULL, buf, len, info, NULL);
}

/* ---- encode ---- */

typedef struct {
    const ephys_block_codec_t *codec;
    const void *params;
    const ephys_view_t *view;
    uint32_t cpb;
    ephys_buf_t *outs;
} encode_job_t;

static uint32_t block_channels(uint64_t n_channels, uint32_t cpb, size_t b)
{
    uint64_t nc = n_channels - (uint64_t)b * cpb;
    return nc > cpb ? cpb : (uint32_t)nc;
}

static int encode_one(void *arg, size_t b)
{
    encode_job_t *job = arg;
    uint32_t nc = block_channels(job->view->n_channels, job->cpb, b);
    return job->codec->encode_block(job->params, job->view, (uint64_t)b * job->cpb, nc, &job->outs[b]);
}

int ephys_chunk_encode(const ephys_block_codec_t *codec, const void *params,
                       const ephys_view_t *src, int ndim, const uint64_t *shape,
                       uint32_t channels_per_block, int num_threads,
                       uint8_t **out, size_t *out_len)
{
    if (!codec || !src || !shape || !out || !out_len) return EPHYS_ERR_ARGS;
    if (ndim < 1 || ndim > EPHYS_MAX_NDIM || !channels_per_block || !ephys_dtype_size(src->dtype))
        return EPHYS_ERR_ARGS;
    uint64_t channels = 1;
    for (int d = 0; d < ndim; d++) if (shape[d] > UINT32_MAX) return EPHYS_ERR_ARGS;
    for (int d = 1; d < ndim; d++) channels *= shape[d];
    if (shape[0] != src->n_samples || channels != src->n_channels || channels > UINT32_MAX)
        return EPHYS_ERR_ARGS;
    uint32_t n_blocks = 0;
    if (src->n_samples && channels)
        n_blocks = (uint32_t)((channels + channels_per_block - 1) / channels_per_block);

    ephys_buf_t *outs = calloc(n_blocks ? n_blocks : 1, sizeof(ephys_buf_t));
    if (!outs) return EPHYS_ERR_NOMEM;
    encode_job_t job = {codec, params, src, channels_per_block, outs};
    int err = ephys_parallel_for(n_blocks, num_threads, encode_one, &job);

    ephys_buf_t res = {0};
    if (!err) {
        size_t hs = header_size(ndim, n_blocks), total = hs;
        for (uint32_t b = 0; b < n_blocks; b++) total += outs[b].len;
        if (total - hs > UINT32_MAX) err = EPHYS_ERR_ARGS; /* offsets are 32-bit */
        res.data = err ? NULL : malloc(total);
        res.cap = total;
        if (!err && !res.data) err = EPHYS_ERR_NOMEM;
        if (!err) {
            uint8_t *h = res.data;
            memcpy(h, MAGIC, 4);
            h[4] = FORMAT_VERSION;
            h[5] = (uint8_t)codec->codec_id;
            h[6] = (uint8_t)src->dtype;
            h[7] = (uint8_t)ndim;
            put_u32(h + 8, channels_per_block);
            put_u32(h + 12, n_blocks);
            for (int d = 0; d < ndim; d++) put_u32(h + FIXED_HEADER + 4 * d, (uint32_t)shape[d]);
            uint64_t end = 0;
            res.len = hs;
            for (uint32_t b = 0; b < n_blocks; b++) {
                end += outs[b].len;
                put_u32(h + FIXED_HEADER + 4 * (size_t)ndim + 4 * (size_t)b, (uint32_t)end);
                memcpy(res.data + res.len, outs[b].data, outs[b].len);
                res.len += outs[b].len;
            }
        }
    }
    for (uint32_t b = 0; b < n_blocks; b++) free(outs[b].data);
    free(outs);
    if (err) {
        free(res.data);
        return err;
    }
    *out = res.data;
    *out_len = res.len;
    return EPHYS_OK;
}

/* ---- decode ---- */

typedef struct {
    const ephys_block_codec_t *codec;
    const uint8_t *payload, *table;
    const ephys_view_t *view;
    uint32_t cpb;
} decode_job_t;

static int decode_one(void *arg, size_t b)
{
    decode_job_t *job = arg;
    uint32_t nc = block_channels(job->view->n_channels, job->cpb, b);
    uint64_t start = b ? get_u32(job->table + 4 * (b - 1)) : 0, end = get_u32(job->table + 4 * b);
    return job->codec->decode_block(job->payload + start, (size_t)(end - start), job->view,
                                    (uint64_t)b * job->cpb, nc);
}

int ephys_chunk_decode(const ephys_block_codec_t *codec, const uint8_t *buf, size_t len,
                       const ephys_view_t *dst, int num_threads)
{
    ephys_chunk_info_t info;
    size_t hs;
    if (!dst) return EPHYS_ERR_ARGS;
    int err = ephys_chunk_parse(codec, buf, len, &info, &hs);
    if (err) return err;
    if (dst->dtype != info.dtype || dst->n_samples != info.n_samples || dst->n_channels != info.n_channels)
        return EPHYS_ERR_OUT_SIZE;
    decode_job_t job = {codec, buf + hs, buf + FIXED_HEADER + 4 * (size_t)info.ndim, dst,
                        info.channels_per_block};
    return ephys_parallel_for(info.n_blocks, num_threads, decode_one, &job);
}
