// AVX-512 entry points for the K-quant dot products.
//
// They call the AVX2 kernels. The development machine has no AVX-512, so a
// 512-bit kernel could not be run or tested here; every AVX-512 CPU has AVX2,
// so this is always correct, only not faster. Replace with real 512-bit
// kernels once they can be tested on such a CPU.
#include "kquants_internal.h"

float moe_dot_q4_K_q8_K_avx512(const void *x, const void *y, int64_t n) {
    return moe_dot_q4_K_q8_K_avx2(x, y, n);
}

float moe_dot_q5_K_q8_K_avx512(const void *x, const void *y, int64_t n) {
    return moe_dot_q5_K_q8_K_avx2(x, y, n);
}

float moe_dot_q6_K_q8_K_avx512(const void *x, const void *y, int64_t n) {
    return moe_dot_q6_K_q8_K_avx2(x, y, n);
}
