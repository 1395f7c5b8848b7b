/* The AVX2 kernels: the shared bodies compiled for AVX2 (kernel_template.h),
 * and, where the compilers leave a loop scalar (the 8 x 8 transpose, the Rice
 * costs, the bit writer's words, the capped split, the field gathering of the
 * decoder), versions written with intrinsics; the bodies stay their reference
 * and write their tails.  Every function carries its target attribute, so the
 * file builds with the baseline flags; kernels.c chooses these kernels only on
 * a CPU with AVX2 and BMI2. */
#include "kernel_bodies.h"

#if LPC_X86
#include <immintrin.h>
#include <pthread.h>

#define ATTR_AVX2 __attribute__((target("avx2")))
#define ATTR_AVX2_BITS __attribute__((target("avx2,bmi,bmi2,lzcnt,popcnt")))

#define KERNEL_ISA avx2
#define KERNEL_TARGET ATTR_AVX2
#define KERNEL_BITS_TARGET ATTR_AVX2_BITS
#define KERNEL_INTRINSICS
#include "kernel_template.h"

/* transpose_body in 8 x 8 tiles of registers. */
ATTR_AVX2 static void transpose_avx2(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc, const uint32_t *cols,
                                     int32_t *e)
{
    uint32_t c0 = 0;
    size_t j0 = 0;
    for (; c0 + 8 <= nc; c0 += 8) {
        const uint32_t *col[8];
        for (int i = 0; i < 8; i++) col[i] = cm + (size_t)(cols ? cols[c0 + i] : c0 + i) * stride;
        for (j0 = 0; j0 + 8 <= pn; j0 += 8) {
            __m256i r[8], a[8], b[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_si256((const __m256i *)(col[i] + j0));
            for (int i = 0; i < 8; i += 2) {
                a[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
                a[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                b[i] = _mm256_unpacklo_epi64(a[i], a[i + 2]);
                b[i + 1] = _mm256_unpackhi_epi64(a[i], a[i + 2]);
                b[i + 2] = _mm256_unpacklo_epi64(a[i + 1], a[i + 3]);
                b[i + 3] = _mm256_unpackhi_epi64(a[i + 1], a[i + 3]);
            }
            for (int i = 0; i < 4; i++) {
                int32_t *lo = e + (j0 + i) * nc + c0, *hi = e + (j0 + i + 4) * nc + c0;
                _mm256_storeu_si256((__m256i *)lo, _mm256_permute2x128_si256(b[i], b[i + 4], 0x20));
                _mm256_storeu_si256((__m256i *)hi, _mm256_permute2x128_si256(b[i], b[i + 4], 0x31));
            }
        }
        for (size_t j = j0; j < pn; j++)
            for (uint32_t c = c0; c < c0 + 8; c++) e[j * nc + c] = i32_of_u32(col[c - c0][j]);
    }
    for (size_t j = 0; j < pn; j++)
        for (uint32_t c = c0; c < nc; c++) e[j * nc + c] = i32_of_u32(cm[(size_t)(cols ? cols[c] : c) * stride + j]);
}

/* rice_costs 8 values at a time (the compilers leave its loop scalar). */
ATTR_AVX2 static int rice_parameter_avx2(const uint32_t *u, size_t n, uint64_t *unary_bits)
{
    __m256i sum = _mm256_setzero_si256(), most = sum;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(u + i));
        most = _mm256_max_epu32(most, v);
        sum = _mm256_add_epi64(sum, _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)),
                                                     _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1))));
    }
    uint64_t sums[4], total = 0;
    uint32_t maxima[8], top = 0;
    _mm256_storeu_si256((__m256i *)sums, sum);
    _mm256_storeu_si256((__m256i *)maxima, most);
    for (int l = 0; l < 4; l++) total += sums[l];
    for (int l = 0; l < 8; l++) top = maxima[l] > top ? maxima[l] : top;
    for (; i < n; i++) total += u[i], top = u[i] > top ? u[i] : top;
    int k0 = rice_k0_of_sum(total, n);
    uint32_t cost[3] = {0, 0, 0};
    *unary_bits = 0;
    if (k0 < 0) return ZERO_PARTITION;
    const __m256i esc = _mm256_set1_epi32(ESCAPE_Q), esc_cost = _mm256_set1_epi32(ESCAPE_Q + 31);
    const __m128i shift = _mm_cvtsi32_si128(k0);
    const int escapes = (top >> k0) >= ESCAPE_Q;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0;
    i = 0;
    for (; !escapes && i + 8 <= n; i += 8) { /* the common case: no value escapes with k0 */
        __m256i q0 = _mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(u + i)), shift);
        a0 = _mm256_add_epi32(a0, q0);
        a1 = _mm256_add_epi32(a1, _mm256_srli_epi32(q0, 1));
        a2 = _mm256_add_epi32(a2, _mm256_srli_epi32(q0, 2));
    }
    for (; i + 8 <= n; i += 8) {
        __m256i q0 = _mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(u + i)), shift);
        __m256i q1 = _mm256_srli_epi32(q0, 1), q2 = _mm256_srli_epi32(q0, 2);
        a0 = _mm256_add_epi32(a0, _mm256_blendv_epi8(q0, esc_cost, _mm256_cmpeq_epi32(_mm256_min_epu32(q0, esc), esc)));
        a1 = _mm256_add_epi32(a1, _mm256_blendv_epi8(q1, esc_cost, _mm256_cmpeq_epi32(_mm256_min_epu32(q1, esc), esc)));
        a2 = _mm256_add_epi32(a2, _mm256_blendv_epi8(q2, esc_cost, _mm256_cmpeq_epi32(_mm256_min_epu32(q2, esc), esc)));
    }
    uint32_t lanes[3][8];
    _mm256_storeu_si256((__m256i *)lanes[0], a0);
    _mm256_storeu_si256((__m256i *)lanes[1], a1);
    _mm256_storeu_si256((__m256i *)lanes[2], a2);
    for (int l = 0; l < 8; l++) cost[0] += lanes[0][l], cost[1] += lanes[1][l], cost[2] += lanes[2][l];
    rice_costs(u + i, n - i, k0, cost);
    return rice_choice(cost, n, k0, unary_bits);
}

