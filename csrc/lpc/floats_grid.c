/* EphysLPC float streams: finding the grid that scaled traces sit on (the
 * step and offset of the grid and bounded modes; floats.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floats_stream.h"

#define GRID_PROBE 4096 /* values a grid is looked for on */
#define MIN_ON_GRID 0.6 /* fraction of the probe the grid must give back exactly */

/* ---- finding a grid ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* d rounded to `digits` significant decimal digits (gains and offsets are
 * short decimals: 0.195, 2.34375, 0.0371). */
static double decimal(double d, int digits)
{
    char s[64];
    snprintf(s, sizeof s, "%.*g", digits, d);
    return strtod(s, NULL);
}

typedef struct {
    double at;
    int64_t weight; /* + at an interval's start, - at its end */
} interval_t;

static int cmp_interval(const void *a, const void *b)
{
    const interval_t *x = a, *y = b;
    if (x->at != y->at) return (x->at > y->at) - (x->at < y->at);
    return (x->weight < y->weight) - (x->weight > y->weight); /* starts first: touching intervals overlap */
}

/* The offset that the most probe samples agree on, for this step: each value
 * u, as index k, is given back by any offset within half its ulp of u - k
 * step, so the offset covered by the most such intervals (weighted by the
 * samples) is chosen: the writer's offset up to far less than an ulp, which
 * least squares would miss by the rounding of the values. */
static double best_offset(const fmt_t *f, const double *u, const uint32_t *mult, size_t nu, double step, double anchor,
                          interval_t *iv)
{
    for (size_t i = 0; i < nu; i++) {
        double k = floor((u[i] - anchor) / step + 0.5), o = u[i] - k * step;
        double half = 0.499 * ldexp(1.0, ilogb(u[i] != 0 ? u[i] : 1.0) - (f->mant - 1));
        if (u[i] == 0) half = 0;
        iv[2 * i] = (interval_t){o - half, (int64_t)mult[i]};
        iv[2 * i + 1] = (interval_t){o + half, -(int64_t)mult[i]};
    }
    qsort(iv, 2 * nu, sizeof(interval_t), cmp_interval);
    int64_t cover = 0, most = -1;
    double best = anchor;
    for (size_t i = 0; i + 1 < 2 * nu; i++) {
        cover += iv[i].weight;
        if (cover > most) most = cover, best = 0.5 * (iv[i].at + iv[i + 1].at);
    }
    return best;
}

/* How many of the probe's samples (distinct values u, each seen mult times) the grid gives back. */
static size_t exact_count(const fmt_t *f, const double *u, const uint64_t *ubits, const uint32_t *mult, size_t n,
                          double step, double offset)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        double kd = floor((u[i] - offset) / step + 0.5);
        if (!(fabs(kd) < MAX_K)) continue;
        if (recon_bits(f, step, offset, (int32_t)kd) == ubits[i]) hits += mult[i];
    }
    return hits;
}

/* The exact grid near step s0 that gives back the most probe samples
 * (their count; *step, *offset set when any): least squares for the step,
 * then its float and short decimal neighbours (writers' gains: 0.195 as a
 * float32, 2.34375), each with the offset most samples agree on and its
 * short decimals. */
static size_t try_step(const fmt_t *f, const double *u, const uint64_t *ub, const uint32_t *mult, size_t nu, size_t n,
                       double s0, interval_t *iv, double *step_out, double *offset_out)
{
    double mk = 0, mu = 0, skk = 0, sku = 0;
    for (size_t i = 0; i < nu; i++) mk += floor((u[i] - u[0]) / s0 + 0.5), mu += u[i] - u[0];
    mk /= (double)nu, mu /= (double)nu;
    for (size_t i = 0; i < nu; i++) {
        double k = floor((u[i] - u[0]) / s0 + 0.5) - mk;
        skk += k * k, sku += k * (u[i] - u[0] - mu);
    }
    double s = skk > 0 ? sku / skk : s0;
    double a = u[0] + mu - s * mk; /* the value at index 0 */
    if (!(s > 0) || !isfinite(s) || !isfinite(a)) return 0;
    double zero = a - s * floor(a / s + 0.5); /* the grid point nearest 0 */
    double steps[16];
    int n_steps = 0;
    steps[n_steps++] = s;
    steps[n_steps++] = (double)(float)s;
    for (int digits = 3; digits <= 9; digits++) steps[n_steps++] = decimal(s, digits);
    size_t best = 0, enough = n - n / 64; /* good enough: samples nudged off the grid are exceptions anyway */
    for (int i = 0; i < n_steps && best < enough; i++) {
        double step = steps[i], offsets[16];
        if (!(step > 0) || !isfinite(step)) continue;
        int no = 0;
        offsets[no++] = 0.0;
        offsets[no++] = best_offset(f, u, mult, nu, step, zero, iv);
        offsets[no++] = (double)(float)offsets[1];
        for (int digits = 1; digits <= 8; digits++) offsets[no++] = decimal(offsets[1], digits);
        for (int j = 0; j < no && best < enough; j++) {
            if (!isfinite(offsets[j])) continue;
            size_t hits = exact_count(f, u, ub, mult, nu, step, offsets[j]);
            if (hits > best) best = hits, *step_out = step, *offset_out = offsets[j];
        }
    }
    /* the writer's offset is a short decimal at some grid point, which in
     * float64 no other grid point's offset replaces exactly */
    double step = *step_out, base = best ? *offset_out : zero;
    for (int m = -32; m <= 32 && best && best < enough; m++)
        for (int digits = 2; digits <= 4 && best < enough; digits++) {
            double offset = decimal(base + m * step, digits);
            size_t hits = isfinite(offset) ? exact_count(f, u, ub, mult, nu, step, offset) : 0;
            if (hits > best) best = hits, *offset_out = offset;
        }
    return best;
}

