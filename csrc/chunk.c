/* Chunk container, its checksums and the channel-block threads shared by the
 * block codecs.  Layout: chunk.h. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "block_codec.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "numcodecs-ephys reads and writes samples in little-endian order: a big-endian build needs byte swaps"
#endif

#define MAGIC "NCEP"
#define FORMAT_VERSION 2
#define FIXED_HEADER 16 /* up to the flags (v2) or the shape (v1) */
#define KNOWN_FLAGS (EPHYS_CHUNK_FORTRAN | EPHYS_CHUNK_UNSIGNED)

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
    case EPHYS_ERR_CHECKSUM: return "the decoded samples do not match the chunk's checksum: the chunk is corrupted";
    case EPHYS_ERR_FLAGS: return "the chunk uses a feature this version does not know (written by a newer numcodecs-ephys?)";
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
    case EPHYS_DTYPE_FLOAT64: return 8;
    default: return 0;
    }
}

int ephys_stream_dtype(int dtype)
{
    switch (dtype) {
    case EPHYS_DTYPE_UINT8: return EPHYS_DTYPE_INT8;
    case EPHYS_DTYPE_UINT16: return EPHYS_DTYPE_INT16;
    case EPHYS_DTYPE_UINT32: return EPHYS_DTYPE_INT32;
    default: return dtype;
    }
}

size_t ephys_sample_size(int dtype) { return ephys_dtype_size(ephys_stream_dtype(dtype)); }

static int unsigned_dtype(int stream_dtype)
{
    switch (stream_dtype) {
    case EPHYS_DTYPE_INT8: return EPHYS_DTYPE_UINT8;
    case EPHYS_DTYPE_INT16: return EPHYS_DTYPE_UINT16;
    case EPHYS_DTYPE_INT32: return EPHYS_DTYPE_UINT32;
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
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    return EPHYS_OK;
}


/* ---- CRC-32C ----
 * Slicing-by-8 tables for the portable path; SSE4.2's crc32 instruction
 * (chosen at run time) for ~8 GB/s, so that checking every decoded sample
 * costs a few percent of even the fastest codec. */

#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_fast)(uint32_t, const uint8_t *, size_t);

static uint32_t crc_portable(uint32_t c, const uint8_t *p, size_t n)
{
    for (; n && ((uintptr_t)p & 7); n--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = c ^ ephys_load_uint32_t(p), hi = ephys_load_uint32_t(p + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
            crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    }
    for (; n; n--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

/* Appending n zero bytes to a raw CRC is linear over GF(2): a 32x32 matrix,
 * kept as four byte-indexed tables.  It joins CRCs computed side by side. */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1) sum ^= *mat;
    return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
    for (int n = 0; n < 32; n++) square[n] = gf2_times(mat, mat[n]);
}

/* The tables for appending len zero bytes (len a power of two). */
static void crc_zeros_tables(uint32_t zeros[4][256], size_t len)
{
    uint32_t op[32], other[32], *even = op, *odd = other, *swap;
    odd[0] = CRC32C_POLY; /* one zero bit */
    for (int n = 1; n < 32; n++) odd[n] = 1u << (n - 1);
    gf2_square(even, odd); /* 2 bits */
    gf2_square(odd, even); /* 4 bits */
    for (; len; len >>= 1) { /* 8 bits, 16 bits, ... */
        gf2_square(even, odd);
        swap = even, even = odd, odd = swap;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int b = 0; b < 4; b++) zeros[b][n] = gf2_times(odd, n << (8 * b));
}

#define CRC_STRIPE 256 /* bytes per stream of the three interleaved ones */
static uint32_t crc_stripe_zeros[4][256];

static inline uint32_t crc_shift_stripe(uint32_t c)
{
    return crc_stripe_zeros[0][c & 0xff] ^ crc_stripe_zeros[1][(c >> 8) & 0xff] ^
           crc_stripe_zeros[2][(c >> 16) & 0xff] ^ crc_stripe_zeros[3][c >> 24];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
/* Three independent crc32 chains over consecutive stripes, joined by shifts:
 * the instruction's 3-cycle latency otherwise leaves two thirds of its
 * throughput unused. */
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p, size_t n)
{
    for (; n && ((uintptr_t)p & 7); n--) c = _mm_crc32_u8(c, *p++);
    uint64_t c64 = c;
    for (; n >= 3 * CRC_STRIPE; n -= 3 * CRC_STRIPE, p += 3 * CRC_STRIPE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < CRC_STRIPE; i += 8) {
            c64 = _mm_crc32_u64(c64, ephys_load_uint64_t(p + i));
            c1 = _mm_crc32_u64(c1, ephys_load_uint64_t(p + CRC_STRIPE + i));
            c2 = _mm_crc32_u64(c2, ephys_load_uint64_t(p + 2 * CRC_STRIPE + i));
        }
        c64 = crc_shift_stripe(crc_shift_stripe((uint32_t)c64) ^ (uint32_t)c1) ^ (uint32_t)c2;
    }
    for (; n >= 8; n -= 8, p += 8) c64 = _mm_crc32_u64(c64, ephys_load_uint64_t(p));
    c = (uint32_t)c64;
    for (; n; n--) c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    crc_zeros_tables(crc_stripe_zeros, CRC_STRIPE);
    crc_fast = crc_portable;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) crc_fast = crc_sse42;
#endif
}

