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

#define CHANNEL_PROBE 2048 /* values of one channel a grid of its own is looked for on */
#define FEW_LEVELS 8        /* distinct values below which find_grid sees no step */
#define MIN_ON_GRID 0.6 /* fraction of the probe the grid must give back exactly */
#define ULP_SCAN 64     /* ulps around a channel's least-squares step that ulp_scan tries */

/* ---- finding a grid ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* d rounded to `digits` significant decimal digits (gains and offsets are
 * short decimals: 0.195, 2.34375, 0.0371). */
static double decimal_text(double d, int digits)
{
    char s[64];
    snprintf(s, sizeof s, "%.*g", digits, d);
    return strtod(s, NULL);
}

/* The same without the text, for the many candidates of one channel's
 * search (fast): the integer nearest d x 10^p (exact below 2^53), then one
 * correctly rounded division or multiplication by an exact power of ten,
 * which is the double nearest the decimal, as strtod gives; only the
 * rounding of d x 10^p may pick the other integer at a near tie. */
static double decimal(double d, int digits, int fast)
{
    static const double ten[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (!fast || !(d != 0) || !isfinite(d)) return decimal_text(d, digits);
    int p = digits - 1 - (int)floor(log10(fabs(d)));
    if (p < -22 || p > 22) return decimal_text(d, digits);
    double m = nearbyint(p >= 0 ? d * ten[p] : d / ten[-p]);
    if (!(fabs(m) < 9007199254740992.0)) return decimal_text(d, digits);
    return p >= 0 ? m / ten[p] : m * ten[-p];
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
        double k = floor((u[i] - anchor) / step + 0.5), p = k * step;
        if (f->arith == ARITH_FLOAT) p = (float)p; /* the product as recon_bits rounds it */
        double o = u[i] - p;
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

/* How many of the probe's samples (distinct values u, each seen mult times;
 * one in stride of them) the grid gives back. */
static size_t exact_count(const fmt_t *f, const double *u, const uint64_t *ubits, const uint32_t *mult, size_t n,
                          size_t stride, double step, double offset)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i += stride) {
        double kd = floor((u[i] - offset) / step + 0.5);
        if (!(fabs(kd) < MAX_K)) continue;
        if (recon_bits(f, step, offset, (int32_t)kd) == ubits[i]) hits += mult[i];
    }
    return hits;
}

/* Offsets at the grid points near base (m = -32..32 steps of each of the
 * steps): their short decimals; far (one channel's grid): also longer
 * decimals, float32 values, and grid points a power of two steps away (an
 * unsigned converter's mid-scale: -32768 x 0.195 uV), each screened on one
 * in nu / 16 of the distinct values first.  The best count of hits, with
 * *step_out, *offset_out set where it grew. */
static size_t offset_search(const fmt_t *f, const double *u, const uint64_t *ub, const uint32_t *mult, size_t nu,
                            const double *steps, const double *bases, int n_steps, int far, size_t best,
                            size_t enough, double *step_out, double *offset_out)
{
    size_t stride = far ? (nu + 15) / 16 : 1, screen = 0;
    for (size_t i = 0; i < nu; i += stride) screen += mult[i];
    for (int s = 0; s < n_steps && best < enough; s++) {
        for (int i = 0; i < (far ? 65 + 34 : 65) && best < enough; i++) {
            /* far: the nearest grid points first (0, 1, -1, 2, ...) */
            double m = i >= 65 ? ldexp(i % 2 ? -1.0 : 1.0, 6 + (i - 65) / 2)
                       : far   ? (i + 1) / 2 * (i % 2 ? 1.0 : -1.0)
                               : i - 32;
            double step = steps[s], point = bases[s] + m * step;
            double offsets[16];
            int no = 0;
            for (int digits = 2; digits <= (far ? 7 : 4); digits++) {
                double d = decimal(point, digits, far);
                offsets[no++] = d;
                if (far) offsets[no++] = (double)(float)d; /* a float32 offset_to_uV */
            }
            if (far) offsets[no++] = (double)(float)point;
            for (int j = 0; j < no && best < enough; j++) {
                int again = 0; /* a decimal of more digits is often the same number */
                for (int i2 = 0; i2 < j && far; i2++) again |= offsets[i2] == offsets[j];
                if (!isfinite(offsets[j]) || again) continue;
                if (stride > 1 && (double)exact_count(f, u, ub, mult, nu, stride, step, offsets[j]) <
                                      MIN_ON_GRID * (double)screen)
                    continue;
                size_t hits = exact_count(f, u, ub, mult, nu, 1, step, offsets[j]);
                if (hits > best) best = hits, *step_out = step, *offset_out = offsets[j];
            }
        }
    }
    return best;
}

