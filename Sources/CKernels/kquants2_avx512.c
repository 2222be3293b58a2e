// AVX-512 dots of Q2_K, Q3_K, IQ4_XS (× Q8_K) and IQ4_NL (× Q8_0), in two
// builds of one body (kquants2_avx512_body.h):
//
// - _avx512: F + BW; sub-block sums weighted by madd then added;
// - _avx512vnni: + VL + VNNI; the weighting fused in vpdpwssd, and IQ4_NL's
//   per-block byte products summed straight to i32 by vpdpbusd.
//
// Q2_K/Q3_K/IQ4_XS keep maddubs + vpdpwssd rather than vpdpbusd for the
// reason kquants_avx512_multi.c gives: the integer scale of each sub-block
// would need a 32-bit multiply after vpdpbusd. IQ4_NL has no sub-block scale.
#include "kquants2_multi.h"
#include "kquants2_x86.h"

#define KQ2_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw")))
#define KQ2_NAME(base) kq2_512_##base
#define KQ2_DOTW(acc, pairs, scales) _mm512_add_epi32((acc), _mm512_madd_epi16((pairs), (scales)))
#define KQ2_DOTB(acc, u, s) \
    _mm512_add_epi32((acc), _mm512_madd_epi16(_mm512_maddubs_epi16((u), (s)), _mm512_set1_epi16(1)))
#include "kquants2_avx512_body.h"
#undef KQ2_TARGET
#undef KQ2_NAME
#undef KQ2_DOTW
#undef KQ2_DOTB

#define KQ2_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define KQ2_NAME(base) kq2_512vnni_##base
#define KQ2_DOTW(acc, pairs, scales) _mm512_dpwssd_epi32((acc), (pairs), (scales))
#define KQ2_DOTB(acc, u, s) _mm512_dpbusd_epi32((acc), (u), (s))
#include "kquants2_avx512_body.h"

#define KQ2_EXPORT(suffix, prefix)                                                                 \
    float moe_dot_q2_K_q8_K_##suffix(const void *x, const void *y, int64_t n) { return prefix##dot_q2_K(x, y, n); } \
    float moe_dot_q3_K_q8_K_##suffix(const void *x, const void *y, int64_t n) { return prefix##dot_q3_K(x, y, n); } \
    float moe_dot_iq4_xs_q8_K_##suffix(const void *x, const void *y, int64_t n) {                 \
        return prefix##dot_iq4_xs(x, y, n);                                                        \
    }                                                                                              \
    float moe_dot_iq4_nl_q8_0_##suffix(const void *x, const void *y, int64_t n) {                 \
        return prefix##dot_iq4_nl(x, y, n);                                                        \
    } \
    void moe_gemm4_q2_K_q8_K_##suffix(const void *x, const void *y, size_t y_stride, const float *ys, float *out, \
                                      int64_t n) { prefix##gemm4_q2_K(x, y, y_stride, ys, out, n); }       \
    void moe_gemm4_q3_K_q8_K_##suffix(const void *x, const void *y, size_t y_stride, const float *ys, float *out, \
                                      int64_t n) { prefix##gemm4_q3_K(x, y, y_stride, ys, out, n); }       \
    void moe_gemm4_iq4_xs_q8_K_##suffix(const void *x, const void *y, size_t y_stride, const float *ys,      \
                                        float *out, int64_t n) { prefix##gemm4_iq4_xs(x, y, y_stride, ys, out, n); }

KQ2_EXPORT(avx512, kq2_512_)
KQ2_EXPORT(avx512vnni, kq2_512vnni_)