uint32_t ephys_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_fast(~crc, data, len);
}

uint32_t ephys_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_portable(~crc, data, len);
}

/* The block's samples in row order, gathered into a buffer of a few KB so
 * that the CRC runs on long stretches (a row of a channel block is often only
 * 32 samples).  Loads and counted stores go in batches of the same size, so
 * that the checksum finds their rows in the L1 cache. */
#define ROW_BATCH_BYTES 8192
#define GATHER(T)                                                                          \
    for (uint32_t c = 0; c < nc; c++) ephys_store_##T(at + c * sizeof(T), ephys_load_##T(row + (int64_t)c * cs))

/* The CRC of rows [t0, t0 + nt) continued from crc. */
static uint32_t view_rows_crc32c(const ephys_view_t *v, uint64_t t0, uint64_t nt, uint64_t c0, uint32_t nc,
                                 uint32_t crc)
{
    size_t item = ephys_sample_size(v->dtype), row_bytes = nc * item;
    int64_t ss = v->sample_stride * (int64_t)item, cs = v->channel_stride * (int64_t)item; /* bytes */
    uint8_t gather[ROW_BATCH_BYTES], *at = gather;
    if (cs == (int64_t)item && ss == (int64_t)row_bytes) /* the rows one after the other in memory */
        return ephys_crc32c(crc, (const char *)v->base + (int64_t)t0 * ss + (int64_t)c0 * cs, (size_t)nt * row_bytes);
    for (uint64_t t = t0; t < t0 + nt; t++) {
        const char *row = (const char *)v->base + (int64_t)t * ss + (int64_t)c0 * cs;
        if (row_bytes > sizeof(gather) && (cs == (int64_t)item || nc == 1)) {
            crc = ephys_crc32c(crc, row, row_bytes);
            continue;
        }
        if (at + row_bytes > gather + sizeof(gather)) {
            crc = ephys_crc32c(crc, gather, (size_t)(at - gather));
            at = gather;
        }
        if (row_bytes > sizeof(gather)) { /* one long strided row: a piece at a time */
            for (uint32_t k0 = 0; k0 < nc; k0 += (uint32_t)(sizeof(gather) / item)) {
                uint32_t kn = nc - k0 < sizeof(gather) / item ? nc - k0 : (uint32_t)(sizeof(gather) / item);
                for (uint32_t k = 0; k < kn; k++) memcpy(gather + k * item, row + (int64_t)(k0 + k) * cs, item);
                crc = ephys_crc32c(crc, gather, kn * item);
            }
            continue;
        }
        if (cs == (int64_t)item) { /* whole words inline: rows are short and a call costs more */
            size_t i = 0;
            for (; i + 8 <= row_bytes; i += 8) ephys_store_uint64_t(at + i, ephys_load_uint64_t(row + i));
            for (; i < row_bytes; i++) at[i] = (uint8_t)row[i];
        } else switch (item) {
            case 1: GATHER(uint8_t); break;
            case 2: GATHER(uint16_t); break;
            case 8: GATHER(uint64_t); break;
            default: GATHER(uint32_t); break;
            }
        at += row_bytes;
    }
    return ephys_crc32c(crc, gather, (size_t)(at - gather));
}

uint32_t ephys_view_crc32c(const ephys_view_t *v, uint64_t c0, uint32_t nc)
{
    return view_rows_crc32c(v, 0, v->n_samples, c0, nc, 0);
}

/* Extends the view's running checksum (row_crc) by rows [t0, t0 + nt) of
 * channels [c0, c0 + nc) as a codec loads or stores them.  Rows counted
 * already are skipped when they were only read again (reread); storing them
 * again, other channels or a gap lose the count, and the caller reads back. */
static void count_rows(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, int reread)
{
    ephys_row_crc_t *r = v->row_crc;
    if (!r || r->next_row == UINT64_MAX) return;
    uint64_t from = r->next_row;
    if (r->c0 != c0 || r->nc != nc || t0 > from || (t0 < from && !reread)) {
        r->next_row = UINT64_MAX;
        return;
    }
    if (t0 + nt <= from) return;
    r->crc = view_rows_crc32c(v, from, t0 + nt - from, c0, nc, r->crc);
    r->next_row = t0 + nt;
}

