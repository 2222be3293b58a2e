#pragma once
// The low-bit K-quants' products (Q2_K, Q3_K; blocks in kquants.h) and the
// non-linear 4-bit types IQ4_NL and IQ4_XS, laid out exactly as ggml lays
// them out so GGUF tensors are used in place.
//
// Pairings (ggml's vec_dot_type): Q2_K, Q3_K and IQ4_XS weights with Q8_K
// activations (n a multiple of 256); IQ4_NL with Q8_0 (n a multiple of 32).

#include <stddef.h>
#include <stdint.h>
#include "kquants.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MOE_QK4_NL 32

// 32 weights, each a 4-bit index into the 16 non-uniform levels below.
// x = d * kvalues[q]
typedef struct {
    uint16_t d; // IEEE binary16 bits
    uint8_t qs[MOE_QK4_NL / 2];
} moe_block_iq4_nl;

// 256 weights in 8 sub-blocks of 32, indices as IQ4_NL's; each sub-block has
// a 6-bit scale ls (low 4 bits in scales_l, nibble per sub-block; top 2 bits
// in scales_h, 2 bits per sub-block). x = d * (ls - 32) * kvalues[q]
typedef struct {
    uint16_t d; // IEEE binary16 bits
    uint16_t scales_h;
    uint8_t scales_l[MOE_QK_K / 64];
    uint8_t qs[MOE_QK_K / 2];
} moe_block_iq4_xs;

// The 16 levels (ggml's kvalues_iq4nl).
extern const int8_t moe_iq4nl_values[16];

// Dequantize n weights (bit-exact with ggml's dequantize_row_iq4_*).
void moe_dequant_iq4_nl(const void *x, float *y, int64_t n);
void moe_dequant_iq4_xs(const void *x, float *y, int64_t n);

// Dot products of n weights (x) with n quantized activations (y). _ref is
// the scalar specification (exact integer sums per sub-block, scaled once
// per block, as ggml's generic kernels); the others agree with it up to
// float summation order and need the CPU level their suffix names
// (avx512: F + BW; avx512vnni: + VL + VNNI; check moe_isa_supported).
#define MOE_KQ2_DOT_DECL(isa)                                                  \
    float moe_dot_q2_K_q8_K_##isa(const void *x, const void *y, int64_t n);    \
    float moe_dot_q3_K_q8_K_##isa(const void *x, const void *y, int64_t n);    \
    float moe_dot_iq4_xs_q8_K_##isa(const void *x, const void *y, int64_t n);  \
    float moe_dot_iq4_nl_q8_0_##isa(const void *x, const void *y, int64_t n);
MOE_KQ2_DOT_DECL(ref)
MOE_KQ2_DOT_DECL(avx2)
MOE_KQ2_DOT_DECL(avx512)
MOE_KQ2_DOT_DECL(avx512vnni)

#ifdef __cplusplus
}
#endif