/* autocorr_body with int16 products where every x - d of the frame and of
 * its history is within +-AUTOCORR_INT16_MAX (so 2 (x - d)^2 < 2^31): for 8
 * channels, vpmaddwd multiplies each channel's samples (t, t + 1) by its
 * samples (t - l, t + 1 - l) and adds the two products; the int32 sums go to
 * int64 before they could overflow.  They are exact, as the double sums of
 * autocorr_body are (below 2^53), so r is the same.  scratch: (HIST + nt) x 8. */
#define AUTOCORR_INT16_MAX 23170
ATTR_AVX2 ATTR_INLINE void pair_products(const uint32_t *pairs, size_t nt, int order, size_t run, int64_t *sums)
{
    __m256i acc[EPHYS_LPC_MAX_ORDER + 1];
    for (size_t t0 = 0; t0 < nt; t0 += 2 * run) {
        size_t t1 = nt - t0 < 2 * run ? nt : t0 + 2 * run;
        for (int l = 0; l <= order; l++) acc[l] = _mm256_setzero_si256();
        for (size_t t = t0; t < t1; t += 2) {
            const uint32_t *now = pairs + 8 * t;
            __m256i v = _mm256_loadu_si256((const __m256i *)now);
            for (int l = 0; l <= order; l++)
                acc[l] = _mm256_add_epi32(
                    acc[l], _mm256_madd_epi16(v, _mm256_loadu_si256((const __m256i *)(now - 8 * l))));
        }
        for (int l = 0; l <= order; l++) {
            __m256i *lo = (__m256i *)(sums + 8 * l), *hi = lo + 1;
            _mm256_storeu_si256(lo, _mm256_add_epi64(_mm256_loadu_si256(lo),
                                                     _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc[l]))));
            _mm256_storeu_si256(hi, _mm256_add_epi64(_mm256_loadu_si256(hi),
                                                     _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc[l], 1))));
        }
    }
}

