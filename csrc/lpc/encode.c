/* The encoder: one block of channels into one stream of the current version
 * (6), frame by frame: analysis (analysis.c), prediction and the neighbour term
 * (kernels), then each partition's Rice parameters, caps, low fields and unary
 * parts. */
#include <stdlib.h>
#include <string.h>

#include "encoder.h"

/* A block's work areas, for frames of F rows and partitions of P rows. */
typedef struct {
    block_t block;
    int32_t *e;         /* (HIST + F) x nc: the frame's residuals, then its coded values; also the
                           scratch of the autocorrelation and of the grid search */
    int32_t *orig;      /* near-lossless: F x nc original samples */
    int32_t *sums;      /* nc: lpc_centre's scratch */
    int *coef_bits;     /* per channel: the bits of each of its weights */
    uint32_t *nsum;     /* nc: the neighbour sums S of one row */
    uint32_t *over_cap; /* per channel: how many of its values reach the cap (cap_split moved them to the
                           front of its column) */
    uint32_t *fields;   /* P: one channel's capped low fields */
} encoder_t;

static void encoder_free(encoder_t *w)
{
    lpc_block_free(&w->block);
    free(w->e); free(w->orig); free(w->sums); free(w->coef_bits); free(w->nsum); free(w->over_cap); free(w->fields);
}

static int encoder_alloc(encoder_t *w, size_t f, size_t part, uint32_t nc, int near)
{
    memset(w, 0, sizeof(*w));
    if (lpc_block_alloc(&w->block, f, part, nc)) return EPHYS_ERR_NOMEM;
    w->e = malloc((HIST + f) * nc * sizeof(int32_t));
    w->orig = near ? malloc(f * nc * sizeof(int32_t)) : NULL;
    w->sums = malloc(nc * sizeof(int32_t));
    w->coef_bits = malloc(nc * sizeof(int));
    w->nsum = malloc(nc * sizeof(uint32_t));
    w->over_cap = malloc(nc * sizeof(uint32_t));
    w->fields = malloc(part * sizeof(uint32_t));
    if (!w->e || (near && !w->orig) || !w->sums || !w->coef_bits || !w->nsum || !w->over_cap || !w->fields) {
        encoder_free(w);
        return EPHYS_ERR_NOMEM;
    }
    return EPHYS_OK;
}

/* A dictionary: its count - 1, its first value, the Rice parameter r of the
 * gaps g = v_i - v_(i-1) - 1 between its values, then each gap: g >> r zero
 * bits and a one bit, then g's r low bits; or, when g >> r >= ESCAPE_Q,
 * ESCAPE_Q zero bits and g in 32 bits. */
static void write_dictionary(bitwriter_t *bw, const lpc_dictionary_t *d)
{
    int r = d->gap_rice;
    bw_put(bw, d->count - 1, DICTIONARY_COUNT_BITS);
    bw_put(bw, (uint32_t)d->values[0], 32);
    bw_put(bw, (uint32_t)r, 5);
    for (uint32_t i = 1; i < d->count; i++) {
        uint32_t g = (uint32_t)(d->values[i] - d->values[i - 1] - 1), q = g >> r;
        if (q >= ESCAPE_Q) {
            bw_put(bw, 0, ESCAPE_Q);
            bw_put(bw, g, 32);
            continue;
        }
        bw_put(bw, 1u << q, (int)q + 1);
        if (r) bw_put(bw, g & ((1u << r) - 1), r);
    }
}

/* One partition: every channel's Rice parameter r (and cap b), then every
 * channel's low fields, then every channel's unary parts.  u: the coded
 * values, pn rows. */
