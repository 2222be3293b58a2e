// AVX2 K-quant dot products (placeholder: scalar until the SIMD kernels land).
#include "kquants_internal.h"

float moe_dot_q4_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    return moe_dot_q4_K_q8_K_ref(x, y, n);
}

float moe_dot_q5_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    return moe_dot_q5_K_q8_K_ref(x, y, n);
}

float moe_dot_q6_K_q8_K_avx2(const void *x, const void *y, int64_t n) {
    return moe_dot_q6_K_q8_K_ref(x, y, n);
}