/* Steps within ULP_SCAN ulps of s (nearest first), each with the offsets a
 * writer computes from the gain itself, exact in binary: 0, and an unsigned
 * converter's mid-scale, -2^15 or -2^16 steps (uint16 counts x gain - 32768 x
 * gain).  Calibrated gains are no short decimals, and values that come from
 * subtracting nearly equal terms are rounded at the terms' magnitude, which
 * leaves the least-squares step some ulps away from the gain.  Each
 * candidate is screened on one in nu / 16 of the distinct values first. */
static size_t ulp_scan(const fmt_t *f, const double *u, const uint64_t *ub, const uint32_t *mult, size_t nu, double s,
                       size_t best, size_t enough, double *step_out, double *offset_out)
{
    size_t stride = (nu + 15) / 16, screen = 0;
    for (size_t i = 0; i < nu; i += stride) screen += mult[i];
    double up = s, down = s;
    for (int a = 0; a <= ULP_SCAN && best < enough; a++) {
        for (int side = 0; side < (a ? 2 : 1) && best < enough; side++) {
            double step = !a ? s : side ? (down = nextafter(down, 0.0)) : (up = nextafter(up, HUGE_VAL));
            for (int p = 0; p < 3 && best < enough; p++) {
                double offset = p ? -ldexp(step, 14 + p) : 0.0;
                if ((double)exact_count(f, u, ub, mult, nu, stride, step, offset) < MIN_ON_GRID * (double)screen)
                    continue;
                size_t hits = exact_count(f, u, ub, mult, nu, 1, step, offset);
                if (hits > best) best = hits, *step_out = step, *offset_out = offset;
            }
        }
    }
    return best;
}

/* The exact grid near step s0 that gives back the most probe samples
 * (their count; *step, *offset set when any): least squares for the step,
 * then its float and short decimal neighbours (writers' gains: 0.195 as a
 * float32, 2.34375), each with the offset most samples agree on and its
 * short decimals. */
