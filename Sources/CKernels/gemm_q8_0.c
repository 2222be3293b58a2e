// The activation preparation and the lookup for the q8_0-activation
// matrix kernels (gemm_q8_0.h); the kernels are in gemm_q8_0_vnni.c.

#include "ck_internal.h"
#include "gemm_q8_0.h"

void moe_gemm16_prep_q8_0(const void *y, size_t y_stride, int64_t m, float *prep, int64_t n) {
    const int64_t nb = n / MOE_QK;
    for (int64_t j = 0; j < m; j++) {
        const moe_block_q8_0 *b = (const moe_block_q8_0 *)((const uint8_t *)y + (size_t)j * y_stride);
        float *p = prep + MOE_GEMM16_PREP_PER_BLOCK * j * nb;
        for (int64_t i = 0; i < nb; i++) {
            int32_t sum = 0;
            for (int k = 0; k < MOE_QK; k++) sum += b[i].qs[k];
            const int32_t neg = -sum;
            p[2 * i] = ck_half(b[i].d);
            memcpy(p + 2 * i + 1, &neg, 4);
        }
    }
}

// ggml_type numbers, as table.c's
enum { G16_Q4_0 = 2, G16_Q5_0 = 6, G16_Q8_0 = 8 };

moe_gemm16_fn moe_gemm16_get(uint32_t type, moe_isa isa) {
    if (isa != MOE_ISA_AVX512VNNI) return NULL;
    switch (type) {
    case G16_Q8_0: return moe_gemm16_q8_0_vnni;
    case G16_Q5_0: return moe_gemm16_q5_0_vnni;
    case G16_Q4_0: return moe_gemm16_q4_0_vnni;
    default: return NULL;
    }
}

// The same kernels on the x8 layouts (repack_q5_0.h, repack_q8_0.h): NULL
// for a type or level without one.
moe_gemm16_fn moe_gemm16_x8_get(uint32_t type, moe_isa isa) {
    if (isa != MOE_ISA_AVX512VNNI) return NULL;
    switch (type) {
    case G16_Q8_0: return moe_gemm16_q8_0x8_vnni;
    case G16_Q5_0: return moe_gemm16_q5_0x8_vnni;
    default: return NULL;
    }
}