ATTR_AVX2 static void autocorr_int16_avx2(const int32_t *x, size_t nt, uint32_t nc, int order, const int32_t *d,
                                          double *r, uint32_t *scratch)
{
    const int32_t *first = x - (size_t)order * nc;
    size_t rows = (size_t)order + nt;
    uint32_t most = 0, c8 = nc - nc % 8;
    for (size_t i = 0; i < rows; i++)
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t a = (uint32_t)(first[i * nc + c] - d[c]); /* d = 0 for int32 samples: no overflow */
            a = a >> 31 ? 0u - a : a;
            most = a > most ? a : most;
        }
    if (most > AUTOCORR_INT16_MAX) {
        autocorr_avx2(x, nt, nc, order, d, r, scratch);
        return;
    }
    size_t run = most ? (size_t)INT32_MAX / (2 * (size_t)most * most) : nt; /* row pairs per int32 sum */
    int64_t sums[(EPHYS_LPC_MAX_ORDER + 1) * 8];
    for (uint32_t c0 = 0; c0 < c8; c0 += 8) {
        const __m256i dv = _mm256_loadu_si256((const __m256i *)(d + c0)), low = _mm256_set1_epi32(0xffff);
        __m256i y = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(first + c0)), dv);
        for (size_t i = 0; i < rows; i++) { /* pairs (t, t + 1) as int16, t + 1 = nt as 0 */
            __m256i next = _mm256_setzero_si256();
            if (i + 1 < rows)
                next = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(first + (i + 1) * nc + c0)), dv);
            _mm256_storeu_si256((__m256i *)(scratch + 8 * i),
                                _mm256_or_si256(_mm256_and_si256(y, low), _mm256_slli_epi32(next, 16)));
            y = next;
        }
        memset(sums, 0, sizeof(sums));
        const uint32_t *pairs = scratch + 8 * (size_t)order;
#define PAIR_PRODUCTS(K) pair_products(pairs, nt, K, run, sums)
        ORDER_SWITCH(PAIR_PRODUCTS)
        for (int l = 0; l <= order; l++)
            for (int i = 0; i < 8; i++) r[(size_t)l * nc + c0 + i] = (double)sums[8 * l + i];
    }
    for (uint32_t c = c8; c < nc; c++)
        for (int l = 0; l <= order; l++) {
            int64_t s = 0;
            for (size_t t = 0; t < nt; t++)
                s += (int64_t)(x[t * nc + c] - d[c]) * (x[((ptrdiff_t)t - l) * (ptrdiff_t)nc + c] - d[c]);
            r[(size_t)l * nc + c] = (double)s;
        }
}

/* The OR of a register's four 64-bit lanes. */
ATTR_AVX2 static inline uint64_t or_lanes(__m256i v)
{
    __m128i x = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(_mm_or_si128(x, _mm_unpackhi_epi64(x, x)));
}

/* write_lows_body 8 values at a time: for k <= 14, 4 values make one word of 4k bits
 * (for k <= 7, 8 values one word of 8k bits), placed by 64-bit variable shifts. */
ATTR_AVX2 static void write_lows_avx2(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (size_t)k / 8, &b)) return;
    const uint32_t mask = (1u << k) - 1;
    size_t j = 0;
    if (k <= 14) {
        const int one_word = k <= 7;
        const __m256i m = _mm256_set1_epi32((int)mask), at = _mm256_setr_epi64x(0, k, 2 * k, 3 * k);
        const __m256i at_hi = _mm256_add_epi64(at, _mm256_set1_epi64x(one_word ? 4 * k : 0));
        bulk_word(&b, 0, 0); /* fewer than 8 bits pending: room for 56 */
        for (; j + 8 <= count; j += 8) {
            __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(u + j)), m);
            __m256i lo = _mm256_sllv_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)), at);
            __m256i hi = _mm256_sllv_epi64(_mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)), at_hi);
            if (one_word) {
                bulk_word(&b, or_lanes(_mm256_or_si256(lo, hi)), 8 * k);
            } else {
                bulk_word(&b, or_lanes(lo), 4 * k);
                bulk_word(&b, or_lanes(hi), 4 * k);
            }
        }
    }
    for (; j < count; j++) bulk_low(&b, u[j] & mask, k);
    bulk_end(w, &b);
}

