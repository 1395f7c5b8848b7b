/* One instruction set's kernels, compiled from the bodies of kernel_bodies.h.
 * Included once per set (no include guard), after defining:
 *   KERNEL_ISA          the suffix of the names: residual_scalar, residual_avx2...
 *   KERNEL_TARGET       the function attribute of the sample loops
 *   KERNEL_BITS_TARGET  the function attribute of the decoder's bit parsing
 *   KERNEL_INTRINSICS   (optional) the set writes transpose, rice_parameter,
 *                       cap_split, write_lows, write_unary, lows_column,
 *                       capped_fields and capped_column with intrinsics
 *                       itself; otherwise they and the table KERNEL_NAME(kernels)
 *                       are made here too. */
#define KERNEL_JOIN(name, isa) name##_##isa
#define KERNEL_EXPAND(name, isa) KERNEL_JOIN(name, isa)
#define KERNEL_NAME(name) KERNEL_EXPAND(name, KERNEL_ISA)

KERNEL_TARGET static void KERNEL_NAME(residual)(const int32_t *x, size_t nt, uint32_t nc, const int32_t *coef,
                                                int order, int shift, int wide, int32_t lo, int32_t hi,
                                                const acc_init_t *init, int64_t *acc64, int32_t *e)
{
    residual_body(x, nt, nc, coef, order, shift, wide, lo, hi, init, acc64, e);
}

KERNEL_TARGET static int KERNEL_NAME(synth)(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order,
                                            int shift, int wide, int32_t lo, int32_t hi, const acc_init_t *init,
                                            int32_t *flags, int64_t *acc64, const int32_t *e)
{
    return synth_body(x, nt, nc, coef, order, shift, wide, lo, hi, init, flags, acc64, e);
}

KERNEL_TARGET static void KERNEL_NAME(near)(int32_t *x, size_t nt, uint32_t nc, const int32_t *coef, int order,
                                            int shift, int32_t lo, int32_t hi, const acc_init_t *init,
                                            int64_t *acc64, int32_t *q, const int32_t *orig, int64_t step)
{
    near_body(x, nt, nc, coef, order, shift, lo, hi, init, acc64, q, orig, step);
}

KERNEL_TARGET static void KERNEL_NAME(autocorr)(const int32_t *x, size_t nt, uint32_t nc, int order,
                                                const int32_t *d, double *r, uint32_t *scratch)
{
    (void)scratch;
    autocorr_body(x, nt, nc, order, d, r);
}

KERNEL_TARGET static int KERNEL_NAME(fit_gains)(const int32_t *e, size_t nt, uint32_t nc, int m, uint32_t width,
                                                int32_t *gain, uint32_t *sums)
{
    return fit_gains_body(e, nt, nc, m, width, gain, sums);
}

KERNEL_TARGET static void KERNEL_NAME(code_rows)(int32_t *e, size_t nt, uint32_t nc, int m, uint32_t width,
                                                 const int32_t *gain, uint32_t *sums)
{
    code_rows_body(e, nt, nc, m, width, gain, sums);
}

KERNEL_TARGET static void KERNEL_NAME(cap_costs)(const uint32_t *u, size_t n, int r, uint32_t *bits)
{
    cap_costs_body(u, n, r, bits);
}

KERNEL_TARGET static void KERNEL_NAME(column_residuals)(uint32_t *col, size_t pn, int32_t gain, uint32_t *sum,
                                                        const uint32_t *leaving, int m)
{
    column_residuals_body(col, pn, gain, sum, leaving, m);
}

KERNEL_TARGET static int KERNEL_NAME(from_grid)(const int32_t *y, size_t nt, uint32_t nc, const uint32_t *scale,
                                                const uint32_t *base, const int32_t *bounds, int32_t *x)
{
    return grid_body(y, nt, nc, scale, base, bounds, x);
}

KERNEL_BITS_TARGET static int KERNEL_NAME(unary_areas)(const uint8_t *buf, size_t len, uint64_t *pos_a,
                                                       uint32_t *qa, size_t na, uint64_t *pos_b, uint32_t *qb,
                                                       size_t nb)
{
    return unary_areas_body(buf, len, pos_a, qa, na, pos_b, qb, nb);
}