/* ---- strided view <-> interleaved int32 block ----
 * Rows (time) outside, channels inside: a C-order chunk is then read and
 * written sequentially, which matters far more than the loop order suggests. */

#define LOAD_ROWS(T)                                                                        \
    for (uint64_t t = t0; t < t0 + nt; t++) {                                              \
        const char *s = EPHYS_AT(v, T, t, c0);                                             \
        int32_t *o = block + (t - t0) * nc;                                                \
        prefetch_row(s, ahead, (size_t)nc * sizeof(T));                                    \
        if (cs == sizeof(T)) /* adjacent channels: a loop the compiler vectorizes */       \
            for (uint32_t c = 0; c < nc; c++) o[c] = ephys_load_##T(s + c * sizeof(T));         \
        else                                                                               \
            for (uint32_t c = 0; c < nc; c++) o[c] = ephys_load_##T(s + (int64_t)c * cs);  \
    }

/* The hardware prefetchers stop at page ends, and a channel block's rows are
 * short pieces of long ones: each row loaded or stored asks for the one
 * LOAD_AHEAD rows on.
 * Integer arithmetic: the address may lie past the view (a prefetch never faults). */
#define LOAD_AHEAD 8
static int64_t prefetch_distance(const ephys_view_t *v) /* bytes */
{
    return LOAD_AHEAD * v->sample_stride * (int64_t)ephys_dtype_size(v->dtype);
}

static inline void prefetch_row(const char *row, int64_t ahead, size_t bytes)
{
    uintptr_t at = (uintptr_t)row + (uintptr_t)ahead;
    __builtin_prefetch((const void *)at);
    __builtin_prefetch((const void *)(at + bytes - 1));
}

static void load_rows(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, int32_t *block)
{
    int64_t cs = v->channel_stride * (int64_t)ephys_dtype_size(v->dtype); /* bytes */
    int64_t ahead = prefetch_distance(v);
    switch (v->dtype) {
    case EPHYS_DTYPE_INT8: LOAD_ROWS(int8_t) break;
    case EPHYS_DTYPE_INT16: LOAD_ROWS(int16_t) break;
    default: LOAD_ROWS(int32_t)
    }
}

/* A few KB of rows at a time, each counted into the running checksum while
 * the L1 cache still holds it. */
void ephys_view_load(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, int32_t *block)
{
    size_t batch = 1 + ROW_BATCH_BYTES / ((size_t)nc * ephys_sample_size(v->dtype));
    for (size_t i = 0; i < nt; i += batch) {
        size_t k = nt - i < batch ? nt - i : batch;
        load_rows(v, t0 + i, k, c0, nc, block + i * nc);
        count_rows(v, t0 + i, k, c0, nc, 1);
    }
}


#define STORE_ROWS(T, LO, HI)                                                               \
    for (uint64_t t = t0; t < t0 + nt; t++) {                                              \
        char *o = EPHYS_AT(v, T, t, c0);                                                   \
        const int32_t *s = block + (t - t0) * nc;                                          \
        prefetch_row(o, ahead, (size_t)nc * sizeof(T));                                    \
        if (cs == sizeof(T))                                                               \
            for (uint32_t c = 0; c < nc; c++) ephys_store_##T(o + c * sizeof(T), (T)ephys_clamp_i32(s[c], LO, HI)); \
        else                                                                               \
            for (uint32_t c = 0; c < nc; c++) ephys_store_##T(o + (int64_t)c * cs, (T)ephys_clamp_i32(s[c], LO, HI)); \
    }

#if defined(__SSE2__)
#include <emmintrin.h>
/* int16 rows of adjacent channels: packssdw saturates exactly as the clamp does. */
static void store_rows_int16(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc,
                             const int32_t *block)
{
    int64_t ahead = prefetch_distance(v);
    for (uint64_t t = t0; t < t0 + nt; t++) {
        char *o = EPHYS_AT(v, int16_t, t, c0);
        const int32_t *s = block + (t - t0) * nc;
        prefetch_row(o, ahead, (size_t)nc * sizeof(int16_t));
        uint32_t c = 0;
        for (; c + 8 <= nc; c += 8) {
            __m128i a = _mm_loadu_si128((const __m128i *)(s + c)), b = _mm_loadu_si128((const __m128i *)(s + c + 4));
            _mm_storeu_si128((__m128i *)(o + 2 * c), _mm_packs_epi32(a, b));
        }
        for (; c < nc; c++) ephys_store_int16_t(o + 2 * c, (int16_t)ephys_clamp_i32(s[c], INT16_MIN, INT16_MAX));
    }
}
#endif