static size_t try_step(const fmt_t *f, const double *u, const uint64_t *ub, const uint32_t *mult, size_t nu, size_t n,
                       double s0, interval_t *iv, int far, double *step_out, double *offset_out)
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
    size_t half = 0, median = 0; /* the values' median: counts centred on 0 put the offset there */
    while (median + 1 < nu && (half += mult[median]) < n / 2) median++;
    /* offsets anchored at the grid point nearest 0, and for one float32
     * channel's grid (SpikeInterface's scaled traces: a float32 offset_to_uV
     * of each channel's own) at the one nearest the median */
    double anchors[2] = {a - s * floor(a / s + 0.5), a - s * floor((a - u[median]) / s + 0.5)};
    double steps[16];
    int n_steps = 0;
    steps[n_steps++] = s;
    steps[n_steps++] = (double)(float)s;
    for (int digits = 3; digits <= 9; digits++) steps[n_steps++] = decimal(s, digits, far);
    size_t best = 0, enough = n - n / 64; /* good enough: samples nudged off the grid are exceptions anyway */
    int anchored = far && f->bits == 32 ? 2 : 1;
    for (int i = 0; i < n_steps * anchored && best < enough; i++) {
        double step = steps[i % n_steps], offsets[20];
        if (!(step > 0) || !isfinite(step)) continue;
        int no = 0;
        offsets[no++] = 0.0;
        offsets[no++] = best_offset(f, u, mult, nu, step, anchors[i / n_steps], iv);
        offsets[no++] = (double)(float)offsets[1];
        for (int digits = 1; digits <= 8; digits++) {
            double d = decimal(offsets[1], digits, far);
            offsets[no++] = d;
            if (far && digits >= 3 && f->bits == 32) offsets[no++] = (double)(float)d; /* a float32 offset_to_uV */
        }
        for (int j = 0; j < no && best < enough; j++) {
            if (!isfinite(offsets[j])) continue;
            size_t hits = exact_count(f, u, ub, mult, nu, 1, step, offsets[j]);
            if (hits > best) best = hits, *step_out = step, *offset_out = offsets[j];
        }
    }
    /* the writer's offset is a short decimal at some grid point, which in
     * float64 (or where the product is rounded first: ARITH_FLOAT) no other
     * grid point's offset replaces exactly */
    double likely[6], bases[6]; /* the first loop's grid, then pairs of steps */
    int n_likely = 0;
    if (best) likely[n_likely] = *step_out, bases[n_likely++] = *offset_out;
    if (far) { /* and the shortest decimal steps that the values allow (float32 ones too), at their grid point
                * nearest the values' median (counts centred on 0 put the offset there); the values' rounding
                * makes the least squares step inexact */
        double maxabs = fabs(u[0]) > fabs(u[nu - 1]) ? fabs(u[0]) : fabs(u[nu - 1]);
        double tol = s * (4 * ldexp(1.0, ilogb(maxabs > 0 ? maxabs : 1.0) - (f->mant - 1)) / (u[nu - 1] - u[0]) + 1e-9);
        for (int digits = 3; digits <= 9 && n_likely + 2 <= 6; digits++) {
            double d = decimal(s, digits, far);
            if (!(fabs(d - s) <= tol) || !(d > 0)) continue;
            for (int fl = 0; fl < 2; fl++) {
                double step = fl ? (double)(float)d : d, at = u[0] + mu - step * mk;
                double zero_point = at - step * floor(at / step + 0.5);
                likely[n_likely] = step;
                bases[n_likely++] = zero_point + step * floor((u[median] - zero_point) / step + 0.5);
            }
        }
    }
    if (best < enough && (best || far))
        best = offset_search(f, u, ub, mult, nu, likely, bases, n_likely, far, best, enough, step_out, offset_out);
    if (best < enough && far) best = ulp_scan(f, u, ub, mult, nu, s, best, enough, step_out, offset_out);
    return best;
}

/* A grid (step, offset) on which at least MIN_ON_GRID of up to `probe`
 * (far: one channel's, with try_step's wider search for the offset)
 * finite samples of the block come back exactly; 0 if none. */
static int grid_search(const fmt_t *f, const uint64_t *raw, size_t count, size_t probe, int far, double *step_out,
                       double *offset_out, size_t *missed)
{
    size_t n = 0;
    if (probe > count) probe = count;
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
     * float) say nothing about the grid: they are exceptions anyway; in one
     * channel's few values, nor do values far below it (a zero, a subnormal:
     * one gap that is no multiple of the step would hide the grid) */
    for (size_t i = 0; i < nu; i++) d[i] = fabs(u[i]);
    qsort(d, nu, sizeof(double), cmp_double);
    double typical = d[nu / 2] > DBL_MIN ? d[nu / 2] : DBL_MIN, limit = ldexp(typical, 20);
    double low = far ? ldexp(typical, -20) : 0;
    size_t kept = 0;
    for (size_t i = 0; i < nu; i++)
        if (fabs(u[i]) <= limit && (!far || fabs(u[i]) >= low)) u[kept] = u[i], mult[kept++] = mult[i];
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
        best = try_step(f, u, ub, mult, nu, n, trial, iv, far && parts == 1, step_out, offset_out); /* far: once */
    }
    found = (double)best >= MIN_ON_GRID * (double)n;
    if (missed) *missed = n - best;