/* write_unary_body 8 values at a time: where none escapes and their codes fit beside
 * the pending bits, the 8 codes are one word with a one bit at each inclusive
 * prefix sum of the code lengths q + 1, less one. */
ATTR_AVX2 static void write_unary_avx2(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    bulk_t b;
    if (bulk_begin(w, count * (ESCAPE_Q + 32) / 8, &b)) return;
    const __m128i shift = _mm_cvtsi32_si128(k);
    const __m256i one = _mm256_set1_epi32(1), one64 = _mm256_set1_epi64x(1);
    const __m256i escapes = _mm256_set1_epi32(-ESCAPE_Q); /* bits of q >= ESCAPE_Q (a power of 2) */
    size_t j = 0;
    for (; j + 8 <= count; j += 8) {
        __m256i q = _mm256_srl_epi32(_mm256_loadu_si256((const __m256i *)(u + j)), shift);
        __m256i end = _mm256_add_epi32(q, one);
        end = _mm256_add_epi32(end, _mm256_slli_si256(end, 4));
        end = _mm256_add_epi32(end, _mm256_slli_si256(end, 8));
        end = _mm256_add_epi32(end, _mm256_shuffle_epi32(_mm256_permute2x128_si256(end, end, 0x08), 0xFF));
        int bits = _mm256_extract_epi32(end, 7);
        if (!_mm256_testz_si256(q, escapes) || b.n + bits >= 64) {
            for (int i = 0; i < 8; i++) bulk_unary(&b, u[j + i] >> k);
            continue;
        }
        end = _mm256_sub_epi32(end, one);
        __m256i lo = _mm256_sllv_epi64(one64, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(end)));
        __m256i hi = _mm256_sllv_epi64(one64, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(end, 1)));
        __m256i ones = _mm256_or_si256(lo, hi);
        bulk_word(&b, or_lanes(ones), bits);
    }
    for (; j < count; j++) bulk_unary(&b, u[j] >> k);
    bulk_end(w, &b);
}

/* Lane permutations from an 8-bit lane mask (BMI2): each mask bit widened to a
 * byte selects (pext) or places (pdep) the lane indices 0..7. */
#define LANE_INDICES 0x0706050403020100ull
__attribute__((target("avx2,bmi2"))) static inline uint64_t mask_bytes(uint32_t mask)
{
    return _pdep_u64(mask, 0x0101010101010101ull) * 0xff;
}

/* The indices of the set lanes, packed to the front. */
__attribute__((target("avx2,bmi2"))) static inline __m256i packed_lanes(uint32_t mask)
{
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)_pext_u64(LANE_INDICES, mask_bytes(mask))));
}

/* For each set lane, its rank among the set lanes (the inverse of packed_lanes). */
__attribute__((target("avx2,bmi2"))) static inline __m256i lane_ranks(uint32_t mask)
{
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)_pdep_u64(LANE_INDICES, mask_bytes(mask))));
}

/* cap_split_body eight values at a time: the fields with a blend, the values
 * over the cap packed with a lane permutation (stores at u + moved <= u + j
 * overwrite only values loaded already). */