/* store_rows_int16 for rows that continue the running checksum: they are
 * packed into a buffer first, counted there and copied out, so that the
 * checksum does not read them back while their destination lines are still
 * on their way for the stores.  Returns 0 (storing nothing) for other rows. */
static int store_counted_int16(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc,
                               const int32_t *block)
{
    ephys_row_crc_t *r = v->row_crc;
    uint8_t packed[ROW_BATCH_BYTES];
    size_t row_bytes = 2 * (size_t)nc, batch = sizeof(packed) / row_bytes;
    if (!r || r->next_row != t0 || r->c0 != c0 || r->nc != nc || !batch) return 0;
    int64_t ahead = prefetch_distance(v);
    for (size_t i = 0; i < nt; i += batch) {
        size_t k = nt - i < batch ? nt - i : batch;
        ephys_view_t rows = {packed, EPHYS_DTYPE_INT16, k, nc, nc, 1, NULL};
        store_rows_int16(&rows, 0, k, 0, nc, block + i * nc);
        r->crc = ephys_crc32c(r->crc, packed, k * row_bytes);
        for (size_t j = 0; j < k; j++) {
            char *o = EPHYS_AT(v, int16_t, t0 + i + j, c0);
            prefetch_row(o, ahead, row_bytes);
            if (row_bytes == 64) /* the default LPC block's row: an inlined copy */
                memcpy(o, packed + j * 64, 64);
            else
                memcpy(o, packed + j * row_bytes, row_bytes);
        }
    }
    r->next_row = t0 + nt;
    return 1;
}

void ephys_view_store(const ephys_view_t *v, uint64_t t0, size_t nt, uint64_t c0, uint32_t nc, const int32_t *block)
{
    int64_t cs = v->channel_stride * (int64_t)ephys_dtype_size(v->dtype); /* bytes */
    int64_t ahead = prefetch_distance(v);
#if defined(__SSE2__)
    if (v->dtype == EPHYS_DTYPE_INT16 && cs == 2) {
        if (store_counted_int16(v, t0, nt, c0, nc, block)) return;
        store_rows_int16(v, t0, nt, c0, nc, block);
    } else
#endif
    switch (v->dtype) {
    case EPHYS_DTYPE_INT8: STORE_ROWS(int8_t, INT8_MIN, INT8_MAX) break;
    case EPHYS_DTYPE_INT16: STORE_ROWS(int16_t, INT16_MIN, INT16_MAX) break;
    default: STORE_ROWS(int32_t, INT32_MIN, INT32_MAX)
    }
    count_rows(v, t0, nt, c0, nc, 0);
}

/* ---- unsigned samples <-> signed streams ----
 * Flipping the top bit maps 0..2^b-1 in order onto -2^(b-1)..2^(b-1)-1: the
 * codecs code the same signal, shifted, and flipping again restores it. */

#define FLIP_ROWS(T, TOP)                                                                   \
    for (uint64_t t = 0; t < from->n_samples; t++) {                                       \
        const char *s = EPHYS_AT(from, T, t, c0);                                          \
        char *d = EPHYS_AT(to, T, t, d0);                                                  \
        for (uint32_t c = 0; c < nc; c++)                                                  \
            ephys_store_##T(d + (int64_t)c * dcs, (T)(ephys_load_##T(s + (int64_t)c * scs) ^ TOP)); \
    }

/* Channels [c0, c0 + nc) of from, top bit flipped, to channels [d0, d0 + nc)
 * of to (the same samples and element size; in place when they coincide). */
static void flip_copy(const ephys_view_t *from, uint64_t c0, const ephys_view_t *to, uint64_t d0, uint32_t nc)
{
    size_t item = ephys_sample_size(from->dtype);
    int64_t scs = from->channel_stride * (int64_t)item, dcs = to->channel_stride * (int64_t)item; /* bytes */
    switch (item) {
    case 1: FLIP_ROWS(uint8_t, 0x80u) break;
    case 2: FLIP_ROWS(uint16_t, 0x8000u) break;
    default: FLIP_ROWS(uint32_t, 0x80000000u) break;
    }
}

/* A codec's decode_block into a view of any sample dtype: the codec writes the
 * stream's signed samples, flipped back in place for an unsigned view. */
