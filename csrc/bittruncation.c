/* BitTruncation: q = round(x / 2^bits), ties away from zero, clamped so that
 * q * 2^bits stays inside the dtype; decode x = q * 2^bits (saturating). */
#include <string.h>

#include "bittruncation.h"
#include "block_codec.h"
#include "chunk.h"
#include "filter.h"
#include "filter_frame.h"

typedef struct {
    const uint8_t *in;
    uint8_t *out;
    uint64_t count;
    int itemsize, bits;
    int invert; /* 0: x -> q (encoding), 1: q -> x (decoding) */
    size_t parts;
} job_t;

#define PIECE ((uint64_t)1 << 16)

static void range(const job_t *j, size_t i, uint64_t *lo, uint64_t *hi)
{
    *lo = (uint64_t)i * PIECE;
    *hi = *lo + PIECE < j->count ? *lo + PIECE : j->count;
}

/* x >= 0: (x + h) >> b;  x < 0: -((-x + h) >> b); computed in int64. */
#define ENCODE(T, MIN, MAX)                                                                \
    do {                                                                                   \
        const T *x = (const T *)j->in;                                                     \
        T *y = (T *)j->out;                                                                \
        int b = j->bits;                                                                   \
        int64_t h = b ? (int64_t)1 << (b - 1) : 0;                                         \
        int64_t qmax = (int64_t)(MAX) >> b, qmin = -(((int64_t)(-(int64_t)(MIN))) >> b);   \
        for (uint64_t i = lo; i < hi; i++) {                                               \
            int64_t v = x[i];                                                              \
            int64_t q = v >= 0 ? (v + h) >> b : -((-v + h) >> b);                          \
            y[i] = (T)(q > qmax ? qmax : q < qmin ? qmin : q);                             \
        }                                                                                  \
    } while (0)

#define DECODE(T, MIN, MAX)                                                                \
    do {                                                                                   \
        T *y = (T *)j->out;                                                                \
        const T *x = (const T *)j->in;                                                     \
        int b = j->bits;                                                                   \
        int64_t qmax = (int64_t)(MAX) >> b, qmin = -(((int64_t)(-(int64_t)(MIN))) >> b);   \
        for (uint64_t i = lo; i < hi; i++) {                                               \
            int64_t q = x[i];                                                              \
            q = q > qmax ? qmax : q < qmin ? qmin : q;                                     \
            y[i] = (T)(q * ((int64_t)1 << b));                                             \
        }                                                                                  \
    } while (0)

static int part(void *arg, size_t i)
{
    job_t *j = arg;
    uint64_t lo, hi;
    range(j, i, &lo, &hi);
    if (j->invert) {
        if (j->itemsize == 2) DECODE(int16_t, INT16_MIN, INT16_MAX);
        else DECODE(int32_t, INT32_MIN, INT32_MAX);
    } else if (j->itemsize == 2) ENCODE(int16_t, INT16_MIN, INT16_MAX);
    else ENCODE(int32_t, INT32_MIN, INT32_MAX);
    return EPHYS_OK;
}

static int bits_ok(int itemsize, int bits)
{
    return (itemsize == 2 || itemsize == 4) && bits >= 0 && bits < 8 * itemsize;
}

static int run(int invert, const void *in, void *out, size_t len, int itemsize, int bits, int num_threads)
{
    if (!bits_ok(itemsize, bits) || len % (size_t)itemsize) return EPHYS_ERR_ARGS;
    if (!len) return EPHYS_OK;
    /* element by element: the same buffer is fine, a shifted one is not */
    if (!in || !out || ephys_filter_overlap(in, out, len)) return EPHYS_ERR_ARGS;
    uint64_t count = len / (size_t)itemsize;
    job_t job = {in, out, count, itemsize, bits, invert, (count + PIECE - 1) / PIECE};
    return ephys_parallel_for(job.parts, ephys_filter_threads(len, num_threads), part, &job);
}

int ephys_bittruncation_apply(const void *in, void *out, size_t len, int itemsize, int bits, int num_threads)
{
    return run(0, in, out, len, itemsize, bits, num_threads);
}

int ephys_bittruncation_invert(const void *in, void *out, size_t len, int itemsize, int bits, int num_threads)
{
    return run(1, in, out, len, itemsize, bits, num_threads);
}

int ephys_bittruncation_encode(const void *in, size_t in_len, int itemsize, int ndim, const uint64_t *shape,
                               int bits, int num_threads, uint8_t *out, size_t out_len)
{
    if (!bits_ok(itemsize, bits)) return EPHYS_ERR_ARGS;
    ephys_filter_info_t info;
    int err = ephys_filter_begin_encode(EPHYS_FILTER_BITTRUNCATION, itemsize, ndim, shape, bits, in, in_len, out,
                                        out_len, &info);
    if (err) return err;
    err = ephys_bittruncation_apply(in, out + info.payload_offset, in_len, itemsize, bits, num_threads);
    ephys_filter_pad_header(&info, out);
    return err;
}

int ephys_bittruncation_decode(const uint8_t *buf, size_t len, void *out, size_t out_len, int num_threads)
{
    ephys_filter_info_t info;
    int err = ephys_filter_parse(buf, len, EPHYS_FILTER_BITTRUNCATION, &info);
    if (err) return err;
    if (!bits_ok(info.itemsize, info.param)) return EPHYS_ERR_HEADER;
    uint64_t count = info.n_channels * info.n_samples;
    if (out_len != count * (uint64_t)info.itemsize || (count && !out)) return EPHYS_ERR_OUT_SIZE;
    return ephys_bittruncation_invert(buf + info.payload_offset, out, out_len, info.itemsize, info.param,
                                      num_threads);
}
