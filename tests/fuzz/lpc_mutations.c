/* Mutation loop for the EphysLPC decoder, built with AddressSanitizer and UBSan by
 * `make lpc-fuzz`: chunks of several shapes, dtypes and modes are encoded, then bit
 * flips, byte overwrites and truncations are decoded.  A decode must fail with an
 * error code or return samples; ASan/UBSan abort on any out-of-bounds access or
 * undefined behaviour.  Chunk files named after the seed (the frozen fixtures of
 * older stream versions) are mutated the same way.
 * Usage: lpc_mutations [iterations] [seed] [chunk files...]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "lpc/lpc_codec.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* gappy: int16 values on a grid of ~24.04 counts (value dictionaries, stream version 6);
 * white: noise without the slow common level (cut into time segments, stream version 7) */
typedef struct { int dtype; uint64_t n, nc; uint32_t cpb; uint32_t max_error; int level; int gappy; int white; } case_t;

static size_t item_size(int dtype)
{
    return dtype == EPHYS_DTYPE_INT8 ? 1 : dtype == EPHYS_DTYPE_INT16 ? 2 : dtype == EPHYS_DTYPE_FLOAT64 ? 8 : 4;
}

/* Decode iterations damaged copies of chunk into dv (bit flips, byte overwrites, truncations). */
static void mutate(const uint8_t *chunk, size_t len, const ephys_view_t *dv, long iterations, long *failures,
                   long *decoded)
{
    uint8_t *work = malloc(len);
    for (long it = 0; it < iterations; it++) {
        memcpy(work, chunk, len);
        size_t wlen = len;
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++) {
            size_t pos = rnd() % len;
            switch (rnd() % 3) {
            case 0: work[pos] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: work[pos] = (uint8_t)rnd(); break;
            default: wlen = rnd() % (len + 1);
            }
        }
        /* decode into an exact-size heap copy so that ASan sees any overread */
        uint8_t *in = malloc(wlen ? wlen : 1);
        memcpy(in, work, wlen);
        ephys_lpc_set_kernel(1 + (int)(it % 3)); /* every kernel this CPU runs */
        int err = ephys_lpc_decode(in, wlen, dv, 1 + (int)(rnd() % 2));
        free(in);
        if (err) (*failures)++;
        else (*decoded)++;
    }
    free(work);
}

/* A chunk just encoded (encode_err 0) must decode into dv (to src's bytes when
 * lossless); then its mutations are decoded and it is freed.  Nonzero, after a
 * message, if not. */
static int round_trip_and_mutate(int encode_err, uint8_t *chunk, size_t len, const ephys_view_t *dv, const uint8_t *src,
                                 const uint8_t *dst, size_t bytes, int lossless, const char *what, long iterations,
                                 long *failures, long *decoded)
{
    if (encode_err) {
        fprintf(stderr, "%sencode failed\n", what);
        return 2;
    }
    if (ephys_lpc_decode(chunk, len, dv, 1) || (lossless && memcmp(src, dst, bytes))) {
        fprintf(stderr, "%sround trip failed\n", what);
        return 2;
    }
    mutate(chunk, len, dv, iterations, failures, decoded);
    ephys_free(chunk);
    return 0;
}