static int decode_block_into(const ephys_block_codec_t *codec, const uint8_t *in, size_t len,
                             const ephys_view_t *dst, uint64_t c0, uint32_t nc)
{
    ephys_view_t as_stream = *dst;
    as_stream.dtype = ephys_stream_dtype(dst->dtype);
    int err = codec->decode_block(in, len, &as_stream, c0, nc);
    if (!err && as_stream.dtype != dst->dtype) flip_copy(dst, c0, dst, c0, nc);
    return err;
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
    if (workers > EPHYS_MAX_THREADS) workers = EPHYS_MAX_THREADS;
    size_t extra = workers ? workers - 1 : 0;
    pthread_t tids[EPHYS_MAX_THREADS];
    size_t started = 0;
    for (; started < extra; started++)
        if (pthread_create(&tids[started], NULL, pool_worker, &pool)) break;
    pool_worker(&pool); /* the calling thread works too */
    for (size_t i = 0; i < started; i++) pthread_join(tids[i], NULL);
    pthread_mutex_destroy(&pool.lock);
    return pool.first_err;
}

/* ---- header ---- */

static uint32_t block_channels(uint64_t n_channels, uint32_t cpb, size_t b)
{
    uint64_t nc = n_channels - (uint64_t)b * cpb;
    return nc > cpb ? cpb : (uint32_t)nc;
}

/* Where the shape, the block table and the payload start, by format version. */
static size_t shape_offset(int version) { return version == 1 ? FIXED_HEADER : FIXED_HEADER + 4; }
static size_t table_entry(int version) { return version == 1 ? 4 : 8; }
static size_t header_size(int version, int ndim, uint32_t n_blocks)
{
    return shape_offset(version) + 4 * (size_t)ndim + table_entry(version) * (size_t)n_blocks + (version == 1 ? 0 : 4);
}