/* A grid (step, offset) on which at least MIN_ON_GRID of up to GRID_PROBE
 * finite samples of the block come back exactly; 0 if none. */
int ephys_float_find_grid(const fmt_t *f, const uint64_t *raw, size_t count, double *step_out, double *offset_out)
{
    size_t probe = count < GRID_PROBE ? count : GRID_PROBE, n = 0;
    double *u = malloc((probe ? probe : 1) * sizeof(double));
    uint64_t *ub = malloc((probe ? probe : 1) * sizeof(uint64_t));
    double *d = malloc((probe ? probe : 1) * sizeof(double));
    uint32_t *mult = malloc((probe ? probe : 1) * sizeof(uint32_t));
    interval_t *iv = malloc((probe ? probe : 1) * 2 * sizeof(interval_t));
    int found = 0;
    if (!u || !ub || !d || !mult || !iv) goto done;
    for (size_t i = 0; i < probe; i++) {
        uint64_t b = raw[(size_t)((double)i * (double)count / (double)probe)];
        if (is_finite(f, b)) u[n++] = value_of(f, b);
    }
    qsort(u, n, sizeof(double), cmp_double);
    size_t nu = 0;
    for (size_t i = 0; i < n; i++) {
        if (nu && u[i] == u[nu - 1]) {
            mult[nu - 1]++;
            continue;
        }
        mult[nu] = 1;
        u[nu++] = u[i];
    }
    /* values far beyond the typical magnitude (a huge outlier, the largest
     * float) say nothing about the grid: they are exceptions anyway */
    for (size_t i = 0; i < nu; i++) d[i] = fabs(u[i]);
    qsort(d, nu, sizeof(double), cmp_double);
    double typical = d[nu / 2] > DBL_MIN ? d[nu / 2] : DBL_MIN, limit = ldexp(typical, 20);
    size_t kept = 0;
    for (size_t i = 0; i < nu; i++)
        if (fabs(u[i]) <= limit) u[kept] = u[i], mult[kept++] = mult[i];
    nu = kept;
    if (nu < 8) goto done;
    for (size_t i = 0; i < nu; i++) ub[i] = bits_of(f, u[i]);
    double maxabs = fabs(u[0]) > fabs(u[nu - 1]) ? fabs(u[0]) : fabs(u[nu - 1]);
    /* differences of a few ulps are nudges off the grid, not its step */
    double floor_gap = ldexp(16.0, ilogb(maxabs) - (f->mant - 1));
    double dmin = HUGE_VAL;
    size_t nd = 0;
    for (size_t i = 1; i < nu; i++) {
        double g = u[i] - u[i - 1];
        if (g > floor_gap) {
            d[nd++] = g;
            if (g < dmin) dmin = g;
        }
    }
    if (nd < 4) goto done;
    double sum = 0;
    size_t ns = 0;
    for (size_t i = 0; i < nd; i++)
        if (d[i] < 1.5 * dmin) sum += d[i], ns++;
    /* the step: the smallest gap, or a fraction of it where the values skip
     * grid points (a gappy grid: converter levels 24.04 steps apart, whose
     * own spacing is no exact grid) */
    size_t best = 0;
    for (int parts = 1; parts <= 64 && (double)best < MIN_ON_GRID * (double)n; parts++) {
        double trial = (parts == 1 ? sum / (double)ns : dmin) / parts;
        size_t multiples = 0;
        for (size_t i = 0; i < nd; i++) multiples += fabs(d[i] / trial - floor(d[i] / trial + 0.5)) < 0.01;
        /* nearly all: a gappy grid's spacing fits 24 of 25 gaps (and the
         * values off any grid, a few) */
        if (multiples < 0.98 * (double)nd || !((u[nu - 1] - u[0]) / trial < MAX_K)) continue;
        best = try_step(f, u, ub, mult, nu, n, trial, iv, step_out, offset_out);
    }
    found = (double)best >= MIN_ON_GRID * (double)n;
done:
    free(iv);
    free(mult);
    free(u);
    free(ub);
    free(d);
    return found;
}