/* A chunk file: its samples must decode, then its mutations are decoded. */
static int mutate_file(const char *path, long iterations, long *failures, long *decoded)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *chunk = malloc(len > 0 ? (size_t)len : 1);
    int bad = len <= 0 || fread(chunk, 1, (size_t)len, f) != (size_t)len;
    fclose(f);
    ephys_chunk_info_t info;
    if (bad || ephys_lpc_info(chunk, (size_t)len, &info)) {
        free(chunk);
        return 1;
    }
    size_t item = item_size(info.dtype);
    uint8_t *dst = malloc(info.n_samples * info.n_channels * item + 1);
    ephys_view_t dv = {dst, info.dtype, info.n_samples, info.n_channels, (int64_t)info.n_channels, 1};
    bad = ephys_lpc_decode(chunk, (size_t)len, &dv, 1) != EPHYS_OK;
    if (!bad) mutate(chunk, (size_t)len, &dv, iterations, failures, decoded);
    free(dst);
    free(chunk);
    return bad;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 100000;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 88172645463325252ull;
    const case_t cases[] = {
        {EPHYS_DTYPE_INT16, 700, 6, 4, 0, 2}, {EPHYS_DTYPE_INT16, 300, 3, 3, 2, 2},
        {EPHYS_DTYPE_INT32, 200, 5, 2, 0, 3}, {EPHYS_DTYPE_INT8, 500, 2, 2, 0, 1},
        {EPHYS_DTYPE_INT32, 150, 3, 3, 7, 2}, {EPHYS_DTYPE_INT16, 5000, 1, 1, 0, 3},
        {EPHYS_DTYPE_INT16, 8192 + 2100, 5, 5, 0, 2}, {EPHYS_DTYPE_INT16, 8192 + 700, 3, 3, 1, 1},
        {EPHYS_DTYPE_INT16, 3000, 3, 3, 0, 2, 1}, {EPHYS_DTYPE_INT16, 2000, 4, 2, 0, 3, 1},
        {EPHYS_DTYPE_INT16, 3001, 4, 4, 0, 2, 0, 1}, {EPHYS_DTYPE_INT16, 1500, 3, 2, 2, 2, 0, 1},
        {EPHYS_DTYPE_INT8, 2000, 5, 5, 0, 3, 0, 1}, {EPHYS_DTYPE_INT32, 1200, 2, 2, 0, 2, 0, 1},
    };
    const int n_cases = sizeof(cases) / sizeof(cases[0]);
    long failures = 0, decoded = 0;
    for (int ci = 0; ci < n_cases; ci++) {
        const case_t *k = &cases[ci];
        size_t item = k->dtype == EPHYS_DTYPE_INT8 ? 1 : k->dtype == EPHYS_DTYPE_INT16 ? 2 : 4;
        size_t count = k->n * k->nc;
        uint8_t *src = malloc(count * item), *dst = malloc(count * item);
        double level = 0;
        for (size_t i = 0; i < count; i++) {
            if (i % k->nc == 0) level = k->white ? 0 : 0.9 * level + (double)(int64_t)(rnd() % 41) - 20;
            int64_t v = (int64_t)level + (int64_t)(rnd() % 9) - 4;
            if (rnd() % 97 == 0) v = (int64_t)(rnd() % 65536) - 32768;
            if (item == 1) { int8_t x = (int8_t)(v / 256); memcpy(src + i, &x, 1); }
            else if (item == 2) {
                if (k->gappy) {
                    double g = (double)v / 8 * 24.04 + 0.3;
                    v = g > 32767 ? 32767 : g < -32768 ? -32768 : (int64_t)(g < 0 ? g - 0.5 : g + 0.5);
                }
                int16_t x = (int16_t)v;
                memcpy(src + 2 * i, &x, 2);
            }
            else { int32_t x = (int32_t)(v * 40000); memcpy(src + 4 * i, &x, 4); }
        }
        ephys_view_t sv = {src, k->dtype, k->n, k->nc, (int64_t)k->nc, 1};
        ephys_view_t dv = {dst, k->dtype, k->n, k->nc, (int64_t)k->nc, 1};
        ephys_lpc_params_t p;
        uint64_t shape[2] = {k->n, k->nc};
        uint8_t *chunk;
        size_t len;
        int err = ephys_lpc_default_params(k->level, k->max_error, &p) ||
                  ephys_lpc_encode(&p, &sv, 2, shape, 0, k->cpb, 1, &chunk, &len);
        if (round_trip_and_mutate(err, chunk, len, &dv, src, dst, count * item, !k->max_error, "",
                                  iterations / n_cases, &failures, &decoded))
            return 2;
        free(src);
        free(dst);
    }
    /* float chunks (stream version 5): grid (exact and with gaps), split, bounded, raw (random bits),
     * NaN gaps (raw exceptions that repeat); special values */
    const struct { int dtype; uint64_t n, nc; uint32_t cpb; int kind; double max_error; } floats[] = {
        {EPHYS_DTYPE_FLOAT32, 600, 5, 3, 0, 0}, {EPHYS_DTYPE_FLOAT32, 500, 4, 4, 1, 0},
        {EPHYS_DTYPE_FLOAT32, 700, 6, 3, 2, 0}, {EPHYS_DTYPE_FLOAT64, 400, 3, 2, 0, 0},
        {EPHYS_DTYPE_FLOAT64, 300, 4, 3, 2, 0}, {EPHYS_DTYPE_FLOAT32, 600, 5, 3, 2, 0.25},
        {EPHYS_DTYPE_FLOAT64, 300, 3, 3, 0, 0.5}, {EPHYS_DTYPE_FLOAT32, 200, 3, 3, 3, 0},
        {EPHYS_DTYPE_FLOAT64, 150, 4, 2, 3, 0.5}, {EPHYS_DTYPE_FLOAT32, 400, 4, 4, 4, 0},
        {EPHYS_DTYPE_FLOAT64, 300, 3, 3, 4, 0.25},
    };
    const int n_floats = sizeof(floats) / sizeof(floats[0]);
    for (int ci = 0; ci < n_floats; ci++) {
        size_t item = item_size(floats[ci].dtype), count = floats[ci].n * floats[ci].nc;
        uint8_t *src = malloc(count * item), *dst = malloc(count * item);
        double level = 0;
        for (size_t i = 0; i < count; i++) {
            if (i % floats[ci].nc == 0) level = 0.9 * level + (double)(int64_t)(rnd() % 41) - 20;
            double k = floor(level) + (double)(int64_t)(rnd() % 9) - 4, v;
            switch (floats[ci].kind) {
            case 0: case 4: v = k * 0.195 + 1.5; break;        /* on a grid, up to rounding (4: NaN gaps) */
            case 1: v = floor(k / 24.04) * 24.04 * 0.195; break; /* a gappy grid */
            default: v = level / 3.7 + (double)(rnd() % 1000) / 997.0; /* no grid */
            }
            if (item == 4) { float x = (float)v; memcpy(src + 4 * i, &x, 4); }
            else memcpy(src + 8 * i, &v, 8);
            if (floats[ci].kind == 3) { uint64_t bits = rnd() << 32 ^ rnd(); memcpy(src + item * i, &bits, item); }
            if (floats[ci].kind == 4 && (i % floats[ci].nc == 1 || (i > count / 4 && i < count / 2))) {
                uint64_t bits = item == 4 ? 0x7fc00000u : 0x7ff8000000000000ull; /* NaN gaps: repeated exceptions */
                memcpy(src + item * i, &bits, item);
            }
            if (rnd() % 89 == 0) { /* NaN with a payload, -inf, -0.0, a subnormal */
                uint64_t r = rnd() % 4, bits = item == 4 ? (r == 0 ? 0x7fc00005u : r == 1 ? 0xff800000u : r == 2 ? 0x80000000u : 1u)
                                                         : (r == 0 ? 0x7ff8000000000005ull : r == 1 ? 0xfff0000000000000ull
                                                                  : r == 2 ? 0x8000000000000000ull : 1ull);
                memcpy(src + item * i, &bits, item);
            }
        }
        ephys_view_t sv = {src, floats[ci].dtype, floats[ci].n, floats[ci].nc, (int64_t)floats[ci].nc, 1};
        ephys_view_t dv = {dst, floats[ci].dtype, floats[ci].n, floats[ci].nc, (int64_t)floats[ci].nc, 1};
        ephys_lpc_params_t p;
        uint64_t shape[2] = {floats[ci].n, floats[ci].nc};
        uint8_t *chunk;
        size_t len;
        int err = ephys_lpc_default_params(2, 0, &p) ||
                  ephys_lpc_encode_float(&p, floats[ci].max_error, &sv, 2, shape, 0, floats[ci].cpb, 1, &chunk, &len);
        if (round_trip_and_mutate(err, chunk, len, &dv, src, dst, count * item, !floats[ci].max_error, "float ",
                                  iterations / n_cases, &failures, &decoded))
            return 2;
        free(src);
        free(dst);
    }
    for (int i = 3; i < argc; i++) {
        if (mutate_file(argv[i], iterations / n_cases, &failures, &decoded)) {
            fprintf(stderr, "%s: not a decodable EphysLPC chunk\n", argv[i]);
            return 2;
        }
    }
    printf("lpc mutation loop: %ld rejected, %ld decoded, no crash\n", failures, decoded);
    return 0;
}