done:
    free(iv);
    free(mult);
    free(u);
    free(ub);
    free(d);
    return found;
}

int ephys_float_find_grid(const fmt_t *f, const uint64_t *raw, size_t count, size_t probe, double *step_out,
                          double *offset_out, size_t *missed)
{
    return grid_search(f, raw, count, probe, 0, step_out, offset_out, missed);
}

/* A channel of at most FEW_LEVELS distinct finite values (a constant, a
 * digital line, an all-NaN channel): their smallest gap as step (1 for one
 * value or none), the smallest as offset, if that gives back MIN_ON_GRID of
 * the finite samples; 0 otherwise. */
static int few_levels(const fmt_t *f, const uint64_t *col, size_t n, double *step_out, double *offset_out,
                      size_t *missed)
{
    double u[FEW_LEVELS];
    size_t nu = 0, finite = 0, hits = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_finite(f, col[i])) continue;
        double v = value_of(f, col[i]);
        size_t j = 0;
        while (j < nu && u[j] != v) j++;
        if (j == nu) {
            if (nu == FEW_LEVELS) return 0;
            u[nu++] = v;
        }
        finite++;
    }
    qsort(u, nu, sizeof(double), cmp_double);
    double step = 1.0, offset = nu ? u[0] : 0.0;
    for (size_t j = 1; j < nu; j++)
        if (j == 1 || u[j] - u[j - 1] < step) step = u[j] - u[j - 1];
    if (!(step > 0) || !isfinite(step)) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_finite(f, col[i])) continue;
        double kd = floor((value_of(f, col[i]) - offset) / step + 0.5);
        hits += fabs(kd) < MAX_K && recon_bits(f, step, offset, (int32_t)kd) == col[i];
    }
    if ((double)hits < MIN_ON_GRID * (double)finite) return 0;
    *missed = finite - hits;
    *step_out = step;
    *offset_out = offset;
    return 1;
}

int ephys_float_find_channel_grids(const fmt_t *f, const uint64_t *raw, uint64_t n, uint32_t nc, uint32_t upto,
                                   double *steps, double *offsets, size_t *missed)
{
    size_t probe = n < CHANNEL_PROBE ? (size_t)n : CHANNEL_PROBE;
    uint64_t *col = malloc((probe ? probe : 1) * sizeof(uint64_t));
    int all = col != NULL, levels = 1;
    *missed = 0;
    for (uint32_t c = 0; c < nc && c < upto && all; c++) {
        size_t off = 0, finite = 0, hits = 0;
        for (size_t i = 0; i < probe; i++) col[i] = raw[(uint64_t)i * n / probe * nc + c];
        /* the previous channel's grid, where it gives back every sample (a gain or offset shared by neighbours) */
        for (size_t i = 0; i < probe && c; i++) {
            if (!is_finite(f, col[i])) continue;
            double kd = floor((value_of(f, col[i]) - offsets[c - 1]) / steps[c - 1] + 0.5);
            finite++;
            hits += fabs(kd) < MAX_K && recon_bits(f, steps[c - 1], offsets[c - 1], (int32_t)kd) == col[i];
        }
        if (c && finite && hits == finite) {
            steps[c] = steps[c - 1], offsets[c] = offsets[c - 1];
            continue;
        }
        int few = few_levels(f, col, probe, &steps[c], &offsets[c], &off);
        levels &= few;
        all = few || grid_search(f, col, probe, probe, 1, &steps[c], &offsets[c], &off);
        *missed += off;
    }
    free(col);
    return all ? 1 + levels : 0;
}