int ephys_chunk_parse(const ephys_block_codec_t *codec, const uint8_t *buf, size_t len,
                      ephys_chunk_info_t *info, size_t *payload_offset)
{
    if (!codec || !buf || !info) return EPHYS_ERR_ARGS;
    if (len < 4) return EPHYS_ERR_TRUNCATED;
    if (memcmp(buf, MAGIC, 4)) return EPHYS_ERR_MAGIC;
    if (len < FIXED_HEADER) return EPHYS_ERR_TRUNCATED;
    memset(info, 0, sizeof(*info));
    info->version = buf[4];
    if (info->version != 1 && info->version != FORMAT_VERSION) return EPHYS_ERR_VERSION;
    info->codec = buf[5];
    info->dtype = buf[6];
    info->ndim = buf[7];
    info->channels_per_block = ephys_get_le32(buf + 8);
    info->n_blocks = ephys_get_le32(buf + 12);
    if (info->codec != codec->codec_id) return EPHYS_ERR_CODEC;
    if (!ephys_dtype_size(info->dtype) || info->ndim < 1 || info->ndim > EPHYS_MAX_NDIM)
        return EPHYS_ERR_HEADER;
    size_t so = shape_offset(info->version);
    if (len < so + 4 * (size_t)info->ndim) return EPHYS_ERR_TRUNCATED;
    if (info->version >= 2) info->flags = ephys_get_le32(buf + FIXED_HEADER);
    uint64_t channels = 1;
    for (int d = 0; d < info->ndim; d++) {
        info->shape[d] = ephys_get_le32(buf + so + 4 * d);
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
    size_t hs = header_size(info->version, info->ndim, info->n_blocks);
    if (len < hs) return EPHYS_ERR_TRUNCATED;
    if (info->version >= 2 && ephys_crc32c(0, buf, hs - 4) != ephys_get_le32(buf + hs - 4)) return EPHYS_ERR_HEADER;
    /* after the checksum: a flag from a newer writer, not damage */
    if (info->flags & ~(uint32_t)KNOWN_FLAGS) return EPHYS_ERR_FLAGS;
    if (info->flags & EPHYS_CHUNK_UNSIGNED) {
        info->dtype = unsigned_dtype(info->dtype);
        if (!info->dtype) return EPHYS_ERR_HEADER; /* float32 */
    }
    /* Offsets must increase, stay inside the input, and each block must be at
     * least as long as the smallest valid stream of its shape. */
    uint64_t prev = 0, payload = len - hs;
    const uint8_t *table = buf + so + 4 * (size_t)info->ndim;
    size_t entry = table_entry(info->version);
    for (uint32_t b = 0; b < info->n_blocks; b++) {
        uint64_t end = ephys_get_le32(table + entry * b);
        if (end < prev) return EPHYS_ERR_HEADER;
        if (end > payload) return EPHYS_ERR_TRUNCATED;
        uint64_t nc = channels - (uint64_t)b * info->channels_per_block;
        if (nc > info->channels_per_block) nc = info->channels_per_block;
        if (end - prev < codec->min_block_bytes(info->n_samples, nc)) return EPHYS_ERR_CORRUPT;
        prev = end;
    }
    if (prev != payload) return prev < payload ? EPHYS_ERR_CORRUPT : EPHYS_ERR_TRUNCATED;
    for (uint32_t b = 0; codec->check_block && b < info->n_blocks; b++) {
        uint64_t start = b ? ephys_get_le32(table + entry * (b - 1)) : 0, end = ephys_get_le32(table + entry * b);
        int err = codec->check_block(buf + hs + start, (size_t)(end - start), info->n_samples,
                                     block_channels(channels, info->channels_per_block, b),
                                     ephys_stream_dtype(info->dtype));
        if (err) return err;
    }
    if (payload_offset) *payload_offset = hs;
    return EPHYS_OK;
}

/* ---- encode ---- */

typedef struct {
    const ephys_block_codec_t *codec;
    const void *params;
    const ephys_view_t *view;
    uint32_t cpb;
    ephys_buf_t *outs;
    uint32_t *crcs;
} encode_job_t;

static int encode_one(void *arg, size_t b)
{
    encode_job_t *job = arg;
    const ephys_view_t *src = job->view;
    uint32_t nc = block_channels(src->n_channels, job->cpb, b);
    uint64_t c0 = (uint64_t)b * job->cpb;
    size_t item = ephys_sample_size(src->dtype);
    if (src->n_samples > SIZE_MAX / item / nc) return EPHYS_ERR_NOMEM;
    int err;
    ephys_row_crc_t rows = {0, 0, c0, nc}; /* signed samples are checksummed as the encoder reads them */
    if (ephys_stream_dtype(src->dtype) == src->dtype) {
        ephys_view_t counted = *src;
        counted.row_crc = &rows;
        err = job->codec->encode_block(job->params, &counted, c0, nc, &job->outs[b]);
    } else { /* unsigned: the codec codes a flipped copy of the block */
        ephys_view_t flipped = {malloc(src->n_samples * nc * item), ephys_stream_dtype(src->dtype),
                                src->n_samples, nc, nc, 1, NULL};
        if (!flipped.base) return EPHYS_ERR_NOMEM;
        flip_copy(src, c0, &flipped, 0, nc);
        err = job->codec->encode_block(job->params, &flipped, 0, nc, &job->outs[b]);
        free(flipped.base);
    }
    if (err || !job->codec->is_lossy || !job->codec->is_lossy(job->params)) {
        job->crcs[b] = rows.next_row == src->n_samples ? rows.crc : ephys_view_crc32c(src, c0, nc);
        return err;
    }
    /* lossy: the checksum is of what decoding gives */
    ephys_view_t decoded = {malloc(src->n_samples * nc * item), src->dtype, src->n_samples, nc, nc, 1, NULL};
    if (!decoded.base) return EPHYS_ERR_NOMEM;
    err = decode_block_into(job->codec, job->outs[b].data, job->outs[b].len, &decoded, 0, nc);
    job->crcs[b] = ephys_view_crc32c(&decoded, 0, nc);
    free(decoded.base);
    return err;
}

int ephys_chunk_encode(const ephys_block_codec_t *codec, const void *params,
                       const ephys_view_t *src, int ndim, const uint64_t *shape, uint32_t flags,
                       uint32_t channels_per_block, int num_threads,
                       uint8_t **out, size_t *out_len)
{
    if (!codec || !src || !shape || !out || !out_len || (flags & ~(uint32_t)EPHYS_CHUNK_FORTRAN)) return EPHYS_ERR_ARGS;
    if (ndim < 1 || ndim > EPHYS_MAX_NDIM || !channels_per_block || !ephys_sample_size(src->dtype))
        return EPHYS_ERR_ARGS;
    if (ephys_stream_dtype(src->dtype) != src->dtype) flags |= EPHYS_CHUNK_UNSIGNED;
    uint64_t channels = 1;
    for (int d = 0; d < ndim; d++) if (shape[d] > UINT32_MAX) return EPHYS_ERR_ARGS;
    for (int d = 1; d < ndim; d++) channels *= shape[d];
    if (shape[0] != src->n_samples || channels != src->n_channels || channels > UINT32_MAX)
        return EPHYS_ERR_ARGS;
    uint32_t n_blocks = 0;
    if (src->n_samples && channels)
        n_blocks = (uint32_t)((channels + channels_per_block - 1) / channels_per_block);

    ephys_buf_t *outs = calloc(n_blocks ? n_blocks : 1, sizeof(ephys_buf_t));
    uint32_t *crcs = calloc(n_blocks ? n_blocks : 1, sizeof(uint32_t));
    if (!outs || !crcs) {
        free(outs);
        free(crcs);
        return EPHYS_ERR_NOMEM;
    }
    encode_job_t job = {codec, params, src, channels_per_block, outs, crcs};
    int err = ephys_parallel_for(n_blocks, num_threads, encode_one, &job);

    ephys_buf_t res = {0};
    if (!err) {
        size_t hs = header_size(FORMAT_VERSION, ndim, n_blocks), total = hs;
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
            h[6] = (uint8_t)ephys_stream_dtype(src->dtype);
            h[7] = (uint8_t)ndim;
            ephys_put_le32(h + 8, channels_per_block);
            ephys_put_le32(h + 12, n_blocks);
            ephys_put_le32(h + FIXED_HEADER, flags);
            size_t so = shape_offset(FORMAT_VERSION);
            for (int d = 0; d < ndim; d++) ephys_put_le32(h + so + 4 * d, (uint32_t)shape[d]);
            uint8_t *table = h + so + 4 * (size_t)ndim;
            uint64_t end = 0;
            res.len = hs;
            for (uint32_t b = 0; b < n_blocks; b++) {
                end += outs[b].len;
                ephys_put_le32(table + 8 * (size_t)b, (uint32_t)end);
                ephys_put_le32(table + 8 * (size_t)b + 4, crcs[b]);
                if (outs[b].len) memcpy(res.data + res.len, outs[b].data, outs[b].len);
                res.len += outs[b].len;
            }
            ephys_put_le32(h + hs - 4, ephys_crc32c(0, h, hs - 4));
        }
    }
    for (uint32_t b = 0; b < n_blocks; b++) free(outs[b].data);
    free(outs);
    free(crcs);
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
    int version;
} decode_job_t;