static void write_partition(bitwriter_t *bw, const lpc_kernels_t *kern, const int32_t *u, size_t pn, uint32_t nc,
                            encoder_t *w, int capped)
{
    uint32_t h = unary_split(nc), *cm = w->block.cm;
    int *rice = w->block.rice, *cap = w->block.cap;
    uint64_t area_a = 0, unary_bits;
    kern->transpose((const uint32_t *)u, nc, nc, (uint32_t)pn, (int32_t *)cm); /* rows -> columns */
    for (uint32_t c = 0; c < nc; c++) {
        const uint32_t *col = cm + (size_t)c * pn;
        int k = kern->rice_parameter(col, pn, &unary_bits), b = 0;
        if (capped && k != ZERO_PARTITION && k + 2 <= MAX_CAPPED_FIELD) {
            uint32_t bits[CAP_TRIES];
            uint64_t best = (uint64_t)k * pn + unary_bits;
            int r = k;
            kern->cap_costs(col, pn, r, bits);
            for (int i = 0; i < CAP_TRIES; i++) {
                uint64_t cost = (uint64_t)(r - cap_drop[i] + cap_b[i]) * pn + bits[i];
                if (bits[i] != UINT32_MAX && cost < best) {
                    best = cost;
                    k = r - cap_drop[i];
                    b = cap_b[i];
                    unary_bits = bits[i];
                }
            }
        }
        rice[c] = k;
        cap[c] = b;
        bw_put(bw, (uint32_t)k, 5);
        if (capped && k != ZERO_PARTITION) bw_put(bw, (uint32_t)b, CAP_BITS);
        if (c < h) area_a += unary_bits;
    }
    if (area_a > UINT32_MAX) bw->err = EPHYS_ERR_ARGS; /* a partition of 2^12 x 2^16 channels at the most */
    bw_put(bw, (uint32_t)area_a, 32);
    for (uint32_t c = 0; c < nc; c++) {
        int k = rice[c], b = cap[c];
        uint32_t *col = cm + (size_t)c * pn;
        if (k == ZERO_PARTITION) continue;
        if (b) { /* the capped fields, and the values over the cap moved to the column's front */
            w->over_cap[c] = (uint32_t)kern->cap_split(col, pn, k, b, w->fields);
            kern->write_lows(bw, w->fields, pn, k + b);
        } else if (k) {
            kern->write_lows(bw, col, pn, k);
        }
    }
    for (uint32_t c = 0; c < nc; c++) {
        int k = rice[c];
        const uint32_t *col = cm + (size_t)c * pn;
        if (k == ZERO_PARTITION) continue;
        if (cap[c])
            kern->write_unary(bw, col, w->over_cap[c], 0);
        else
            kern->write_unary(bw, col, pn, k);
    }
}

/* d: 5 bits n, then n bits of zigzag(d) (n = 0: d = 0). */
static void write_mean(bitwriter_t *w, int32_t mean)
{
    uint32_t u = zigzag(mean);
    int n = 0;
    while (n < 32 && (u >> n)) n++;
    bw_put(w, (uint32_t)n, 5);
    if (n) bw_put(w, u, n);
}

static void write_header(uint8_t *h, const ephys_lpc_params_t *p, int dtype, uint64_t n, uint32_t nc)
{
    h[0] = STREAM_VERSION;
    h[1] = (uint8_t)dtype;
    h[2] = (uint8_t)p->frame_log2;
    h[3] = (uint8_t)p->partition_log2;
    h[4] = (uint8_t)p->coef_shift;
    h[5] = (uint8_t)p->neighbours;
    h[6] = (uint8_t)p->capped;
    h[7] = 0;
    ephys_put_le32(h + 8, (uint32_t)n);
    ephys_put_le32(h + 12, nc);
    ephys_put_le32(h + 16, p->max_error);
}

