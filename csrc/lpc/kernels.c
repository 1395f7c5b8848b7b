/* The portable kernels (scalar: the compiler's vectorizer off, the reference)
 * and the SSE2 ones (the same bodies vectorized for the x86-64 baseline), the
 * CPU detection, and the one place that maps a kernel choice to its table.
 * The AVX2 kernels are in kernels_avx2.c. */
#include "kernel_bodies.h"

#if defined(__GNUC__) && !defined(__clang__)
#define ATTR_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define ATTR_SCALAR
#endif

#define KERNEL_ISA scalar
#define KERNEL_TARGET ATTR_SCALAR
#define KERNEL_BITS_TARGET ATTR_SCALAR
#include "kernel_template.h"
#undef KERNEL_ISA
#undef KERNEL_TARGET
#undef KERNEL_BITS_TARGET

#if LPC_X86
#define KERNEL_ISA sse2
#define KERNEL_TARGET
#define KERNEL_BITS_TARGET
#include "kernel_template.h"
#undef KERNEL_ISA
#undef KERNEL_TARGET
#undef KERNEL_BITS_TARGET
#endif

/* EPHYS_LPC_KERNEL_*; 0 = automatic.  Atomic loads and stores: a test may set
 * it while another thread starts a stream. */
static int selected_kernel;

static int cpu_has_avx2(void)
{
#if LPC_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#else
    return 0;
#endif
}

int ephys_lpc_set_kernel(int kernel)
{
    switch (kernel) {
    case EPHYS_LPC_KERNEL_AUTO: case EPHYS_LPC_KERNEL_SCALAR: break;
    case EPHYS_LPC_KERNEL_SSE2: if (!LPC_X86) return EPHYS_ERR_ARGS; break;
    case EPHYS_LPC_KERNEL_AVX2: if (!cpu_has_avx2()) return EPHYS_ERR_ARGS; break;
    default: return EPHYS_ERR_ARGS;
    }
    __atomic_store_n(&selected_kernel, kernel, __ATOMIC_RELAXED);
    return EPHYS_OK;
}

int ephys_lpc_kernel(void)
{
    int kernel = __atomic_load_n(&selected_kernel, __ATOMIC_RELAXED);
    if (kernel) return kernel;
    if (cpu_has_avx2()) return EPHYS_LPC_KERNEL_AVX2;
    return LPC_X86 ? EPHYS_LPC_KERNEL_SSE2 : EPHYS_LPC_KERNEL_SCALAR;
}

const lpc_kernels_t *lpc_kernels(void)
{
    switch (ephys_lpc_kernel()) {
#if LPC_X86
    case EPHYS_LPC_KERNEL_AVX2: return &lpc_kernels_avx2;
    case EPHYS_LPC_KERNEL_SSE2: return &kernels_sse2; /* the x86-64 baseline the default code is built for */
#endif
    default: return &kernels_scalar;
    }
}
