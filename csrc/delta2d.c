/* Delta2D: time / space / time+space differences.  Arithmetic is done on the
 * unsigned type of the same width, so it wraps instead of overflowing and the
 * running sums give back the input exactly.  Threads take contiguous blocks of
 * rows (differences, per-row sums) or of channels (sums along time); every
 * element is computed the same way whatever the split. */
#include <string.h>

#include "block_codec.h"
#include "chunk.h"
#include "delta2d.h"
#include "filter.h"
#include "filter_frame.h"

typedef struct {
    const uint8_t *in;
    uint8_t *out;
    uint64_t n, c; /* rows, channels */
    int itemsize, axis;
    size_t parts;
} job_t;

static void split(uint64_t total, size_t parts, size_t i, uint64_t align, uint64_t *lo, uint64_t *hi)
{
    uint64_t per = (total + parts - 1) / parts;
    per = (per + align - 1) / align * align;
    *lo = per * i < total ? per * i : total;
    *hi = per * (i + 1) < total ? per * (i + 1) : total;
}

/* OP(T) for the unsigned type T of the samples' width, in which the
 * differences and sums wrap around */
#define BY_ITEMSIZE(itemsize, OP)                                                          \
    switch (itemsize) {                                                                    \
    case 1: OP(uint8_t); break;                                                            \
    case 2: OP(uint16_t); break;                                                           \
    case 4: OP(uint32_t); break;                                                           \
    default: OP(uint64_t);                                                                 \
    }

#define ENCODE_ROWS(T)                                                                     \
    do {                                                                                   \
        const T *x = (const T *)j->in;                                                     \
        T *y = (T *)j->out;                                                                \
        uint64_t C = j->c;                                                                 \
        for (uint64_t t = t0; t < t1; t++) {                                               \
            const T *row = x + t * C, *prev = t ? x + (t - 1) * C : NULL;                  \
            T *o = y + t * C;                                                              \
            if (j->axis == EPHYS_DELTA_TIME) {                                             \
                if (!prev) memcpy(o, row, C * sizeof(T));                                  \
                else for (uint64_t k = 0; k < C; k++) o[k] = (T)(row[k] - prev[k]);        \
            } else if (j->axis == EPHYS_DELTA_SPACE) {                                     \
                o[0] = row[0];                                                             \
                for (uint64_t k = 1; k < C; k++) o[k] = (T)(row[k] - row[k - 1]);          \
            } else if (!prev) {                                                            \
                o[0] = row[0];                                                             \
                for (uint64_t k = 1; k < C; k++) o[k] = (T)(row[k] - row[k - 1]);          \
            } else {                                                                       \
                o[0] = (T)(row[0] - prev[0]);                                              \
                for (uint64_t k = 1; k < C; k++)                                           \
                    o[k] = (T)((T)(row[k] - prev[k]) - (T)(row[k - 1] - prev[k - 1]));     \
            }                                                                              \
        }                                                                                  \
    } while (0)

static int encode_part(void *arg, size_t i)
{
    job_t *j = arg;
    uint64_t t0, t1;
    split(j->n, j->parts, i, 1, &t0, &t1);
    BY_ITEMSIZE(j->itemsize, ENCODE_ROWS);
    return EPHYS_OK;
}

/* running sum along each row (space), rows [t0, t1), in place on out */
#define SPACE_SUM(T)                                                                       \
    do {                                                                                   \
        T *y = (T *)j->out;                                                                \
        for (uint64_t t = t0; t < t1; t++) {                                               \
            T *o = y + t * j->c;                                                           \
            for (uint64_t k = 1; k < j->c; k++) o[k] = (T)(o[k] + o[k - 1]);               \
        }                                                                                  \
    } while (0)

static int space_part(void *arg, size_t i)
{
    job_t *j = arg;
    uint64_t t0, t1;
    split(j->n, j->parts, i, 1, &t0, &t1);
    BY_ITEMSIZE(j->itemsize, SPACE_SUM);
    return EPHYS_OK;
}

/* running sum along time for channels [c0, c1), in place on out */
#define TIME_SUM(T)                                                                        \
    do {                                                                                   \
        T *y = (T *)j->out;                                                                \
        for (uint64_t t = 1; t < j->n; t++) {                                              \
            T *o = y + t * j->c + c0;                                                      \
            const T *p = o - j->c;                                                         \
            for (uint64_t k = 0; k < c1 - c0; k++) o[k] = (T)(o[k] + p[k]);                \
        }                                                                                  \
    } while (0)

static int time_part(void *arg, size_t i)
{
    job_t *j = arg;
    uint64_t c0, c1;
    split(j->c, j->parts, i, 64, &c0, &c1);
    if (c0 >= c1) return EPHYS_OK;
    BY_ITEMSIZE(j->itemsize, TIME_SUM);
    return EPHYS_OK;
}

/* time+space in one pass: out[t, :] = out[t - 1, :] + running sum of row t
 * (the two sums commute), so every row is read and written once. */