__attribute__((target("avx2,bmi2,popcnt"))) static size_t cap_split_avx2(uint32_t *u, size_t pn, int k, int b,
                                                                               uint32_t *fields)
{
    const uint32_t t = (1u << b) - 1;
    const __m256i tv = _mm256_set1_epi32((int)t), below = _mm256_set1_epi32((int)(t - 1));
    const __m256i capped_high = _mm256_set1_epi32((int)(t << k)), low = _mm256_set1_epi32((int)((1u << k) - 1));
    const __m128i kk = _mm_cvtsi32_si128(k);
    size_t moved = 0, j = 0;
    for (; j + 8 <= pn; j += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(u + j)), q = _mm256_srl_epi32(v, kk);
        /* q >= t, unsigned: max(q, t - 1) != t - 1 */
        __m256i over = _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(q, below), below), _mm256_set1_epi32(-1));
        __m256i f = _mm256_blendv_epi8(v, _mm256_or_si256(capped_high, _mm256_and_si256(v, low)), over);
        _mm256_storeu_si256((__m256i *)(fields + j), f);
        uint32_t mask = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(over));
        __m256i rest = _mm256_permutevar8x32_epi32(_mm256_sub_epi32(q, tv), packed_lanes(mask));
        _mm256_storeu_si256((__m256i *)(u + moved), rest);
        moved += (size_t)__builtin_popcount(mask);
    }
    if (j < pn) {
        /* the tail: its values after the packed ones (moved <= j) */
        size_t tail = cap_split_body(u + j, pn - j, k, b, fields + j);
        memmove(u + moved, u + j, tail * sizeof(uint32_t));
        moved += tail;
    }
    return moved;
}

/* Fields of width w (1..25) from bit lpos, eight a group: the eight fields of a
 * group start at bits phase + i w of the group's first byte; each lane gathers
 * the 4 bytes holding its field (vpshufb within 128-bit halves, the upper half
 * loaded from the byte of field 4) and shifts it into place.  groups: how many
 * whole groups lie in the buffer (the loads of group g end at byte
 * byte0 + g w + upper + 16); the rest is for the scalar bodies. */
typedef struct {
    __m256i shuf, shift, mask;
    size_t byte0, groups, w, upper;
} field_group_t;

/* Each (phase, width)'s shuffle and shifts, computed once: a decoder starts a
 * field group for every column of every partition. */
#define FIELD_WIDTHS 26 /* 1 to MAX_CAPPED_FIELD */
static struct {
    uint8_t shuffle[32];
    uint32_t shift[8];
} field_layouts[8][FIELD_WIDTHS];
static pthread_once_t field_layouts_once = PTHREAD_ONCE_INIT;

static void field_layouts_build(void)
{
    for (int phase = 0; phase < 8; phase++)
        for (int w = 1; w < FIELD_WIDTHS; w++) {
            int upper = (phase + 4 * w) >> 3;
            for (int i = 0; i < 8; i++) {
                int off = phase + i * w, first = (off >> 3) - (i < 4 ? 0 : upper);
                for (int j = 0; j < 4; j++) field_layouts[phase][w].shuffle[4 * i + j] = (uint8_t)(first + j);
                field_layouts[phase][w].shift[i] = (uint32_t)(off & 7);
            }
        }
}

ATTR_AVX2_BITS static field_group_t field_group_begin(size_t len, uint64_t lpos, int w, size_t pn)
{
    int phase = (int)(lpos & 7), upper = (phase + 4 * w) >> 3;
    pthread_once(&field_layouts_once, field_layouts_build);
    field_group_t g = {_mm256_loadu_si256((const __m256i *)field_layouts[phase][w].shuffle),
                       _mm256_loadu_si256((const __m256i *)field_layouts[phase][w].shift),
                       _mm256_set1_epi32((int)((1u << w) - 1)), (size_t)(lpos >> 3), pn / 8, (size_t)w, (size_t)upper};
    while (g.groups && g.byte0 + (g.groups - 1) * g.w + g.upper + 16 > len) g.groups--;
    return g;
}

ATTR_AVX2_BITS static inline __m256i field_group_at(const field_group_t *g, const uint8_t *buf, size_t gi)
{
    const uint8_t *at = buf + g->byte0 + gi * g->w;
    __m256i v = _mm256_loadu2_m128i((const __m128i *)(at + g->upper), (const __m128i *)at);
    return _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(v, g->shuf), g->shift), g->mask);
}

