#pragma once
// Four-activation-row products (gemm4, ckernels.h's contract) of Q2_K, Q3_K
// and IQ4_XS against q8_K rows, reading moe_act_scales4_q8_K's scales
// (kquants2_avx2_gemm4.c, kquants2_gemm4_body.h). Private to the table:
// kept out of include/ so adding them rebuilt no Swift module.
#include <stddef.h>
#include <stdint.h>

#define MOE_KQ2_GEMM4_DECL(q, isa)                                                                 \
    void moe_gemm4_##q##_q8_K_##isa(const void *x, const void *y, size_t y_stride, const float *y_scales, \
                                    float *out, int64_t n);
#define MOE_KQ2_GEMM4_DECL_ALL(isa) \
    MOE_KQ2_GEMM4_DECL(q2_K, isa) MOE_KQ2_GEMM4_DECL(q3_K, isa) MOE_KQ2_GEMM4_DECL(iq4_xs, isa)
MOE_KQ2_GEMM4_DECL_ALL(avx2)
MOE_KQ2_GEMM4_DECL_ALL(avx512)
MOE_KQ2_GEMM4_DECL_ALL(avx512vnni)