#define TIME_SPACE_SUM(T)                                                                  \
    do {                                                                                   \
        T *y = (T *)j->out;                                                                \
        for (uint64_t t = 0; t < j->n; t++) {                                              \
            T *o = y + t * j->c;                                                           \
            for (uint64_t k = 1; k < j->c; k++) o[k] = (T)(o[k] + o[k - 1]);               \
            if (t) {                                                                       \
                const T *p = o - j->c;                                                     \
                for (uint64_t k = 0; k < j->c; k++) o[k] = (T)(o[k] + p[k]);               \
            }                                                                              \
        }                                                                                  \
    } while (0)

static void time_space_sum(job_t *j)
{
    BY_ITEMSIZE(j->itemsize, TIME_SPACE_SUM);
}

static size_t parts_for(uint64_t units, uint64_t bytes, int num_threads)
{
    size_t p = (size_t)ephys_filter_threads(bytes, num_threads);
    if (p > units) p = units ? (size_t)units : 1;
    return p;
}

static int kernel_args_ok(size_t len, int itemsize, uint64_t n_samples, uint64_t n_channels, int axis)
{
    return axis >= EPHYS_DELTA_TIME && axis <= EPHYS_DELTA_TIME_SPACE &&
           ephys_filter_samples_ok(len, itemsize, n_samples, n_channels);
}

int ephys_delta2d_apply(const void *in, void *out, size_t len, int itemsize, uint64_t n_samples,
                        uint64_t n_channels, int axis, int num_threads)
{
    if (!kernel_args_ok(len, itemsize, n_samples, n_channels, axis)) return EPHYS_ERR_ARGS;
    if (!len) return EPHYS_OK;
    /* each row's difference reads the row before it: no in-place encoding */
    if (!in || !out || in == out || ephys_filter_overlap(in, out, len)) return EPHYS_ERR_ARGS;
    job_t job = {in, out, n_samples, n_channels, itemsize, axis, 0};
    job.parts = parts_for(job.n, len, num_threads);
    return ephys_parallel_for(job.parts, num_threads, encode_part, &job);
}

int ephys_delta2d_invert(void *data, size_t len, int itemsize, uint64_t n_samples, uint64_t n_channels,
                         int axis, int num_threads)
{
    if (!kernel_args_ok(len, itemsize, n_samples, n_channels, axis)) return EPHYS_ERR_ARGS;
    if (!len) return EPHYS_OK;
    if (!data) return EPHYS_ERR_ARGS;
    job_t job = {NULL, data, n_samples, n_channels, itemsize, axis, 0};
    if (axis == EPHYS_DELTA_TIME_SPACE) {
        /* one fused pass on the calling thread beats two threaded passes:
         * the running sum along a row is a dependency chain either way */
        time_space_sum(&job);
        return EPHYS_OK;
    }
    int err = EPHYS_OK;
    if (axis != EPHYS_DELTA_TIME && job.c > 1) {
        job.parts = parts_for(job.n, len, num_threads);
        err = ephys_parallel_for(job.parts, num_threads, space_part, &job);
        if (err) return err;
    }
    if (axis != EPHYS_DELTA_SPACE && job.n > 1) {
        job.parts = parts_for((job.c + 63) / 64, len, num_threads);
        err = ephys_parallel_for(job.parts, num_threads, time_part, &job);
    }
    return err;
}

int ephys_delta2d_encode(const void *in, size_t in_len, int itemsize, int ndim, const uint64_t *shape,
                         int axis, int num_threads, uint8_t *out, size_t out_len)
{
    if (axis < EPHYS_DELTA_TIME || axis > EPHYS_DELTA_TIME_SPACE) return EPHYS_ERR_ARGS;
    ephys_filter_info_t info;
    int err = ephys_filter_begin_encode(EPHYS_FILTER_DELTA2D, itemsize, ndim, shape, axis, in, in_len, out, out_len,
                                        &info);
    if (err) return err;
    err = ephys_delta2d_apply(in, out + info.payload_offset, in_len, itemsize, info.n_samples, info.n_channels,
                              axis, num_threads);
    ephys_filter_pad_header(&info, out);
    return err;
}

int ephys_delta2d_decode(const uint8_t *buf, size_t len, void *out, size_t out_len, int num_threads)
{
    ephys_filter_info_t info;
    int err = ephys_filter_parse(buf, len, EPHYS_FILTER_DELTA2D, &info);
    if (err) return err;
    if (info.param < EPHYS_DELTA_TIME || info.param > EPHYS_DELTA_TIME_SPACE) return EPHYS_ERR_HEADER;
    uint64_t data_bytes = info.n_channels * info.n_samples * (uint64_t)info.itemsize;
    if (out_len != data_bytes || (data_bytes && !out)) return EPHYS_ERR_OUT_SIZE;
    if (!data_bytes) return EPHYS_OK;
    memmove(out, buf + info.payload_offset, data_bytes);
    return ephys_delta2d_invert(out, out_len, info.itemsize, info.n_samples, info.n_channels, info.param,
                                num_threads);
}
