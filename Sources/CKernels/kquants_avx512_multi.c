// AVX-512 K-quant products (one row: dot; four activation rows: gemm4;
// four weight rows: dotr4), in two builds of one body (kquants_avx512_body.h):
//
// - _avx512: F + BW, each sub-block's i16 pair sums weighted by madd, then
//   added (the table's AVX-512 level, which asks for F + BW only);
// - _avx512vnni: + VL + VNNI, the madd and add fused in vpdpwssd.
//
// Why vpdpwssd and not vpdpbusd: a sub-block's integer scale has to weight
// its sums. vpdpbusd (u8 × s8 → i32) would give per-sub-block i32 sums that
// then need a 32-bit multiply by the scale (vpmulld) and an add: three
// operations per 64 weights and row, against two here (vpmaddubsw for the
// u8 × s8 pairs, then vpdpwssd, i16 × scale accumulated into i32), with the
// same exact integers as ggml's madd-based kernels.
#include "kquants_x86.h"

#define KQ_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw")))
#define KQ_NAME(base) kq512_##base
#define KQ_DOTW(acc, pairs, scales) _mm512_add_epi32((acc), _mm512_madd_epi16((pairs), (scales)))
#include "kquants_avx512_body.h"
#undef KQ_TARGET
#undef KQ_NAME
#undef KQ_DOTW
#undef KQ512_GEMM4_Q45
#undef KQ512_DOTR4_Q45
#undef KQ512_DOT_Q45

#define KQ_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define KQ_NAME(base) kq512vnni_##base
#define KQ_DOTW(acc, pairs, scales) _mm512_dpwssd_epi32((acc), (pairs), (scales))
#include "kquants_avx512_body.h"

// The exported names (kquants.h).
#define KQ_EXPORT(q, suffix, prefix)                                                                     \
    void moe_gemm4_##q##_q8_K_##suffix(const void *x, const void *y, size_t y_stride, const float *y_scales, \
                                       float *out, int64_t n) {                                         \
        prefix##gemm4_##q(x, y, y_stride, y_scales, out, n);                                            \
    }                                                                                                   \
    void moe_dotr4_##q##_q8_K_##suffix(const void *x, size_t x_stride, const void *y, float *out, int64_t n) { \
        prefix##dotr4_##q(x, x_stride, y, out, n);                                                      \
    }                                                                                                   \
    float moe_dot_##q##_q8_K_##suffix(const void *x, const void *y, int64_t n) { return prefix##dot_##q(x, y, n); }

KQ_EXPORT(q4_K, avx512, kq512_)
KQ_EXPORT(q5_K, avx512, kq512_)
KQ_EXPORT(q6_K, avx512, kq512_)
KQ_EXPORT(q4_K, avx512vnni, kq512vnni_)
KQ_EXPORT(q5_K, avx512vnni, kq512vnni_)
KQ_EXPORT(q6_K, avx512vnni, kq512vnni_)