KERNEL_BITS_TARGET static int KERNEL_NAME(rice_lanes)(bitreader_t *r, const int *k, int32_t *out, size_t pn,
                                                      uint32_t nc)
{
    return rice_lanes_body(r, k, out, pn, nc);
}

#ifndef KERNEL_INTRINSICS
KERNEL_TARGET static void KERNEL_NAME(transpose)(const uint32_t *cm, size_t stride, size_t pn, uint32_t nc,
                                                 const uint32_t *cols, int32_t *e)
{
    transpose_body(cm, stride, pn, nc, cols, e);
}

KERNEL_TARGET static int KERNEL_NAME(rice_parameter)(const uint32_t *u, size_t n, uint64_t *unary_bits)
{
    return rice_parameter_body(u, n, unary_bits);
}

KERNEL_TARGET static size_t KERNEL_NAME(cap_split)(uint32_t *u, size_t pn, int k, int b, uint32_t *fields)
{
    return cap_split_body(u, pn, k, b, fields);
}

KERNEL_TARGET static void KERNEL_NAME(write_lows)(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    write_lows_body(w, u, count, k);
}

KERNEL_TARGET static void KERNEL_NAME(write_unary)(bitwriter_t *w, const uint32_t *u, size_t count, int k)
{
    write_unary_body(w, u, count, k);
}

KERNEL_BITS_TARGET static int KERNEL_NAME(lows_column)(const uint8_t *buf, size_t len, uint64_t lpos, int k,
                                                       const uint32_t *q, uint32_t *u, size_t pn, int32_t gain,
                                                       uint32_t *sum, const uint32_t *leaving, int m)
{
    if (join_lows_body(buf, len, lpos, k, q, u, pn)) return 1;
    column_residuals_body(u, pn, gain, sum, leaving, m);
    return 0;
}

KERNEL_BITS_TARGET static size_t KERNEL_NAME(capped_fields)(const uint8_t *buf, size_t len, uint64_t lpos, int k,
                                                            int b, uint32_t *col, size_t pn)
{
    return capped_fields_body(buf, len, lpos, k, b, col, pn);
}

KERNEL_BITS_TARGET static size_t KERNEL_NAME(ans_fields)(ans_decoder_t *d, const uint32_t *table,
                                                         const uint8_t *buf, size_t len, uint64_t lpos, int k,
                                                         uint32_t *col, size_t n)
{
    size_t at_cap = ans_symbols_body(d, table, col, n, 0);
    if (at_cap != SIZE_MAX) join_lows_body(buf, len, lpos, k, col, col, n); /* s < 32, k <= 20: no overflow */
    return at_cap;
}

KERNEL_BITS_TARGET static size_t KERNEL_NAME(capped_column)(uint32_t *col, size_t pn, int k, int b,
                                                            const uint32_t *unary, int32_t gain, uint32_t *sum,
                                                            const uint32_t *leaving, int m)
{
    size_t taken = add_unary_parts_body(col, pn, k, b, unary);
    column_residuals_body(col, pn, gain, sum, leaving, m);
    return taken;
}

static const lpc_kernels_t KERNEL_NAME(kernels) = {
    .residual = KERNEL_NAME(residual),
    .synth = KERNEL_NAME(synth),
    .near = KERNEL_NAME(near),
    .autocorr = KERNEL_NAME(autocorr),
    .fit_gains = KERNEL_NAME(fit_gains),
    .code_rows = KERNEL_NAME(code_rows),
    .transpose = KERNEL_NAME(transpose),
    .rice_parameter = KERNEL_NAME(rice_parameter),
    .cap_costs = KERNEL_NAME(cap_costs),
    .cap_split = KERNEL_NAME(cap_split),
    .write_lows = KERNEL_NAME(write_lows),
    .write_unary = KERNEL_NAME(write_unary),
    .unary_areas = KERNEL_NAME(unary_areas),
    .lows_column = KERNEL_NAME(lows_column),
    .capped_fields = KERNEL_NAME(capped_fields),
    .ans_fields = KERNEL_NAME(ans_fields),
    .capped_column = KERNEL_NAME(capped_column),
    .column_residuals = KERNEL_NAME(column_residuals),
    .from_grid = KERNEL_NAME(from_grid),
    .rice_lanes = KERNEL_NAME(rice_lanes),
};
#endif

#undef KERNEL_JOIN
#undef KERNEL_EXPAND
#undef KERNEL_NAME