/* Where block b's stream lies in the payload. */
static const uint8_t *block_stream(const decode_job_t *job, size_t b, size_t *len)
{
    size_t entry = table_entry(job->version);
    uint64_t start = b ? ephys_get_le32(job->table + entry * (b - 1)) : 0, end = ephys_get_le32(job->table + entry * b);
    *len = (size_t)(end - start);
    return job->payload + start;
}

/* Signed samples are checked as the decoder stores them (rows); unsigned ones
 * are flipped after it, then read back. */
static ephys_view_t counted_view(const ephys_view_t *v, ephys_row_crc_t *rows)
{
    ephys_view_t counted = *v;
    counted.row_crc = ephys_stream_dtype(v->dtype) == v->dtype ? rows : NULL;
    return counted;
}

/* Block b, decoded into the view's channels [c0, c0 + nc) with the decoder's
 * verdict err, against its checksum (format 2). */
static int check_block(const decode_job_t *job, size_t b, const ephys_view_t *view, const ephys_row_crc_t *rows,
                       uint32_t nc, uint64_t c0, int err)
{
    if (!err && job->version >= 2) {
        uint32_t crc = rows->next_row == view->n_samples ? rows->crc : ephys_view_crc32c(view, c0, nc);
        if (crc != ephys_get_le32(job->table + table_entry(job->version) * b + 4)) err = EPHYS_ERR_CHECKSUM;
    }
    return err;
}

/* Block b (of nc channels) into the view's channels [c0, c0 + nc), checked. */
static int decode_checked(const decode_job_t *job, size_t b, uint32_t nc, uint64_t c0)
{
    size_t len;
    const uint8_t *in = block_stream(job, b, &len);
    ephys_row_crc_t rows = {0, 0, c0, nc};
    ephys_view_t view = counted_view(job->view, &rows);
    return check_block(job, b, &view, &rows, nc, c0, decode_block_into(job->codec, in, len, &view, c0, nc));
}

/* A block of those decoded a band of rows at a time. */
typedef struct {
    ephys_row_crc_t rows;
    ephys_view_t view, as_stream; /* the job's, counting rows; the codec's */
    void *state;                  /* NULL: decoded whole already, or failed to open */
    int err, done;
} banded_block_t;

/* Blocks [first, first + n) into the view's channels from c0 on, a step of
 * each in turn (decode_open): the rows of a band are written by all of them
 * while they are in cache.  Returns the lowest block's error. */
