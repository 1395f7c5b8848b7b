/* Version 8's entropy coder: rANS (Duda; the word-wise layout of ryg_rans) over
 * frozen models, for the high parts of the channels whose residuals Rice codes
 * poorly (near-Gaussian, a few bits a value).  A channel so coded in a
 * partition names a model m and a parameter r: its values' high parts
 * s = min(u >> r, ESCAPE) are symbols of model m (the r low bits go to the
 * low-bits area, what reaches ESCAPE takes a unary part, as a capped channel's
 * values), each model the distribution of s for a discretized Gaussian with a
 * small Laplacian tail of standard deviation 0.3 x 2^(m/8) x 2^r.
 *
 * The symbols go through W = 8 G states (G, 1 to 4, a stream's choice): the
 * i-th value of a channel in a partition through state i % W, in groups of W
 * values (the last may be short), each group's states decoded in order, then
 * renormalized in order: 32-bit states, 16-bit words, probabilities in 1/4096. */
#ifndef EPHYS_LPC_ANS_H
#define EPHYS_LPC_ANS_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stream.h"

#define ANS_SCALE_BITS 12
#define ANS_SCALE (1u << ANS_SCALE_BITS)
#define ANS_LOW (1u << 16) /* a state lies in [ANS_LOW, 2^32); the encoder starts every state here */
#define ANS_SYMBOLS 32
#define ANS_ESCAPE (ANS_SYMBOLS - 1) /* its cap: the high part's bits of a capped field (b = ANS_CAP) */
#define ANS_CAP 5
#define ANS_MODEL_BITS 5
#define ANS_MODELS (1 << ANS_MODEL_BITS)
#define ANS_MAX_RICE (MAX_CAPPED_FIELD - ANS_CAP) /* r + ANS_CAP bits fit a capped field */
#define ANS_LANES 8
#define ANS_MAX_GROUPS 4
#define ANS_MAX_STATES (ANS_LANES * ANS_MAX_GROUPS)

/* Each model's decoding table: for each slot of [0, ANS_SCALE), the symbol s
 * (5 bits), its frequency f (13 bits) and its cumulative frequency c (12 bits),
 * as s | f << 5 | c << 18. */
#define ANS_SYMBOL(e) ((e) & 31u)
#define ANS_FREQ(e) (((e) >> 5) & 0x1fffu)
#define ANS_CUM(e) ((e) >> 18)

#pragma GCC visibility push(hidden) /* internal: not exported from the extension */
/* The tables, built once (thread-safe). */
const uint32_t *lpc_ans_decode_table(void);
/* The encoder's: each model's frequencies and cumulative frequencies, and the
 * cost of each symbol in 1/65536 bit. */
typedef struct {
    uint16_t freq[ANS_MODELS][ANS_SYMBOLS], cum[ANS_MODELS][ANS_SYMBOLS];
    uint32_t cost[ANS_MODELS][ANS_SYMBOLS];
} ans_models_t;
const ans_models_t *lpc_ans_models(void);

/* The encoder: the symbols of a stream, column by column, then coded backwards. */
typedef struct {
    uint8_t *symbols;  /* in decoding order */
    size_t n, cap;
    uint32_t *columns; /* each column's symbol count and model, two entries each */
    size_t n_columns, cap_columns;
    int err;
} ans_encoder_t;
/* Appends one column's symbols (fields >> r of its capped fields) under model m. */
void lpc_ans_put_column(ans_encoder_t *a, const uint32_t *fields, size_t n, int r, int model);
/* The coded area (W states, then the words) into out; W = 8 groups. */
int lpc_ans_finish(ans_encoder_t *a, int groups, ephys_buf_t *out);
void lpc_ans_free(ans_encoder_t *a);
#pragma GCC visibility pop

/* The decoder's position in a stream's coded area. */
typedef struct {
    uint32_t x[ANS_MAX_STATES];
    const uint8_t *words; /* the next word */
    const uint8_t *end;
    int lanes; /* W */
} ans_decoder_t;

/* Opens an area of len bytes (its states first): nonzero if corrupt. */
static inline int ans_open(ans_decoder_t *d, const uint8_t *area, size_t len, int groups)
{
    d->lanes = ANS_LANES * groups;
    if (len < 4 * (size_t)d->lanes || (len - 4 * (size_t)d->lanes) % 2) return 1;
    for (int l = 0; l < d->lanes; l++) {
        d->x[l] = ephys_get_le32(area + 4 * l);
        if (d->x[l] < ANS_LOW) return 1;
    }
    d->words = area + 4 * (size_t)d->lanes;
    d->end = area + len;
    return 0;
}

/* Every state back where the encoder started, every word read: nonzero if not. */
static inline int ans_close(const ans_decoder_t *d)
{
    for (int l = 0; l < d->lanes; l++)
        if (d->x[l] != ANS_LOW) return 1;
    return d->words != d->end;
}

/* One group of m <= W symbols into out, scalar; nonzero if the words run out. */
static inline int ans_group_scalar(ans_decoder_t *d, const uint32_t *table, uint32_t *out, int m)
{
    for (int l = 0; l < m; l++) {
        uint32_t x = d->x[l], slot = x & (ANS_SCALE - 1), e = table[slot];
        out[l] = ANS_SYMBOL(e);
        d->x[l] = ANS_FREQ(e) * (x >> ANS_SCALE_BITS) + slot - ANS_CUM(e);
    }
    for (int l = 0; l < m; l++) {
        if (d->x[l] >= ANS_LOW) continue;
        if (d->end - d->words < 2) return 1;
        d->x[l] = d->x[l] << 16 | (uint32_t)d->words[0] | (uint32_t)d->words[1] << 8;
        d->words += 2;
    }
    return 0;
}

#endif
