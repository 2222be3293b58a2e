// Multi-row K-quant products, scalar: the specification of the four-row
// kernels (kquants_avx2_multi.c, kquants_avx512_multi.c) and the q8_K
// scale gather their table rows use.
//
// Each result is exactly the one-row reference dot of that row pair, so the
// SIMD kernels are held to the same tolerance as the one-row SIMD dots.
#include "kquants_internal.h"

// q8_K keeps its block scale as a float already; gathering the four rows'
// scales block by block lets the K-quant rows share the scaled four-row
// path (gemm4 + scales4) with the 32-value quants: per block, d of rows 0-3.
void moe_act_scales4_q8_K(const void *y, size_t y_stride, float *scales, int64_t n) {
    const uint8_t *rows = (const uint8_t *)y;
    for (int64_t i = 0; i < n / MOE_QK_K; i++) {
        for (int j = 0; j < 4; j++) {
            const moe_block_q8_K *b = (const moe_block_q8_K *)(rows + (size_t)j * y_stride) + i;
            scales[4 * i + j] = b->d;
        }
    }
}

#define KQ_GEMM4_REF(q)                                                                              \
    void moe_gemm4_##q##_q8_K_ref(const void *x, const void *y, size_t y_stride, const float *y_scales, \
                                  float *out, int64_t n) {                                           \
        (void)y_scales;                                                                              \
        for (int j = 0; j < 4; j++) out[j] = moe_dot_##q##_q8_K_ref(x, (const uint8_t *)y + (size_t)j * y_stride, n); \
    }                                                                                                \
    void moe_dotr4_##q##_q8_K_ref(const void *x, size_t x_stride, const void *y, float *out, int64_t n) { \
        for (int j = 0; j < 4; j++) out[j] = moe_dot_##q##_q8_K_ref((const uint8_t *)x + (size_t)j * x_stride, y, n); \
    }

KQ_GEMM4_REF(q4_K)
KQ_GEMM4_REF(q5_K)
KQ_GEMM4_REF(q6_K)

// CPU check for the VNNI variants (tests and the table that wires them).
int moe_kq_cpu_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