static int decode_banded(const decode_job_t *job, size_t first, size_t n, uint64_t n_channels, uint64_t c0)
{
    const ephys_block_codec_t *codec = job->codec;
    banded_block_t *blocks = calloc(n, sizeof(*blocks));
    if (!blocks) return EPHYS_ERR_NOMEM;
    const void *share = NULL;
    for (size_t i = 0; i < n; i++) {
        banded_block_t *d = &blocks[i];
        uint32_t nc = block_channels(n_channels, job->cpb, first + i);
        uint64_t at = c0 + (uint64_t)i * job->cpb;
        size_t len;
        const uint8_t *in = block_stream(job, first + i, &len);
        d->rows = (ephys_row_crc_t){0, 0, at, nc};
        d->view = counted_view(job->view, &d->rows);
        d->as_stream = d->view;
        d->as_stream.dtype = ephys_stream_dtype(d->view.dtype);
        d->state = codec->decode_open(in, len, &d->as_stream, at, nc, share, &d->err);
        if (!d->state && !d->err) /* a stream the codec decodes whole */
            d->err = codec->decode_block(in, len, &d->as_stream, at, nc);
        if (!share && d->state && !d->err) share = d->state;
    }
    for (size_t stepping = n; stepping;) {
        stepping = 0;
        for (size_t i = 0; i < n; i++) {
            banded_block_t *d = &blocks[i];
            if (!d->state || d->done || d->err) continue;
            d->err = codec->decode_step(d->state, &d->done);
            stepping += !d->done && !d->err;
        }
    }
    int err = EPHYS_OK;
    for (size_t i = n; i--;) /* the first shares its scratch: closed last */
        if (blocks[i].state) blocks[i].err = codec->decode_close(blocks[i].state, blocks[i].err);
    for (size_t i = 0; i < n; i++) {
        banded_block_t *d = &blocks[i];
        uint32_t nc = block_channels(n_channels, job->cpb, first + i);
        uint64_t at = c0 + (uint64_t)i * job->cpb;
        if (!d->err && d->as_stream.dtype != d->view.dtype) flip_copy(&d->view, at, &d->view, at, nc);
        d->err = check_block(job, first + i, &d->view, &d->rows, nc, at, d->err);
        if (!err) err = d->err;
    }
    free(blocks);
    return err;
}

/* Blocks [first, first + n_blocks) of a chunk into a view that holds exactly
 * their channels (the whole chunk: first 0). */
typedef struct {
    decode_job_t whole; /* the chunk's geometry; view is the range's output */
    uint64_t n_channels;
    uint32_t first, n_blocks;
    size_t groups; /* with decode_open: the blocks in this many runs, each a band at a time */
} range_job_t;

static int decode_range_one(void *arg, size_t i)
{
    range_job_t *job = arg;
    if (job->groups) {
        size_t lo = i * job->n_blocks / job->groups, hi = (i + 1) * job->n_blocks / job->groups;
        return decode_banded(&job->whole, job->first + lo, hi - lo, job->n_channels, (uint64_t)lo * job->whole.cpb);
    }
    size_t b = job->first + i;
    return decode_checked(&job->whole, b, block_channels(job->n_channels, job->whole.cpb, b),
                          (uint64_t)i * job->whole.cpb);
}

static int decode_range(const ephys_block_codec_t *codec, const uint8_t *buf, const ephys_chunk_info_t *info,
                        size_t hs, uint32_t first, uint32_t n_blocks, const ephys_view_t *dst, int num_threads)
{
    range_job_t job = {{codec, buf + hs, buf + shape_offset(info->version) + 4 * (size_t)info->ndim, dst,
                        info->channels_per_block, info->version},
                       info->n_channels, first, n_blocks, 0};
    size_t workers = num_threads > 1 ? (size_t)num_threads : 1;
    if (codec->decode_open && n_blocks > 1) job.groups = workers < n_blocks ? workers : n_blocks;
    return ephys_parallel_for(job.groups ? job.groups : n_blocks, num_threads, decode_range_one, &job);
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
    return decode_range(codec, buf, &info, hs, 0, info.n_blocks, dst, num_threads);
}

/* ---- decode a range of channel blocks (reads of a few channels) ---- */

int ephys_chunk_decode_blocks(const ephys_block_codec_t *codec, const uint8_t *buf, size_t len,
                              uint32_t first_block, uint32_t n_blocks, const ephys_view_t *dst, int num_threads)
{
    ephys_chunk_info_t info;
    size_t hs;
    if (!dst) return EPHYS_ERR_ARGS;
    int err = ephys_chunk_parse(codec, buf, len, &info, &hs);
    if (err) return err;
    if (!n_blocks || first_block >= info.n_blocks || n_blocks > info.n_blocks - first_block) return EPHYS_ERR_ARGS;
    uint64_t c0 = (uint64_t)first_block * info.channels_per_block;
    uint64_t c1 = (uint64_t)(first_block + n_blocks) * info.channels_per_block;
    if (c1 > info.n_channels) c1 = info.n_channels;
    if (dst->dtype != info.dtype || dst->n_samples != info.n_samples || dst->n_channels != c1 - c0)
        return EPHYS_ERR_OUT_SIZE;
    return decode_range(codec, buf, &info, hs, first_block, n_blocks, dst, num_threads);
}

int ephys_decode_contiguous(ephys_decode_fn decode_fn, const uint8_t *buf, size_t len, void *base, int dtype,
                            uint64_t n_samples, uint64_t n_channels, int num_threads)
{
    if (!decode_fn || n_channels > INT64_MAX) return EPHYS_ERR_ARGS;
    ephys_view_t view = {base, dtype, n_samples, n_channels, (int64_t)n_channels, 1, NULL};
    return decode_fn(buf, len, &view, num_threads);
}