/* capped_fields_body eight fields at a time (fields of up to 25 bits: r + b
 * is at most MAX_CAPPED_FIELD). */
ATTR_AVX2_BITS static size_t capped_fields_avx2(const uint8_t *buf, size_t len, uint64_t lpos, int k, int b,
                                                uint32_t *col, size_t pn)
{
    int w = k + b;
    field_group_t g = field_group_begin(len, lpos, w, pn);
    const __m256i t = _mm256_set1_epi32((int)((1u << b) - 1));
    const __m128i kk = _mm_cvtsi32_si128(k);
    size_t at_cap = 0;
    for (size_t gi = 0; gi < g.groups; gi++) {
        __m256i f = field_group_at(&g, buf, gi);
        _mm256_storeu_si256((__m256i *)(col + 8 * gi), f);
        __m256i capped = _mm256_cmpeq_epi32(_mm256_srl_epi32(f, kk), t);
        at_cap += (size_t)__builtin_popcount((uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(capped)));
    }
    size_t j = 8 * g.groups;
    return at_cap + capped_fields_body(buf, len, lpos + (uint64_t)j * (uint64_t)w, k, b, col + j, pn - j);
}

/* add_unary_parts_body and column_residuals_body fused, eight values at a
 * time: each capped lane takes the next unary part (its rank among the capped
 * lanes, by BMI2 deposit, picks the lane of a permutation), then the value's
 * residual and neighbour term (as lows_column_avx2). */
ATTR_AVX2_BITS static size_t capped_column_avx2(uint32_t *col, size_t pn, int k, int b, const uint32_t *unary,
                                                int32_t gain, uint32_t *sum, const uint32_t *leaving, int m)
{
    const __m256i t = _mm256_set1_epi32((int)((1u << b) - 1)), one = _mm256_set1_epi32(1);
    const __m256i g = _mm256_set1_epi32(gain), round = _mm256_set1_epi32(1 << (GAIN_SHIFT - 1));
    const __m128i kk = _mm_cvtsi32_si128(k), top = _mm_cvtsi32_si128(32 - k);
    __m256i over = _mm256_setzero_si256();
    size_t i = 0, j = 0;
    for (; j + 8 <= pn; j += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(col + j));
        __m256i capped = _mm256_cmpeq_epi32(_mm256_srl_epi32(v, kk), t);
        uint32_t mask = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(capped));
        __m256i h = _mm256_and_si256(
            _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(unary + i)), lane_ranks(mask)), capped);
        /* h << k must fit, and so must the sum (k = 0: the shift test is 0, the carry test is not) */
        __m256i uu = _mm256_add_epi32(v, _mm256_sll_epi32(h, kk));
        over = _mm256_or_si256(over, _mm256_srl_epi32(h, top));
        over = _mm256_or_si256(over, _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(uu, v), uu),
                                                      _mm256_set1_epi32(-1)));
        i += (size_t)__builtin_popcount(mask);
        __m256i e = _mm256_xor_si256(_mm256_srli_epi32(uu, 1),
                                     _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_and_si256(uu, one)));
        if (m) {
            __m256i s = _mm256_loadu_si256((const __m256i *)(sum + j));
            __m256i term = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(g, s), round), GAIN_SHIFT);
            e = _mm256_add_epi32(e, term);
            s = _mm256_add_epi32(s, e);
            if (leaving) s = _mm256_sub_epi32(s, _mm256_loadu_si256((const __m256i *)(leaving + j)));
            _mm256_storeu_si256((__m256i *)(sum + j), s);
        }
        _mm256_storeu_si256((__m256i *)(col + j), e);
    }
    size_t tail = add_unary_parts_body(col + j, pn - j, k, b, unary + i);
    column_residuals_body(col + j, pn - j, gain, sum + j, leaving ? leaving + j : NULL, m);
    return _mm256_testz_si256(over, over) && tail != UNARY_OVERFLOW ? i + tail : UNARY_OVERFLOW;
}