static int encode_stream(const ephys_lpc_params_t *p, const ephys_view_t *src, uint64_t c0, uint32_t nc,
                         ephys_buf_t *out)
{
    const lpc_kernels_t *kern = lpc_kernels();
    size_t n = src->n_samples, frame = (size_t)1 << p->frame_log2, part = (size_t)1 << p->partition_log2;
    size_t fl = n < frame ? n : frame;
    int near = p->max_error > 0, m = nc > 1 ? p->neighbours : 0;
    int32_t lo, hi;
    dtype_range(src->dtype, &lo, &hi);
    uint8_t header[STREAM_HEADER];
    ephys_lpc_params_t hp = *p;
    hp.neighbours = m;
    write_header(header, &hp, src->dtype, n, nc);
    int err = ephys_buf_append(out, header, sizeof(header));
    if (err) return err;
    encoder_t w;
    if ((err = encoder_alloc(&w, fl, fl < part ? fl : part, nc, near))) return err;
    block_t *block = &w.block;
    double *r = malloc((size_t)(p->max_order + 1) * nc * sizeof(double));
    if (!r) err = EPHYS_ERR_NOMEM;
    bitwriter_t bw = {out, 0, 0, 0}; /* after the header */
    /* lossless only: on a grid or a dictionary, an error bound on y would not bound x */
    int grids = !err && !near && lpc_find_grids(src, c0, nc, w.e, fl, block->scale, block->base), dictionaries = 0;
    lpc_dictionary_t *dict = calloc(nc, sizeof(lpc_dictionary_t));
    if (!err && !dict) err = EPHYS_ERR_NOMEM;
    for (uint32_t c = 0; c < nc && !grids && !err; c++) block->scale[c] = 1, block->base[c] = 0;
    if (!err && !near) err = lpc_find_dictionaries(src, c0, nc, w.e, fl, block->scale, dict, &dictionaries);
    for (uint32_t c = 0; c < nc && !err; c++) {
        int map = block->scale[c] > 1 ? MAP_GRID : dict[c].count ? MAP_DICTIONARY : MAP_NONE;
        bw_put(&bw, (uint32_t)map, MAP_BITS);
        if (map == MAP_GRID) {
            bw_put(&bw, block->scale[c], 32);
            bw_put(&bw, block->base[c], 32);
        } else if (map == MAP_DICTIONARY) {
            write_dictionary(&bw, &dict[c]);
        }
    }
    for (size_t t0 = 0; !err && t0 < n; t0 += frame) {
        size_t nt = n - t0 < frame ? n - t0 : frame;
        int32_t *rows = block->x + (size_t)HIST * nc;
        ephys_view_load(src, t0, nt, c0, nc, rows);
        if (grids) lpc_to_grid(rows, nt, nc, block->scale, block->base);
        if (dictionaries) lpc_to_dictionary(rows, nt, nc, dict);
        if (near) memcpy(w.orig, rows, nt * nc * sizeof(int32_t));
        /* predictor per channel, fitted around the channel's mean: a constant
         * offset (the DC of a probe channel) would otherwise cost prediction */
        lpc_centre(block, t0 == 0, nt, nc, src->dtype, w.sums);
        kern->autocorr(rows, nt, nc, p->max_order, block->mean, r, (uint32_t *)w.e);
        memset(block->coef, 0, (size_t)EPHYS_LPC_MAX_ORDER * nc * sizeof(int32_t));
        for (uint32_t c = 0; c < nc; c++) {
            double rc[EPHYS_LPC_MAX_ORDER + 1];
            int32_t q[EPHYS_LPC_MAX_ORDER];
            for (int l = 0; l <= p->max_order; l++) rc[l] = r[(size_t)l * nc + c];
            block->order[c] =
                lpc_fit(rc, rows, nt, nc, c, block->mean[c], p->max_order, p->coef_shift, q, &w.coef_bits[c]);
            for (int i = 0; i < block->order[c]; i++) block->coef[(size_t)i * nc + c] = q[i];
        }
        int wide, top = lpc_frame_setup(block, nc, src->dtype, p->coef_shift, &wide);
        if (near)
            kern->near(rows, nt, nc, block->coef, top, p->coef_shift, lo, hi, &block->init, block->acc64, w.e, w.orig,
                       2 * (int64_t)p->max_error + 1);
        else
            kern->residual(rows, nt, nc, block->coef, top, p->coef_shift, wide, lo, hi, &block->init, block->acc64,
                           w.e);
        if ((err = kern->fit_gains(w.e, nt, nc, m, block->gain, w.nsum))) break;
        kern->code_rows(w.e, nt, nc, m, block->gain, w.nsum);
        for (uint32_t c = 0; c < nc; c++) {
            bw_put(&bw, (uint32_t)block->order[c], 6);
            if (block->order[c]) {
                bw_put(&bw, (uint32_t)(w.coef_bits[c] - 1), 4);
                for (int i = 0; i < block->order[c]; i++)
                    bw_signed(&bw, block->coef[(size_t)i * nc + c], w.coef_bits[c]);
            }
            write_mean(&bw, block->mean[c]);
            if (m && c > 0) {
                bw_put(&bw, block->gain[c] != 0, 1);
                if (block->gain[c]) bw_signed(&bw, block->gain[c], GAIN_BITS);
            }
        }
        /* partition by partition, so that a decoder works on a few rows of
         * every channel at a time */
        for (size_t ps = 0; ps < nt; ps += part)
            write_partition(&bw, kern, w.e + ps * nc, nt - ps < part ? nt - ps : part, nc, &w, p->capped);
        if (bw.err) err = bw.err;
        lpc_frame_shift_history(block, nt, nc);
    }
    if (!err) {
        bw_finish(&bw);
        err = bw.err;
    }
    free(r);
    for (uint32_t c = 0; dict && c < nc; c++) lpc_dictionary_free(&dict[c]);
    free(dict);
    encoder_free(&w);
    return err;
}

/* With a second partition length, weight precision or frame length, the
 * block is coded with each combination and the shortest stream kept (its
 * header names all three). */
int lpc_encode_block(const void *params, const ephys_view_t *src, uint64_t c0, uint32_t nc, ephys_buf_t *out)
{
    const ephys_lpc_params_t *p = params;
    size_t at = out->len;
    int err = encode_stream(p, src, c0, nc, out);
    const int partitions[2] = {p->partition_log2, p->alt_partition_log2};
    const int shifts[2] = {p->coef_shift, p->alt_coef_shift}, frames[2] = {p->frame_log2, p->alt_frame_log2};
    for (int i = 1; i < 8 && !err; i++) { /* i = 0: the first stream, coded above */
        if (!partitions[i & 1] || !shifts[(i >> 1) & 1] || !frames[i >> 2]) continue;
        ephys_lpc_params_t alt = *p;
        alt.partition_log2 = partitions[i & 1];
        alt.coef_shift = shifts[(i >> 1) & 1];
        alt.frame_log2 = frames[i >> 2];
        ephys_buf_t other = {0};
        err = encode_stream(&alt, src, c0, nc, &other);
        if (!err && other.len < out->len - at) {
            out->len = at;
            err = ephys_buf_append(out, other.data, other.len);
        }
        free(other.data);
    }
    return err;
}
