#pragma once
// K-quant kernels (Q4_K, Q5_K, Q6_K weights; Q8_K activations), laid out
// exactly as ggml lays them out so GGUF tensors can be used in place.
//
// Every n below counts scalar values and must be a multiple of 256
// (MOE_QK_K); the caller (the Swift kernel table) checks that before calling.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOE_QK_K 256
#define MOE_K_SCALE_SIZE 12



// 8 sub-blocks of 32; 6-bit scale and min per sub-block packed in scales[12].
// x = d * scale * q - dmin * min
typedef struct {
    uint16_t d; // IEEE binary16 bits
    uint16_t dmin; // IEEE binary16 bits
    uint8_t scales[MOE_K_SCALE_SIZE];
    uint8_t qs[MOE_QK_K / 2];
} moe_block_q4_K;

// Q4_K plus a fifth bit per weight in qh.
typedef struct {
    uint16_t d; // IEEE binary16 bits
    uint16_t dmin; // IEEE binary16 bits
    uint8_t scales[MOE_K_SCALE_SIZE];
    uint8_t qh[MOE_QK_K / 8];
    uint8_t qs[MOE_QK_K / 2];
} moe_block_q5_K;

// 16 sub-blocks of 16; 6-bit weights (low 4 in ql, high 2 in qh), signed
// 8-bit scales. x = d * scale * (q - 32)
typedef struct {
    uint8_t ql[MOE_QK_K / 2];
    uint8_t qh[MOE_QK_K / 4];
    int8_t scales[MOE_QK_K / 16];
    uint16_t d; // IEEE binary16 bits
} moe_block_q6_K;

// 2 bits per weight, 16 sub-blocks of 16 with 4-bit scale and min.
typedef struct {
    uint8_t scales[MOE_QK_K / 16];
    uint8_t qs[MOE_QK_K / 4];
    uint16_t d; // IEEE binary16 bits
    uint16_t dmin; // IEEE binary16 bits
} moe_block_q2_K;

// 3 bits per weight (low 2 in qs, high bit inverted in hmask), 16 sub-blocks
// of 16 with 6-bit signed scales packed in scales[12].
typedef struct {
    uint8_t hmask[MOE_QK_K / 8];
    uint8_t qs[MOE_QK_K / 4];
    uint8_t scales[12];
    uint16_t d; // IEEE binary16 bits
} moe_block_q3_K;

// Activations: float scale, 8-bit values, and the sums of each 16 values
// (bsums) so the weight minimums can be applied without touching qs again.
typedef struct {
    float d;
    int8_t qs[MOE_QK_K];
    int16_t bsums[MOE_QK_K / 16];
} moe_block_q8_K;

// Dequantize n weights of x into y (bit-exact with ggml's dequantize_row_*).
void moe_dequant_q2_K(const void *x, float *y, int64_t n);
void moe_dequant_q3_K(const void *x, float *y, int64_t n);
void moe_dequant_q4_K(const void *x, float *y, int64_t n);
void moe_dequant_q5_K(const void *x, float *y, int64_t n);
void moe_dequant_q6_K(const void *x, float *y, int64_t n);
void moe_dequant_q8_K(const void *x, float *y, int64_t n);

// Quantize n activations into Q8_K blocks as ggml's quantize_row_q8_K_ref does.
void moe_quantize_q8_K(const float *x, void *y, int64_t n);

// Dot product of n weights (x) with n Q8_K activations (y).
// _ref is the scalar specification; the others must agree with it up to
// float rounding. _avx2 and _avx512 require the caller to have checked the
// CPU with moe_isa_supported (ckernels.h).
float moe_dot_q4_K_q8_K_ref(const void *x, const void *y, int64_t n);
float moe_dot_q5_K_q8_K_ref(const void *x, const void *y, int64_t n);
float moe_dot_q6_K_q8_K_ref(const void *x, const void *y, int64_t n);
float moe_dot_q4_K_q8_K_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q5_K_q8_K_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q6_K_q8_K_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q4_K_q8_K_avx512(const void *x, const void *y, int64_t n);
float moe_dot_q5_K_q8_K_avx512(const void *x, const void *y, int64_t n);
float moe_dot_q6_K_q8_K_avx512(const void *x, const void *y, int64_t n);
// AVX-512 F + BW + VL + VNNI (moe_kq_cpu_has_avx512_vnni).
float moe_dot_q4_K_q8_K_avx512vnni(const void *x, const void *y, int64_t n);
float moe_dot_q5_K_q8_K_avx512vnni(const void *x, const void *y, int64_t n);
float moe_dot_q6_K_q8_K_avx512vnni(const void *x, const void *y, int64_t n);

// ---- multi-row products (kquants_multi.c, kquants_*_multi.c) ---------------
// Same contracts as the 32-value quants' (ckernels.h):
// gemm4: one weight row, four q8_K activation rows y_stride bytes apart,
//   out[j] = dot(x, y + j·y_stride), reading y_scales from
//   moe_act_scales4_q8_K (4 floats per block: the rows' d);
// dotr4: four weight rows x_stride bytes apart, one activation row,
//   out[j] = dot(x + j·x_stride, y), prefetching the next four rows.
// _ref are four one-row reference dots (the specification); the others agree
// with them up to float summation order. _avx512 needs F + BW, _avx512vnni
// also VL + VNNI (moe_kq_cpu_has_avx512_vnni).
void moe_act_scales4_q8_K(const void *y, size_t y_stride, float *scales, int64_t n);
int moe_kq_cpu_has_avx512_vnni(void);

#define MOE_KQ_MULTI_DECL(q, isa)                                                                  \
    void moe_gemm4_##q##_q8_K_##isa(const void *x, const void *y, size_t y_stride, const float *y_scales, \
                                    float *out, int64_t n);                                       \
    void moe_dotr4_##q##_q8_K_##isa(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
#define MOE_KQ_MULTI_DECL_ALL(isa) MOE_KQ_MULTI_DECL(q4_K, isa) MOE_KQ_MULTI_DECL(q5_K, isa) MOE_KQ_MULTI_DECL(q6_K, isa)
MOE_KQ_MULTI_DECL_ALL(ref)
MOE_KQ_MULTI_DECL_ALL(avx2)
MOE_KQ_MULTI_DECL_ALL(avx512)
MOE_KQ_MULTI_DECL_ALL(avx512vnni)

#ifdef __cplusplus
}
#endif
