/* Version 8's rANS models and encoder (ans.h). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "ans.h"
#include "block_codec.h"

/* Each model's frequencies (sum ANS_SCALE, each at least 1), frozen: the
 * discretized distribution of zigzag(v) for v ~ 0.98 N(0, rho^2) + 0.02
 * Laplace(scale 2 rho) on the integers, rho = 0.3 x 2^(m / 8), the last symbol
 * holding the whole tail, rounded to 1/4096 (the largest absorbing the
 * rounding).  Changing one changes the format. */
static const uint16_t model_freq[ANS_MODELS][ANS_SYMBOLS] = {
    {3661, 202, 202, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {3535, 265, 265, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {3393, 335, 335, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {3239, 411, 411, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {3077, 491, 491, 5, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {2907, 573, 573, 7, 7, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {2737, 654, 654, 11, 11, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {2567, 731, 731, 19, 19, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {2401, 801, 801, 31, 31, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {2239, 863, 863, 50, 50, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {2081, 913, 913, 77, 77, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1931, 950, 950, 113, 113, 6, 6, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1789, 974, 974, 156, 156, 10, 10, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1655, 984, 984, 204, 204, 18, 18, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1527, 982, 982, 256, 256, 30, 30, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1411, 968, 968, 308, 308, 48, 48, 6, 6, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1301, 946, 946, 357, 357, 72, 72, 10, 10, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1199, 915, 915, 400, 400, 102, 102, 17, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1103, 879, 879, 435, 435, 137, 137, 29, 29, 5, 5, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {1017, 838, 838, 462, 462, 173, 173, 45, 45, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {935, 795, 795, 480, 480, 209, 209, 66, 66, 16, 16, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {861, 750, 750, 490, 490, 242, 242, 91, 91, 27, 27, 7, 7, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {788, 704, 704, 492, 492, 271, 271, 118, 118, 42, 42, 13, 13, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {726, 659, 659, 487, 487, 294, 294, 146, 146, 60, 60, 21, 21, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {669, 615, 615, 476, 476, 311, 311, 172, 172, 81, 81, 33, 33, 12, 12, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3},
    {614, 572, 572, 461, 461, 322, 322, 195, 195, 103, 103, 48, 48, 20, 20, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4},
    {563, 531, 531, 443, 443, 327, 327, 215, 215, 125, 125, 65, 65, 31, 31, 13, 13, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5},
    {521, 492, 492, 422, 422, 327, 327, 229, 229, 145, 145, 84, 84, 44, 44, 21, 21, 10, 10, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 7},
    {476, 455, 455, 400, 400, 323, 323, 239, 239, 163, 163, 102, 102, 59, 59, 32, 32, 16, 16, 8, 8, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 8},
    {438, 421, 421, 377, 377, 315, 315, 245, 245, 177, 177, 119, 119, 75, 75, 44, 44, 24, 24, 13, 13, 7, 7, 3, 3, 2, 2, 1, 1, 1, 1, 10},
    {404, 388, 388, 354, 354, 304, 304, 246, 246, 187, 187, 134, 134, 91, 91, 58, 58, 35, 35, 20, 20, 11, 11, 6, 6, 3, 3, 2, 2, 1, 1, 12},
    {368, 358, 358, 331, 331, 291, 291, 244, 244, 194, 194, 146, 146, 105, 105, 72, 72, 47, 47, 29, 29, 18, 18, 10, 10, 6, 6, 3, 3, 2, 2, 16}
};

static uint32_t decode_table[ANS_MODELS * ANS_SCALE];
static ans_models_t models;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void)
{
    for (int m = 0; m < ANS_MODELS; m++) {
        uint32_t c = 0;
        for (int s = 0; s < ANS_SYMBOLS; s++) {
            uint32_t f = model_freq[m][s];
            models.freq[m][s] = (uint16_t)f;
            models.cum[m][s] = (uint16_t)c;
            models.cost[m][s] = (uint32_t)(-log2((double)f / ANS_SCALE) * 65536.0 + 0.5);
            for (uint32_t slot = c; slot < c + f; slot++)
                decode_table[(size_t)m * ANS_SCALE + slot] = (uint32_t)s | f << 5 | c << 18;
            c += f;
        }
    }
}

const uint32_t *lpc_ans_decode_table(void)
{
    pthread_once(&once, build);
    return decode_table;
}

const ans_models_t *lpc_ans_models(void)
{
    pthread_once(&once, build);
    return &models;
}

void lpc_ans_put_column(ans_encoder_t *a, const uint32_t *fields, size_t n, int r, int model)
{
    if (a->err) return;
    if (a->n + n > a->cap) {
        size_t cap = a->cap ? a->cap : 65536;
        while (cap < a->n + n) cap *= 2;
        uint8_t *p = realloc(a->symbols, cap);
        if (!p) {
            a->err = EPHYS_ERR_NOMEM;
            return;
        }
        a->symbols = p, a->cap = cap;
    }
    if (a->n_columns + 2 > a->cap_columns) {
        size_t cap = a->cap_columns ? 2 * a->cap_columns : 1024;
        uint32_t *p = realloc(a->columns, cap * sizeof(uint32_t));
        if (!p) {
            a->err = EPHYS_ERR_NOMEM;
            return;
        }
        a->columns = p, a->cap_columns = cap;
    }
    for (size_t i = 0; i < n; i++) a->symbols[a->n + i] = (uint8_t)(fields[i] >> r);
    a->n += n;
    a->columns[a->n_columns++] = (uint32_t)n;
    a->columns[a->n_columns++] = (uint32_t)model;
}

/* Backwards, so that the decoder reads forwards: each state from ANS_LOW, each
 * column's groups from the last, each group's states from the last. */
int lpc_ans_finish(ans_encoder_t *a, int groups, ephys_buf_t *out)
{
    const ans_models_t *md = lpc_ans_models();
    int lanes = ANS_LANES * groups;
    uint32_t x[ANS_MAX_STATES];
    uint16_t *words = malloc((a->n + 1) * sizeof(uint16_t)); /* at most one a symbol */
    if (a->err || !words) {
        free(words);
        return a->err ? a->err : EPHYS_ERR_NOMEM;
    }
    size_t nw = 0, end = a->n;
    for (int l = 0; l < lanes; l++) x[l] = ANS_LOW;
    for (size_t k = a->n_columns; k > 0; k -= 2) {
        size_t count = a->columns[k - 2], start = end - count;
        int m = (int)a->columns[k - 1];
        for (size_t g = (count + (size_t)lanes - 1) / (size_t)lanes; g-- > 0;) {
            size_t i0 = start + g * (size_t)lanes;
            int in_group = end - i0 < (size_t)lanes ? (int)(end - i0) : lanes;
            for (int l = in_group - 1; l >= 0; l--) {
                int s = a->symbols[i0 + (size_t)l];
                uint32_t f = md->freq[m][s];
                if ((uint64_t)x[l] >= (uint64_t)f << (32 - ANS_SCALE_BITS)) {
                    words[nw++] = (uint16_t)x[l];
                    x[l] >>= 16;
                }
                x[l] = ((x[l] / f) << ANS_SCALE_BITS) + x[l] % f + md->cum[m][s];
            }
        }
        end = start;
    }
    uint8_t *bytes = malloc(4 * (size_t)lanes + 2 * nw);
    int err = bytes ? EPHYS_OK : EPHYS_ERR_NOMEM;
    if (!err) {
        for (int l = 0; l < lanes; l++) ephys_put_le32(bytes + 4 * l, x[l]);
        for (size_t i = 0; i < nw; i++) {
            bytes[4 * (size_t)lanes + 2 * i] = (uint8_t)words[nw - 1 - i];
            bytes[4 * (size_t)lanes + 2 * i + 1] = (uint8_t)(words[nw - 1 - i] >> 8);
        }
        err = ephys_buf_append(out, bytes, 4 * (size_t)lanes + 2 * nw);
    }
    free(bytes);
    free(words);
    return err;
}

void lpc_ans_free(ans_encoder_t *a)
{
    free(a->symbols);
    free(a->columns);
    memset(a, 0, sizeof(*a));
}
