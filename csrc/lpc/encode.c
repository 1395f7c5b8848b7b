/* The encoder: one block of channels into one stream of the current version
 * (7), frame by frame: analysis (analysis.c), prediction and the neighbour term
 * (kernels), then each partition's Rice parameters, caps, low fields and unary
 * parts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ans.h"
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
    uint32_t *fields;   /* P S: one channel's capped low fields */
    int *model;         /* per channel: its rANS model in a partition, or -1 */
    ans_encoder_t ans;  /* version 8: the stream's rANS symbols */
    uint64_t ans_saving; /* version 8: the bits rANS saved over Rice and capped codes, its states not counted */
} encoder_t;

static void encoder_free(encoder_t *w)
{
    lpc_block_free(&w->block);
    free(w->e); free(w->orig); free(w->sums); free(w->coef_bits); free(w->nsum); free(w->over_cap); free(w->fields);
    free(w->model);
    lpc_ans_free(&w->ans);
}

/* For frames of f rows and partitions of part rows of nc lanes, width lanes per channel. */
static int encoder_alloc(encoder_t *w, size_t f, size_t part, uint32_t nc, uint32_t width, int near)
{
    memset(w, 0, sizeof(*w));
    if (lpc_block_alloc(&w->block, f, part, nc)) return EPHYS_ERR_NOMEM;
    w->e = malloc((HIST + f) * nc * sizeof(int32_t));
    w->orig = near ? malloc(f * nc * sizeof(int32_t)) : NULL;
    w->sums = malloc(nc * sizeof(int32_t));
    w->coef_bits = malloc(nc * sizeof(int));
    w->nsum = malloc(nc * sizeof(uint32_t));
    w->over_cap = malloc(nc * sizeof(uint32_t));
    w->fields = malloc(part * width * sizeof(uint32_t));
    w->model = malloc(nc * sizeof(int));
    if (!w->e || (near && !w->orig) || !w->sums || !w->coef_bits || !w->nsum || !w->over_cap || !w->fields ||
        !w->model) {
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

/* Version 8: the bits of channel c's r and coder in the partition header
 * (write_coding) after a channel with prev_r and prev_m (-1: not rANS). */
static int coding_bits(uint32_t c, int r, int m, int prev_r, int prev_m)
{
    int bits = (c > 0) + (c == 0 || r != prev_r ? 5 : 0) + 1;
    if (m < 0) return bits + CAP_BITS;
    if (prev_m < 0) return bits + ANS_MODEL_BITS;
    return bits + (m == prev_m ? 1 : m == prev_m + 1 || m == prev_m - 1 ? 3 : 2 + ANS_MODEL_BITS);
}

/* Version 8: the cheapest rANS coding of channel c's column of n values whose
 * Rice parameter is k: a parameter r (k - 2 to k) and a model, and its cost in
 * 1/65536 bit (header, low bits, symbols, the unary parts of the escapes:
 * those in *escape_bits).  Integer arithmetic, outside the kernels: the
 * choice, and so the bytes, do not depend on the kernel. */
static uint64_t ans_choice(const uint32_t *u, size_t n, int k, uint32_t c, int prev_r, int prev_m, int *r_out,
                           int *model_out, uint64_t *escape_bits)
{
    const ans_models_t *md = lpc_ans_models();
    uint64_t best = UINT64_MAX;
    int hi = k < ANS_MAX_RICE ? k : ANS_MAX_RICE;
    for (int r = k >= 2 ? k - 2 : 0; r <= hi; r++) {
        uint32_t h[ANS_SYMBOLS] = {0};
        uint64_t extra = 0;
        for (size_t j = 0; j < n; j++) {
            uint32_t q = u[j] >> r;
            if (q >= ANS_ESCAPE) extra += q - ANS_ESCAPE < ESCAPE_Q ? q - ANS_ESCAPE + 1 : ESCAPE_Q + 32;
            h[q < ANS_ESCAPE ? q : ANS_ESCAPE]++;
        }
        for (int m = 0; m < ANS_MODELS; m++) {
            uint64_t cost = (extra + (uint64_t)r * n + (uint64_t)coding_bits(c, r, m, prev_r, prev_m)) << 16;
            for (int s = 0; s < ANS_SYMBOLS; s++) cost += (uint64_t)h[s] * md->cost[m][s];
            if (cost < best) best = cost, *r_out = r, *model_out = m, *escape_bits = extra;
        }
    }
    return best;
}

/* Version 8: channel c's parameter r, its coder and its cap b or model m in a
 * partition, each channel after the first relative to the one before (the
 * channels of a probe are alike): 1 bit, r the previous channel's, or 5 bits r;
 * unless r = 31, 1 bit: rANS or not; then b in 2 bits, or m: after a rANS
 * channel 1 bit "the previous m", else 1 bit and 1 bit "the previous m +1 / -1",
 * else 5 bits m. */
static void write_coding(bitwriter_t *bw, uint32_t c, const int *rice, const int *cap, const int *model)
{
    int k = rice[c], m = model[c], prev = c > 0 && rice[c - 1] != ZERO_PARTITION ? model[c - 1] : -1;
    if (c > 0) bw_put(bw, k == rice[c - 1], 1);
    if (c == 0 || k != rice[c - 1]) bw_put(bw, (uint32_t)k, 5);
    if (k == ZERO_PARTITION) return;
    bw_put(bw, m >= 0, 1);
    if (m < 0) {
        bw_put(bw, (uint32_t)cap[c], CAP_BITS);
    } else if (prev >= 0 && m == prev) {
        bw_put(bw, 1, 1);
    } else if (prev >= 0 && (m == prev + 1 || m == prev - 1)) {
        bw_put(bw, 0, 1);
        bw_put(bw, 1, 1);
        bw_put(bw, m > prev, 1);
    } else {
        if (prev >= 0) bw_put(bw, 0, 2);
        bw_put(bw, (uint32_t)m, ANS_MODEL_BITS);
    }
}

/* One partition: every channel's Rice parameter r (and cap b), then every
 * channel's low fields, then every channel's unary parts.  u: the coded
 * values, pn rows of nc width lanes; a channel's values are those of its
 * lanes (segments) one after the other. */
static void write_partition(bitwriter_t *bw, const lpc_kernels_t *kern, const int32_t *u, size_t rows, uint32_t nc,
                            uint32_t width, encoder_t *w, int capped, int ans_max_rice)
{
    uint32_t h = unary_split(nc), *cm = w->block.cm, nv = nc * width;
    size_t pn = rows * width;
    int *rice = w->block.rice, *cap = w->block.cap;
    uint64_t area_a = 0, unary_bits;
    kern->transpose((const uint32_t *)u, nv, nv, (uint32_t)rows, NULL, (int32_t *)cm); /* rows -> columns */
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
        w->model[c] = -1;
        if (k != ZERO_PARTITION && k <= ans_max_rice) { /* version 8: rANS where it costs less, headers included */
            int r = k, model = 0, prev_r = c ? rice[c - 1] : -1;
            int prev_m = c && prev_r != ZERO_PARTITION ? w->model[c - 1] : -1;
            uint64_t escape_bits = 0, cost = ans_choice(col, pn, k, c, prev_r, prev_m, &r, &model, &escape_bits);
            uint64_t rice_cost = (uint64_t)(k + b) * pn + unary_bits + (uint64_t)coding_bits(c, k, -1, prev_r, prev_m);
            if (cost < rice_cost << 16) {
                k = r, b = ANS_CAP, w->model[c] = model, unary_bits = escape_bits;
                w->ans_saving += ((rice_cost << 16) - cost) >> 16;
            }
        }
        rice[c] = k;
        cap[c] = b;
        if (ans_max_rice >= 0) { /* version 8 */
            write_coding(bw, c, rice, cap, w->model);
        } else {
            bw_put(bw, (uint32_t)k, 5);
            if (capped && k != ZERO_PARTITION) bw_put(bw, (uint32_t)b, CAP_BITS);
        }
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
            if (w->model[c] < 0) {
                kern->write_lows(bw, w->fields, pn, k + b);
            } else { /* rANS: the low bits here, the high parts to its symbols */
                if (k) kern->write_lows(bw, w->fields, pn, k);
                lpc_ans_put_column(&w->ans, w->fields, pn, k, w->model[c]);
            }
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

/* Version 8: the rANS area between the header (at byte at of out) and the bit
 * stream: its length in bytes (u32), its states, its words; byte 6 names its
 * groups G (8 G states): more states decode faster and cost 32 bits each. */
#define ANS_SYMBOLS_PER_GROUP 65536
static int ans_log2_groups(size_t symbols)
{
    int log2_groups = 0;
    while (log2_groups < 2 && symbols >= (size_t)ANS_SYMBOLS_PER_GROUP << (log2_groups + 1)) log2_groups++;
    return log2_groups;
}

static int insert_ans_area(ans_encoder_t *ans, ephys_buf_t *out, size_t at)
{
    int log2_groups = ans_log2_groups(ans->n);
    ephys_buf_t area = {0};
    int err = ans->n_columns ? lpc_ans_finish(ans, 1 << log2_groups, &area) : EPHYS_OK;
    size_t extra = 4 + area.len, bits_at = at + STREAM_HEADER, bits = out->len - bits_at;
    uint8_t length[4];
    ephys_put_le32(length, (uint32_t)area.len);
    if (!err) err = ephys_buf_append(out, length, 4); /* room for the area at the end, then moved before the bits */
    if (!err && area.len) err = ephys_buf_append(out, area.data, area.len);
    if (!err) {
        memmove(out->data + bits_at + extra, out->data + bits_at, bits);
        memcpy(out->data + bits_at, length, 4);
        if (area.len) memcpy(out->data + bits_at + 4, area.data, area.len);
        out->data[at + 6] = (uint8_t)(1 + 2 * log2_groups);
    }
    free(area.data);
    return err;
}

/* The bits u takes without its leading zeros (0 for 0). */
static int bit_length(uint32_t u)
{
    int n = 0;
    while (n < 32 && (u >> n)) n++;
    return n;
}

/* d: 5 bits n, then n bits of zigzag(d) (n = 0: d = 0). */
static void write_mean(bitwriter_t *w, int32_t mean)
{
    int n = bit_length(zigzag(mean));
    bw_put(w, (uint32_t)n, 5);
    if (n) bw_put(w, zigzag(mean), n);
}

/* The bits of v in two's complement. */
static int signed_bits(int64_t v)
{
    int b = 1;
    while (b < 33 && (v < -((int64_t)1 << (b - 1)) || v >= (int64_t)1 << (b - 1))) b++;
    return b;
}

static void write_header(uint8_t *h, const ephys_lpc_params_t *p, int dtype, uint64_t n, uint32_t nc,
                         uint32_t segments, int ans)
{
    h[0] = ans ? STREAM_VERSION : RICE_VERSION; /* byte 6 of version 8: set when its rANS area is */
    h[1] = (uint8_t)dtype;
    h[2] = (uint8_t)p->frame_log2;
    h[3] = (uint8_t)p->partition_log2;
    h[4] = (uint8_t)p->coef_shift;
    h[5] = (uint8_t)p->neighbours;
    h[6] = (uint8_t)p->capped;
    h[7] = (uint8_t)segments;
    ephys_put_le32(h + 8, (uint32_t)n);
    ephys_put_le32(h + 12, nc);
    ephys_put_le32(h + 16, p->max_error);
}

/* Version 7's segments: where a block's channels are too few to fill
 * SEGMENT_LANES lanes, S segments of each, each at least MIN_SEGMENT_ROWS rows,
 * lanes a multiple of 8 where possible (the AVX2 kernels' registers).  Each
 * segment starts its prediction afresh, which costs a few large residuals on
 * smooth (low-pass, wideband) signals: only where the block's first rows
 * deviate from their channel means by at most MAX_SMOOTHNESS times their steps
 * (AP-band recordings: about 1; wideband ones 3 to 9). */
#define SEGMENT_LANES 32
#define MIN_SEGMENT_ROWS 100
#define SMOOTHNESS_ROWS 512
#define MAX_SMOOTHNESS 2.5
#define SMOOTH_PARTITION_LOG2 9 /* partitions of smooth blocks: 512 rows */
static int smooth(const ephys_view_t *src, uint64_t c0, uint32_t nc)
{
    size_t rows = src->n_samples < SMOOTHNESS_ROWS ? (size_t)src->n_samples : SMOOTHNESS_ROWS;
    int32_t *x = malloc(rows * nc * sizeof(int32_t));
    double *acc = calloc(3 * (size_t)nc, sizeof(double)), *mean = acc + nc, *steps = acc + 2 * nc;
    int smooth = 1; /* without memory: no segments */
    if (x && acc && rows) {
        ephys_view_load(src, 0, rows, c0, nc, x);
        /* row by row, channels inside, in doubles: loops the compiler vectorizes */
        for (size_t t = 0; t < rows; t++)
            for (uint32_t c = 0; c < nc; c++) acc[c] += x[t * nc + c];
        for (uint32_t c = 0; c < nc; c++) mean[c] = acc[c] / (double)rows, acc[c] = 0;
        for (size_t t = 0; t < rows; t += 4) /* every 4th row, and the step to every 4th */
            for (uint32_t c = 0; c < nc; c++) acc[c] += fabs(x[t * nc + c] - mean[c]);
        for (size_t t = 1; t < rows; t += 4)
            for (uint32_t c = 0; c < nc; c++) steps[c] += fabs((double)x[t * nc + c] - x[(t - 1) * nc + c]);
        double deviation = 0, total = 0;
        for (uint32_t c = 0; c < nc; c++) deviation += acc[c], total += steps[c];
        smooth = deviation * (double)((rows + 2) / 4) > MAX_SMOOTHNESS * total * (double)((rows + 3) / 4);
    }
    free(x);
    free(acc);
    return smooth;
}

static uint32_t choose_segments(const ephys_view_t *src, uint64_t c0, uint32_t nc, int is_smooth)
{
    uint64_t n = src->n_samples;
    uint32_t chosen = 1;
    for (uint32_t s = nc ? SEGMENT_LANES / nc : 1; s > 1; s--) {
        if (n < (uint64_t)s * MIN_SEGMENT_ROWS) continue;
        if ((nc * s) % 8 == 0) {
            chosen = s;
            break;
        }
        if (chosen == 1) chosen = s;
    }
    return chosen > 1 && !is_smooth ? chosen : 1;
}

/* Rows [t0, t0 + nt) of every segment of channels [c0, c0 + nc) into rows of
 * nc S lanes (lane c S + s); past the samples, the last sample (last) again. */
static void load_segments(const ephys_view_t *src, uint64_t c0, uint32_t nc, uint32_t segments, uint64_t seg_rows,
                          size_t t0, size_t nt, const int32_t *last, int32_t *scratch, int32_t *rows)
{
    uint32_t nv = nc * segments;
    for (uint32_t g = 0; g < segments; g++) {
        uint64_t first = g * seg_rows + t0, n = src->n_samples;
        size_t have = first >= n ? 0 : n - first < nt ? (size_t)(n - first) : nt;
        if (have) ephys_view_load(src, first, have, c0, nc, scratch);
        for (size_t j = 0; j < nt; j++) {
            const int32_t *in = j < have ? scratch + j * nc : last;
            for (uint32_t c = 0; c < nc; c++) rows[j * nv + (size_t)c * segments + g] = in[c];
        }
    }
}

/* The analysis of a channel block's frame (rows, nt rows of nc S lanes): each
 * channel's offset and predictor, over its segments. */
static void fit_frame(const lpc_kernels_t *kern, const ephys_lpc_params_t *p, encoder_t *w, int first, size_t nt,
                      uint32_t nc, uint32_t segments, int dtype, double *r, int relative_headers)
{
    block_t *block = &w->block;
    uint32_t nv = nc * segments;
    const int32_t *rows = block->x + (size_t)HIST * nv;
    /* predictor per channel, fitted around the channel's mean: a constant
     * offset (the DC of a probe channel) would otherwise cost prediction */
    lpc_centre(block, first, nt, nv, segments, dtype, w->sums);
    kern->autocorr(rows, nt, nv, p->max_order, block->mean, r, (uint32_t *)w->e);
    memset(block->coef, 0, (size_t)EPHYS_LPC_MAX_ORDER * nv * sizeof(int32_t));
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t v = c * segments;
        double rc[EPHYS_LPC_MAX_ORDER + 1];
        int32_t q[EPHYS_LPC_MAX_ORDER];
        for (int l = 0; l <= p->max_order; l++) {
            rc[l] = r[(size_t)l * nv + v];
            for (uint32_t g = 1; g < segments; g++) rc[l] += r[(size_t)l * nv + v + g];
        }
        int32_t prev_q[EPHYS_LPC_MAX_ORDER];
        int prev_order = c && relative_headers ? block->order[v - segments] : 0;
        for (int i = 0; i < prev_order; i++) prev_q[i] = block->coef[(size_t)i * nv + v - segments];
        int order = lpc_fit(rc, rows, nt, nv, v, segments, block->mean[v], p->max_order, p->coef_shift, q,
                            &w->coef_bits[c], c && relative_headers ? prev_q : NULL, prev_order);
        for (uint32_t g = 0; g < segments; g++) {
            block->order[v + g] = order;
            for (int i = 0; i < order; i++) block->coef[(size_t)i * nv + v + g] = q[i];
        }
    }
}

/* Version 7: a lane's history before the first frame is its first sample
 * where the channel's first samples (its segments') lie far from its offset d
 * against the size of its steps (wideband recordings: each start would
 * otherwise cost a residual as large as the signal), else d.  The starts of a
 * channel: 1 bit; if 1, 6 bits n, then each segment's zigzag(x0 - d) in n bits
 * (d: the first frame's, in the channel headers that follow). */
#define START_RATIO 16 /* mean |x0 - d| against the mean |x[t] - x[t-1]| where starts pay */
static void write_starts(bitwriter_t *bw, block_t *block, size_t nt, uint32_t nc, uint32_t segments)
{
    uint32_t nv = nc * segments;
    int32_t *rows = block->x + (size_t)HIST * nv;
    int64_t *steps = block->acc64; /* nv of scratch: each lane's steps, every 4th row */
    for (uint32_t v = 0; v < nv; v++) steps[v] = 0;
    for (size_t t = 1; t < nt; t += 4)
        for (uint32_t v = 0; v < nv; v++) {
            int64_t d = (int64_t)rows[t * nv + v] - rows[(t - 1) * nv + v];
            steps[v] += d < 0 ? -d : d;
        }
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t v = c * segments, zz[MAX_SEGMENTS], most = 0;
        double far = 0, all = 0;
        for (uint32_t g = 0; g < segments; g++) {
            zz[g] = zigzag(wrap32((int64_t)rows[v + g] - block->mean[v]));
            most = zz[g] > most ? zz[g] : most;
            far += fabs((double)rows[v + g] - block->mean[v]);
            all += (double)steps[v + g];
        }
        int use = far * (double)((nt + 2) / 4) > START_RATIO * all;
        bw_put(bw, (uint32_t)use, 1);
        if (!use) continue;
        int n = bit_length(most);
        bw_put(bw, (uint32_t)n, 6);
        for (uint32_t g = 0; g < segments; g++) {
            if (n) bw_put(bw, zz[g], n);
            for (size_t t = 0; t < HIST; t++) block->x[t * nv + v + g] = rows[v + g];
        }
    }
}

/* Each channel's header of a frame: order, weights, offset d, neighbour gain.
 * Version 8: a channel after the first says in 1 bit each whether its order is
 * the previous channel's, its weights are coded as differences from the
 * previous channel's, and its d as the difference from the previous one's
 * (the channels of a probe share spectra and offsets). */
static void write_channel_headers(bitwriter_t *bw, const encoder_t *w, uint32_t nc, uint32_t segments, int m,
                                  int version)
{
    const block_t *block = &w->block;
    uint32_t nv = nc * segments;
    for (uint32_t c = 0; c < nc; c++) {
        uint32_t v = c * segments, prev = v - segments;
        int order = block->order[v], related = version >= 8 && c > 0;
        if (related) bw_put(bw, order == block->order[prev], 1);
        if (!related || order != block->order[prev]) bw_put(bw, (uint32_t)order, 6);
        if (order) {
            int bits = w->coef_bits[c], diff_bits = 0; /* 0: every difference zero */
            for (int i = 0; related && i < order; i++) {
                int64_t diff = (int64_t)block->coef[(size_t)i * nv + v] - block->coef[(size_t)i * nv + prev];
                int b = diff ? signed_bits(diff) : 0;
                diff_bits = b > diff_bits ? b : diff_bits;
            }
            int diff = related && diff_bits < bits && diff_bits < 16;
            if (related) bw_put(bw, (uint32_t)diff, 1);
            bw_put(bw, (uint32_t)(diff ? diff_bits : bits - 1), 4);
            for (int i = 0; i < order && (!diff || diff_bits); i++) {
                int32_t a = block->coef[(size_t)i * nv + v];
                if (diff) bw_signed(bw, a - block->coef[(size_t)i * nv + prev], diff_bits);
                else bw_signed(bw, a, bits);
            }
        }
        int32_t d = block->mean[v], dd = related ? (int32_t)((int64_t)d - block->mean[prev]) : 0;
        int relative = related && bit_length(zigzag(dd)) < bit_length(zigzag(d));
        if (related) bw_put(bw, (uint32_t)relative, 1);
        write_mean(bw, relative ? dd : d);
        if (m && c > 0) {
            bw_put(bw, block->gain[v] != 0, 1);
            if (block->gain[v]) bw_signed(bw, block->gain[v], GAIN_BITS);
        }
    }
}

static int encode_stream(const ephys_lpc_params_t *p, uint32_t segments, const ephys_view_t *src, uint64_t c0,
                         uint32_t nc, ephys_buf_t *out, int *ans_pays)
{
    const lpc_kernels_t *kern = lpc_kernels();
    uint32_t nv = nc * segments;
    size_t n = segment_rows(src->n_samples, segments), frame = (size_t)1 << p->frame_log2;
    size_t part = (size_t)1 << p->partition_log2, fl = n < frame ? n : frame;
    int near = p->max_error > 0, m = nc > 1 ? p->neighbours : 0;
    int32_t lo, hi;
    dtype_range(src->dtype, &lo, &hi);
    uint8_t header[STREAM_HEADER];
    ephys_lpc_params_t hp = *p;
    hp.neighbours = m;
    int ans_max_rice = p->capped ? p->ans_max_rice : -1;
    write_header(header, &hp, src->dtype, src->n_samples, nc, segments, ans_max_rice >= 0);
    size_t at = out->len;
    int err = ephys_buf_append(out, header, sizeof(header));
    if (err) return err;
    encoder_t w;
    if ((err = encoder_alloc(&w, fl, fl < part ? fl : part, nv, segments, near))) return err;
    block_t *block = &w.block;
    double *r = malloc((size_t)(p->max_order + 1) * nv * sizeof(double));
    lpc_dictionary_t *dict = calloc(nc, sizeof(lpc_dictionary_t)), *lanes = calloc(nv, sizeof(lpc_dictionary_t));
    int32_t *last = malloc(nc * sizeof(int32_t));
    if (!r || !dict || !lanes || !last) err = EPHYS_ERR_NOMEM;
    bitwriter_t bw = {out, 0, 0, 0}; /* after the header */
    /* lossless only: on a grid or a dictionary, an error bound on y would not bound x */
    int grids = !err && !near && lpc_find_grids(src, c0, nc, w.e, fl, block->scale, block->base), dictionaries = 0;
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
    for (uint32_t v = nv; v-- > 0 && !err;) { /* each channel's map to its lanes (from the last: in place) */
        block->scale[v] = block->scale[v / segments];
        block->base[v] = block->base[v / segments];
        lanes[v] = dict[v / segments];
    }
    if (!err && segments > 1) ephys_view_load(src, src->n_samples - 1, 1, c0, nc, last);
    for (size_t t0 = 0; !err && t0 < n; t0 += frame) {
        size_t nt = n - t0 < frame ? n - t0 : frame;
        int32_t *rows = block->x + (size_t)HIST * nv;
        if (segments > 1)
            load_segments(src, c0, nc, segments, n, t0, nt, last, w.e, rows);
        else
            ephys_view_load(src, t0, nt, c0, nc, rows);
        if (grids) lpc_to_grid(rows, nt, nv, block->scale, block->base);
        if (dictionaries) lpc_to_dictionary(rows, nt, nv, lanes);
        if (near) memcpy(w.orig, rows, nt * nv * sizeof(int32_t));
        fit_frame(kern, p, &w, t0 == 0, nt, nc, segments, src->dtype, r, ans_max_rice >= 0);
        if (t0 == 0) write_starts(&bw, block, nt, nc, segments); /* before the first frame's headers */
        int wide, top = lpc_frame_setup(block, nv, src->dtype, p->coef_shift, &wide);
        if (near)
            kern->near(rows, nt, nv, block->coef, top, p->coef_shift, lo, hi, &block->init, block->acc64, w.e, w.orig,
                       2 * (int64_t)p->max_error + 1);
        else
            kern->residual(rows, nt, nv, block->coef, top, p->coef_shift, wide, lo, hi, &block->init, block->acc64,
                           w.e);
        if ((err = kern->fit_gains(w.e, nt, nv, m, segments, block->gain, w.nsum))) break;
        kern->code_rows(w.e, nt, nv, m, segments, block->gain, w.nsum);
        write_channel_headers(&bw, &w, nc, segments, m, header[0]);
        /* partition by partition, so that a decoder works on a few rows of
         * every channel at a time */
        for (size_t ps = 0; ps < nt; ps += part)
            write_partition(&bw, kern, w.e + ps * nv, nt - ps < part ? nt - ps : part, nc, segments, &w, p->capped,
                            ans_max_rice);
        if (bw.err) err = bw.err;
        lpc_frame_shift_history(block, nt, nv);
    }
    if (!err) {
        bw_finish(&bw);
        err = bw.err;
    }
    if (!err && ans_max_rice >= 0) err = insert_ans_area(&w.ans, out, at);
    /* whether rANS saved more than its states cost (32 bits each) */
    *ans_pays = !w.ans.n || w.ans_saving > (uint64_t)(32 * ANS_LANES) << ans_log2_groups(w.ans.n);
    free(r);
    free(last);
    free(lanes);
    for (uint32_t c = 0; dict && c < nc; c++) lpc_dictionary_free(&dict[c]);
    free(dict);
    encoder_free(&w);
    return err;
}

/* With a second partition length, weight precision, frame length or
 * segmentation, the block is coded with each combination and the shortest
 * stream kept (its header names them all). */
int lpc_encode_block(const void *params, const ephys_view_t *src, uint64_t c0, uint32_t nc, ephys_buf_t *out)
{
    ephys_lpc_params_t block_params = *(const ephys_lpc_params_t *)params;
    const ephys_lpc_params_t *p = &block_params;
    size_t at = out->len;
    int is_smooth = smooth(src, c0, nc);
    /* smooth signals (LFP, wideband) may swing in amplitude within a long
     * partition: shorter ones are tried too where no second length is */
    if (is_smooth && !block_params.alt_partition_log2 && block_params.partition_log2 > SMOOTH_PARTITION_LOG2)
        block_params.alt_partition_log2 = SMOOTH_PARTITION_LOG2;
    const uint32_t segments[2] = {choose_segments(src, c0, nc, is_smooth), 1};
    int ans_pays;
    int err = encode_stream(p, segments[0], src, c0, nc, out, &ans_pays);
    /* a short stream may save less by rANS than its states cost: also coded without */
    if (!err && !ans_pays) {
        ephys_lpc_params_t rice = *p;
        rice.ans_max_rice = -1;
        ephys_buf_t other = {0};
        err = encode_stream(&rice, segments[0], src, c0, nc, &other, &ans_pays);
        if (!err && other.len < out->len - at) {
            out->len = at;
            err = ephys_buf_append(out, other.data, other.len);
        }
        free(other.data);
    }
    const int partitions[2] = {p->partition_log2, p->alt_partition_log2};
    const int shifts[2] = {p->coef_shift, p->alt_coef_shift}, frames[2] = {p->frame_log2, p->alt_frame_log2};
    const int cuts[2] = {1, p->alt_segments && segments[0] > 1};
    for (int i = 1; i < 16 && !err; i++) { /* i = 0: the first stream, coded above */
        if (!partitions[i & 1] || !shifts[(i >> 1) & 1] || !frames[(i >> 2) & 1] || !cuts[i >> 3]) continue;
        ephys_lpc_params_t alt = *p;
        alt.partition_log2 = partitions[i & 1];
        alt.coef_shift = shifts[(i >> 1) & 1];
        alt.frame_log2 = frames[(i >> 2) & 1];
        ephys_buf_t other = {0};
        err = encode_stream(&alt, segments[i >> 3], src, c0, nc, &other, &ans_pays);
        if (!err && other.len < out->len - at) {
            out->len = at;
            err = ephys_buf_append(out, other.data, other.len);
        }
        free(other.data);
    }
    return err;
}