/* join_lows_body and column_residuals_body fused, eight values at a time
 * (field_group_t: fields up to 25 bits; the rest, and the tail, in the bodies). */
ATTR_AVX2_BITS static int lows_column_avx2(const uint8_t *buf, size_t len, uint64_t lpos, int k, const uint32_t *q,
                                           uint32_t *u, size_t pn, int32_t gain, uint32_t *sum,
                                           const uint32_t *leaving, int m)
{
    size_t j = 0;
    if (k >= 1 && k <= 25) {
        field_group_t fg = field_group_begin(len, lpos, k, pn);
        const __m256i one = _mm256_set1_epi32(1);
        const __m256i g = _mm256_set1_epi32(gain), round = _mm256_set1_epi32(1 << (GAIN_SHIFT - 1));
        const __m128i kk = _mm_cvtsi32_si128(k), top = _mm_cvtsi32_si128(32 - k);
        __m256i over = _mm256_setzero_si256();
        for (size_t gi = 0; gi < fg.groups; gi++) {
            __m256i low = field_group_at(&fg, buf, gi);
            __m256i hi = _mm256_loadu_si256((const __m256i *)(q + 8 * gi));
            over = _mm256_or_si256(over, _mm256_srl_epi32(hi, top));
            __m256i uu = _mm256_or_si256(_mm256_sll_epi32(hi, kk), low);
            __m256i e = _mm256_xor_si256(_mm256_srli_epi32(uu, 1), _mm256_sub_epi32(_mm256_setzero_si256(),
                                                                                   _mm256_and_si256(uu, one)));
            if (m) {
                __m256i s = _mm256_loadu_si256((const __m256i *)(sum + 8 * gi));
                __m256i term = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(g, s), round), GAIN_SHIFT);
                e = _mm256_add_epi32(e, term);
                s = _mm256_add_epi32(s, e);
                if (leaving) s = _mm256_sub_epi32(s, _mm256_loadu_si256((const __m256i *)(leaving + 8 * gi)));
                _mm256_storeu_si256((__m256i *)(sum + 8 * gi), s);
            }
            _mm256_storeu_si256((__m256i *)(u + 8 * gi), e);
        }
        if (!_mm256_testz_si256(over, over)) return 1;
        j = 8 * fg.groups;
    }
    if (join_lows_body(buf, len, lpos + (uint64_t)j * k, k, q + j, u + j, pn - j)) return 1;
    column_residuals_avx2(u + j, pn - j, gain, sum + j, leaving ? leaving + j : NULL, m);
    return 0;
}
/* ans_symbols_body's rANS groups, eight states to a register and G registers
 * (a constant: the states stay in registers), while the words left cover a
 * whole group; returns where they stopped, the symbols at the cap counted. */
#define ATTR_AVX2_ANS __attribute__((target("avx2,bmi2,popcnt"), always_inline)) static inline
ATTR_AVX2_ANS size_t ans_groups_avx2(ans_decoder_t *d, const uint32_t *table, uint32_t *col, size_t n, const int G,
                                     size_t *at_cap)
{
    const __m256i slot_mask = _mm256_set1_epi32(ANS_SCALE - 1), below = _mm256_set1_epi32(ANS_LOW - 1);
    const __m256i sym_mask = _mm256_set1_epi32(31), freq_mask = _mm256_set1_epi32(0x1fff);
    const __m256i escape = _mm256_set1_epi32(ANS_ESCAPE);
    const size_t lanes = (size_t)ANS_LANES * (size_t)G;
    __m256i x[ANS_MAX_GROUPS];
    const uint8_t *words = d->words;
    size_t j = 0, capped = 0;
    for (int g = 0; g < G; g++) x[g] = _mm256_loadu_si256((const __m256i *)(d->x + ANS_LANES * g));
    for (; n - j >= lanes && (size_t)(d->end - words) >= 2 * lanes; j += lanes) {
        for (int g = 0; g < G; g++) {
            __m256i slot = _mm256_and_si256(x[g], slot_mask);
            __m256i e = _mm256_i32gather_epi32((const int *)table, slot, 4);
            __m256i f = _mm256_and_si256(_mm256_srli_epi32(e, 5), freq_mask);
            __m256i bias = _mm256_sub_epi32(slot, _mm256_srli_epi32(e, 18));
            x[g] = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srli_epi32(x[g], ANS_SCALE_BITS)), bias);
            __m256i sym = _mm256_and_si256(e, sym_mask);
            _mm256_storeu_si256((__m256i *)(col + j + ANS_LANES * g), sym);
            capped += (size_t)__builtin_popcount(
                (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(sym, escape))));
        }
        for (int g = 0; g < G; g++) { /* the lanes below ANS_LOW take the next words, in lane order */
            __m256i under = _mm256_cmpeq_epi32(_mm256_min_epu32(x[g], below), x[g]);
            uint32_t mask = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(under));
            __m256i next = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)words));
            next = _mm256_permutevar8x32_epi32(next, lane_ranks(mask));
            x[g] = _mm256_blendv_epi8(x[g], _mm256_or_si256(_mm256_slli_epi32(x[g], 16), next), under);
            words += 2 * __builtin_popcount(mask);
        }
    }
    for (int g = 0; g < G; g++) _mm256_storeu_si256((__m256i *)(d->x + ANS_LANES * g), x[g]);
    d->words = words;
    *at_cap = capped;
    return j;
}

/* The symbols: the groups above, the rest by ans_symbols_body; then the low
 * bits joined eight at a time (field_group_t), the rest by join_lows_body. */
__attribute__((target("avx2,bmi2,popcnt"))) static size_t ans_fields_avx2(ans_decoder_t *d, const uint32_t *table,
                                                                          const uint8_t *buf, size_t len,
                                                                          uint64_t lpos, int k, uint32_t *col,
                                                                          size_t n)
{
    size_t at_cap, j = d->lanes == 8    ? ans_groups_avx2(d, table, col, n, 1, &at_cap)
                       : d->lanes == 16 ? ans_groups_avx2(d, table, col, n, 2, &at_cap)
                                        : ans_groups_avx2(d, table, col, n, 4, &at_cap);
    size_t rest = ans_symbols_body(d, table, col, n, j);
    if (rest == SIZE_MAX) return SIZE_MAX;
    if (k) {
        field_group_t fg = field_group_begin(len, lpos, k, n);
        const __m128i kk = _mm_cvtsi32_si128(k);
        for (size_t gi = 0; gi < fg.groups; gi++) {
            __m256i s = _mm256_loadu_si256((const __m256i *)(col + 8 * gi));
            _mm256_storeu_si256((__m256i *)(col + 8 * gi), _mm256_or_si256(_mm256_sll_epi32(s, kk),
                                                                           field_group_at(&fg, buf, gi)));
        }
        size_t i = 8 * fg.groups; /* s < 32, k <= 20: no overflow */
        join_lows_body(buf, len, lpos + (uint64_t)i * k, k, col + i, col + i, n - i);
    }
    return at_cap + rest;
}

const lpc_kernels_t lpc_kernels_avx2 = {
    .residual = residual_avx2,
    .synth = synth_avx2,
    .near = near_avx2,
    .autocorr = autocorr_int16_avx2,
    .fit_gains = fit_gains_avx2,
    .code_rows = code_rows_avx2,
    .transpose = transpose_avx2,
    .rice_parameter = rice_parameter_avx2,
    .cap_costs = cap_costs_avx2,
    .cap_split = cap_split_avx2,
    .write_lows = write_lows_avx2,
    .write_unary = write_unary_avx2,
    .unary_areas = unary_areas_avx2,
    .lows_column = lows_column_avx2,
    .capped_fields = capped_fields_avx2,
    .ans_fields = ans_fields_avx2,
    .capped_column = capped_column_avx2,
    .column_residuals = column_residuals_avx2,
    .from_grid = from_grid_avx2,
    .rice_lanes = rice_lanes_avx2,
};
#endif
