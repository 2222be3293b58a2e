#pragma once
// Kernels for the classic ggml block types (F32, F16, BF16, Q8_0, Q8_1,
// Q4_0, Q4_1, Q5_0, Q5_1) and the per-type kernel table that also lists the
// K-quants (kquants.h). Block layouts are ggml's, so GGUF tensor data is used
// in place.
//
// Naming: moe_dequant_<w>, moe_quantize_<a>, moe_dot_<w>_<a>_<isa>, where
// <isa> is ref (scalar, the specification and test oracle), avx2 or avx512.
// SIMD variants must only be called after checking moe_isa_supported.
// Every n counts scalar values and must be a multiple of the block size; the
// Swift side checks that before calling.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOE_QK 32  // values per block of the classic quants

typedef struct { uint16_t d; uint8_t qs[MOE_QK / 2]; } moe_block_q4_0;              // x = d * (q - 8)
typedef struct { uint16_t d, m; uint8_t qs[MOE_QK / 2]; } moe_block_q4_1;           // x = d * q + m
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[MOE_QK / 2]; } moe_block_q5_0;   // x = d * (q - 16)
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[MOE_QK / 2]; } moe_block_q5_1; // x = d * q + m
typedef struct { uint16_t d; int8_t qs[MOE_QK]; } moe_block_q8_0;                   // x = d * q
typedef struct { uint16_t d, s; int8_t qs[MOE_QK]; } moe_block_q8_1;                // s = d * sum(q)

// ---- half precision (exact IEEE binary16 and bfloat16) -------------------
float moe_fp16_to_fp32(uint16_t h);
uint16_t moe_fp32_to_fp16(float f);      // round to nearest even
float moe_bf16_to_fp32(uint16_t h);
uint16_t moe_fp32_to_bf16(float f);      // round to nearest even, NaN kept quiet

// ---- scalar references ----------------------------------------------------
void moe_dequant_f32(const void *x, float *y, int64_t n);
void moe_dequant_f16(const void *x, float *y, int64_t n);
void moe_dequant_bf16(const void *x, float *y, int64_t n);
void moe_dequant_q4_0(const void *x, float *y, int64_t n);
void moe_dequant_q4_1(const void *x, float *y, int64_t n);
void moe_dequant_q5_0(const void *x, float *y, int64_t n);
void moe_dequant_q5_1(const void *x, float *y, int64_t n);
void moe_dequant_q8_0(const void *x, float *y, int64_t n);
void moe_dequant_q8_1(const void *x, float *y, int64_t n);

void moe_quantize_f32(const float *x, void *y, int64_t n);   // a copy
void moe_quantize_f16(const float *x, void *y, int64_t n);
void moe_quantize_bf16(const float *x, void *y, int64_t n);
void moe_quantize_q8_0(const float *x, void *y, int64_t n);  // as quantize_row_q8_0_ref
void moe_quantize_q8_1(const float *x, void *y, int64_t n);  // as quantize_row_q8_1_ref

float moe_dot_f32_f32_ref(const void *x, const void *y, int64_t n);
float moe_dot_f16_f16_ref(const void *x, const void *y, int64_t n);
float moe_dot_bf16_bf16_ref(const void *x, const void *y, int64_t n);
float moe_dot_q4_0_q8_0_ref(const void *x, const void *y, int64_t n);
float moe_dot_q4_1_q8_1_ref(const void *x, const void *y, int64_t n);
float moe_dot_q5_0_q8_0_ref(const void *x, const void *y, int64_t n);
float moe_dot_q5_1_q8_1_ref(const void *x, const void *y, int64_t n);
float moe_dot_q8_0_q8_0_ref(const void *x, const void *y, int64_t n);

// ---- SIMD variants (same contracts) ---------------------------------------
void moe_dequant_f16_f16c(const void *x, float *y, int64_t n);
void moe_quantize_f16_f16c(const float *x, void *y, int64_t n);

float moe_dot_f32_f32_avx2(const void *x, const void *y, int64_t n);
float moe_dot_f16_f16_avx2(const void *x, const void *y, int64_t n);
float moe_dot_bf16_bf16_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q4_0_q8_0_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q4_1_q8_1_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q5_0_q8_0_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q5_1_q8_1_avx2(const void *x, const void *y, int64_t n);
float moe_dot_q8_0_q8_0_avx2(const void *x, const void *y, int64_t n);

float moe_dot_f32_f32_avx512(const void *x, const void *y, int64_t n);
float moe_dot_f16_f16_avx512(const void *x, const void *y, int64_t n);
float moe_dot_bf16_bf16_avx512(const void *x, const void *y, int64_t n);

// One weight row with four activation rows (prompt processing):
// out[j] = dot(x, y + j * y_stride), j = 0..3. AVX2 only; the table falls
// back to four single-row dots elsewhere.
void moe_dot4_q4_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n);
void moe_dot4_q4_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n);
void moe_dot4_q5_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n);
void moe_dot4_q5_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n);
void moe_dot4_q8_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, float *out, int64_t n);

// Four weight rows x_stride bytes apart with one activation row (decode):
// out[j] = dot(x + j * x_stride, y), j = 0..3. AVX2 only, as dot4.
void moe_dotr4_q4_0_q8_0_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q4_1_q8_1_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q5_0_q8_0_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q5_1_q8_1_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q8_0_q8_0_avx2(const void *x, size_t x_stride, const void *y, float *out, int64_t n);

// One weight row with four activation rows whose block scales are already
// float (moe_act_scales4_*): out[j] = dot(x, y + j * y_stride). AVX2 only.
void moe_gemm4_q4_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q4_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q5_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q5_1_q8_1_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q8_0_q8_0_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
// Float scales of four activation rows: q8_0 gives 68 per block (d of each
// row, then 128 bytes of |values| and 128 of values transposed in 4-byte
// groups, which the q8_0 kernel reads instead of y); q8_1 gives 40 (the four d, the four s, then the four rows' values
// transposed in 4-byte groups, 128 bytes, which the q4_1/q5_1 kernels read
// instead of y).
void moe_act_scales4_q8_0(const void *y, size_t y_stride, float *scales, int64_t n);
void moe_act_scales4_q8_1(const void *y, size_t y_stride, float *scales, int64_t n);

// ---- AVX-512 VNNI (quants_avx512_vnni.c): 256-bit vpdpbusd --------------------
// The same contracts as the AVX2 kernels above. Signed weights are offset to
// unsigned (q + 2^k) and the activations' −2^k·Σy starts the sums; the
// four-activation-row kernels of the q8_0 family read
// moe_act_scales4_q8_0_vnni's layout (44 floats per block: four d, the rows'
// −Σy over values 0…15 and 16…31 as int32, then the values transposed as
// for q8_1); q4_1 and q5_1 read moe_act_scales4_q8_1's. No one-row dot
// for q8_0 and q4_1: AVX2's measured faster.
float moe_dot_q4_0_q8_0_vnni(const void *x, const void *y, int64_t n);
float moe_dot_q5_0_q8_0_vnni(const void *x, const void *y, int64_t n);
float moe_dot_q5_1_q8_1_vnni(const void *x, const void *y, int64_t n);
void moe_dotr4_q4_0_q8_0_vnni(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q5_0_q8_0_vnni(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q8_0_q8_0_vnni(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q4_1_q8_1_vnni(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_dotr4_q5_1_q8_1_vnni(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
void moe_gemm4_q4_0_q8_0_vnni(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q5_0_q8_0_vnni(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q8_0_q8_0_vnni(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q4_1_q8_1_vnni(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_q5_1_q8_1_vnni(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_act_scales4_q8_0_vnni(const void *y, size_t y_stride, float *scales, int64_t n);

// ---- float weights, four activation rows (floats_gemm4.c) ----------------------
// The four rows widened to f32 and interleaved by chunks of 16 values (4
// floats per value; bf16_pairs keeps bf16, chunks of 32, 2 floats' room per
// value), then one weight row against them, as the quants' gemm4.
void moe_act_scales4_f32(const void *y, size_t y_stride, float *scales, int64_t n);
void moe_act_scales4_f16(const void *y, size_t y_stride, float *scales, int64_t n);
void moe_act_scales4_bf16(const void *y, size_t y_stride, float *scales, int64_t n);
void moe_act_scales4_bf16_pairs(const void *y, size_t y_stride, float *scales, int64_t n);
void moe_gemm4_f32_f32_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_f16_f16_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_bf16_bf16_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_f32_f32_avx512(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_f16_f16_avx512(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
void moe_gemm4_bf16_bf16_avx512(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
// Needs avx512bf16 (moe_cpu_has), beyond any level: the avx512vnni table
// uses it for BF16 where the CPU has it.
void moe_gemm4_bf16_bf16_avx512bf16(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
// The same over `rows` weight rows x_stride bytes apart, as moe_gemm4_rows,
// in register tiles of several weight rows (the table's gemm4_rows).
#define MOE_GEMM4_ROWS_ARGS const void *x, size_t x_stride, int64_t rows, const void *y, size_t y_stride, \
                            const float *y_scales, float *out, size_t out_stride, int64_t n
void moe_gemm4_rows_f32_avx2(MOE_GEMM4_ROWS_ARGS);
void moe_gemm4_rows_f16_avx2(MOE_GEMM4_ROWS_ARGS);
void moe_gemm4_rows_bf16_avx2(MOE_GEMM4_ROWS_ARGS);
void moe_gemm4_rows_f32_avx512(MOE_GEMM4_ROWS_ARGS);
void moe_gemm4_rows_f16_avx512(MOE_GEMM4_ROWS_ARGS);
void moe_gemm4_rows_bf16_avx512(MOE_GEMM4_ROWS_ARGS);
void moe_gemm4_rows_bf16_avx512bf16(MOE_GEMM4_ROWS_ARGS);

// ---- Q4_1 repacked eight rows at a time (repack_q4_1*.c) -------------------
// Group k of eight weight rows (8k…8k+7), block i: the eight d, the eight m,
// then bytes qs[4g…4g+3] of row r at 32g + 4r (g < 4). Same bytes per
// block-row as Q4_1, and group k starts where row 8k starts in ggml's layout.
typedef struct { uint16_t d[8], m[8]; uint8_t qs[8 * MOE_QK / 2]; } moe_block_q4_1x8;
// rows must be a multiple of 8; src and dst hold rows × n/32 blocks each.
void moe_repack_q4_1_x8(const void *src, void *dst, int64_t rows, int64_t n);
void moe_unpack_q4_1_x8(const void *src, void *dst, int64_t rows, int64_t n);  // the inverse
// `rows` (a multiple of 8) repacked weight rows against m q8_1 activation
// rows y_stride bytes apart: out[j * out_stride + r] = dot(row r, y_j).
// _ref is the specification (exactly moe_dot_q4_1_q8_1_ref per row).
typedef void (*moe_repack_fn)(const void *src, void *dst, int64_t rows, int64_t n);
typedef void (*moe_gemm_x8_fn)(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);
// `rows` (a multiple of 8) weight rows in ggml's layout, row_bytes apart,
// against m activation rows: out[j * out_stride + r] = dot(row r, y_j).
// Prompt panels of Q5_K and Q6_K at AVX2 (kpanel_avx2.h).
typedef void (*moe_gemm_rows8_fn)(const void *x, size_t row_bytes, int64_t rows, const void *y, size_t y_stride,
                                  int64_t m, float *out, size_t out_stride, int64_t n);
void moe_gemm_rows8_q5_K_q8_K_avx2(const void *x, size_t row_bytes, int64_t rows, const void *y, size_t y_stride,
                                   int64_t m, float *out, size_t out_stride, int64_t n);
void moe_gemm_rows8_q6_K_q8_K_avx2(const void *x, size_t row_bytes, int64_t rows, const void *y, size_t y_stride,
                                   int64_t m, float *out, size_t out_stride, int64_t n);
void moe_gemm_q4_1x8_q8_1_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n);
void moe_gemm_q4_1x8_q8_1_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);
void moe_gemm_q4_1x8_q8_1_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX-512 VNNI

// Q4_K and Q6_K in the same eight-row layout: repack_q4_K.h, repack_q6_K.h.
#include "repack_q4_K.h"
#include "repack_q6_K.h"
#include "repack_q5_K.h"  // Q5_K in the same layout
#include "repack_q5_0.h"  // Q5_0 too, against q8_0 activations
#include "repack_q8_0.h"  // and Q8_0

// AVX2 activation quantizers, bit for bit moe_quantize_q8_0 / _q8_1.
void moe_quantize_q8_0_avx2(const float *x, void *y, int64_t n);
void moe_quantize_q8_1_avx2(const float *x, void *y, int64_t n);
// ... and moe_quantize_q8_K (kquants_quantize_avx2.c).
void moe_quantize_q8_K_avx2(const float *x, void *y, int64_t n);

// ---- the per-type table -----------------------------------------------------
// Levels are ordered: each includes everything the ones below need.
typedef enum {
    MOE_ISA_SCALAR = 0,
    MOE_ISA_AVX2 = 1,        // AVX2 + FMA + F16C
    MOE_ISA_AVX512 = 2,      // + AVX-512 F, BW
    MOE_ISA_AVX512VNNI = 3,  // + AVX-512 VL, VNNI (vpdpbusd)
} moe_isa;
enum { MOE_ISA_COUNT = 4 };

typedef void (*moe_dequant_fn)(const void *x, float *y, int64_t n);
typedef void (*moe_quantize_fn)(const float *x, void *y, int64_t n);
typedef float (*moe_dot_fn)(const void *x, const void *y, int64_t n);
typedef void (*moe_dot4_fn)(const void *x, const void *y, size_t y_stride, float *out, int64_t n);
typedef void (*moe_gemm4_fn)(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n);
typedef void (*moe_scales4_fn)(const void *y, size_t y_stride, float *scales, int64_t n);
typedef void (*moe_dotr4_fn)(const void *x, size_t x_stride, const void *y, float *out, int64_t n);
// gemm4 over a run of weight rows (moe_gemm4_rows' contract), for kernels
// that tile several weight rows in registers.
typedef void (*moe_gemm4_rows_fn)(const void *x, size_t x_stride, int64_t rows, const void *y, size_t y_stride,
                                  const float *y_scales, float *out, size_t out_stride, int64_t n);
// One row of a matrix in an x8 layout as floats (y: n values).
typedef void (*moe_dequant_row_x8_fn)(const void *x, int64_t row, float *y, int64_t n);
// Decode over a run of weight rows, one row after the other (decode_rows.c):
// out[r] = dot(x + r * x_stride, y), r < rows.
typedef void (*moe_dot_rows_fn)(const void *x, size_t x_stride, int64_t rows, const void *y, float *out, int64_t n);
#define MOE_DOT_ROWS_ARGS const void *x, size_t x_stride, int64_t rows, const void *y, float *out, int64_t n
void moe_dot_rows_q4_0_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q4_1_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q5_0_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q5_1_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q8_0_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q4_0_vnni(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q5_0_vnni(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q5_1_vnni(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q4_K_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q5_K_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q6_K_avx2(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q4_K_avx512(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q5_K_avx512(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q6_K_avx512(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q4_K_avx512vnni(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q5_K_avx512vnni(MOE_DOT_ROWS_ARGS);
void moe_dot_rows_q6_K_avx512vnni(MOE_DOT_ROWS_ARGS);

// fn over `rows` weight rows x_stride bytes apart, against the same four
// activation rows: out[j * out_stride + r] = dot(x + r * x_stride, y_j).
void moe_gemm4_rows(moe_gemm4_fn fn, const void *x, size_t x_stride, int64_t rows, const void *y,
                    size_t y_stride, const float *y_scales, float *out, size_t out_stride, int64_t n);
// The same, fetching each weight row a few rows ahead (batched decoding, where
// every row comes from memory; quants_avx2_gemm_rows.c).
void moe_gemm4_rows_ahead(moe_gemm4_fn fn, const void *x, size_t x_stride, int64_t rows, const void *y,
                          size_t y_stride, const float *y_scales, float *out, size_t out_stride, int64_t n);

// One weight type's kernels at one ISA level. `dot` takes a weight row and
// an activation row already quantized to `act_type` with `quantize_act`.
typedef struct {
    uint32_t type;            // ggml_type number of the weights
    int32_t block_size;       // values per block
    int32_t block_bytes;      // bytes per block
    uint32_t act_type;        // ggml_type the activations are quantized to
    int32_t act_block_size;
    int32_t act_block_bytes;
    moe_dequant_fn dequant;   // may be NULL only for act-only types
    moe_quantize_fn quantize_act;
    moe_dot_fn dot;
    moe_dot4_fn dot4;         // four activation rows at once, or NULL
    moe_dotr4_fn dotr4;       // four weight rows at once, or NULL
    moe_gemm4_fn gemm4;       // four activation rows with float scales, or NULL
    moe_scales4_fn scales4;   // the float scales gemm4 reads (set with gemm4)
    int32_t scales_per_block; // floats scales4 writes per block
    moe_gemm4_rows_fn gemm4_rows; // gemm4 over a run of weight rows, or NULL (then moe_gemm4_rows)
    // Weights repacked eight rows at a time at load (only Q4_1): the repack
    // and the product on that layout, both NULL for other types.
    moe_repack_fn repack_x8;
    moe_gemm_x8_fn gemm_x8;
    // Decode over a run of weight rows, streamed one row after the other,
    // where that reads faster than dotr4's four rows side by side; NULL
    // otherwise (decode_rows.c).
    moe_dot_rows_fn dot_rows;
    // One row of a matrix in the x8 layout as floats, exactly as `dequant`
    // gives it from ggml's (a tied token embedding's lookup reads its rows
    // from the copy); NULL where the layout has no such lookup.
    moe_dequant_row_x8_fn dequant_row_x8;
    // Prompts (more than a small batch of rows) in ggml's layout, eight
    // weight rows unpacked once per block for many activation rows; NULL
    // where the four-row tiles run.
    moe_gemm_rows8_fn gemm_rows8;
} moe_kernel;

// Highest ISA level this CPU (and OS) supports, lowered by MOED_KERNEL_ISA;
// CPU features are read once.
moe_isa moe_isa_best(void);
int moe_isa_supported(moe_isa isa);
// What the CPU offers before any cap, and the cap itself: -1 when
// MOED_KERNEL_ISA is unset, -2 when it is set to a name no level has (then
// it is ignored), else the level it names.
moe_isa moe_isa_cpu(void);
int moe_isa_cap(void);
// "scalar", "avx2", "avx512", "avx512vnni"; NULL for a number of no level.
const char *moe_isa_name(moe_isa isa);
// Whether the CPU (and OS) has one feature, by __builtin_cpu_supports'
// name ("avx2", "avx512vnni", "avx512bf16", ...); 0 for a name
// moe_cpu_feature_name does not list.
int moe_cpu_has(const char *feature);
// The i-th feature name moe_cpu_has knows, NULL past the last (for
// moectl inspect --system).
const char *moe_cpu_feature_name(int i);

// The kernels for ggml type `type` at `isa` (a level the CPU may not have:
// check moe_isa_supported first), or NULL if the type has no kernels here
// (unknown type, or a K-quant whose code is not linked in).
const moe_kernel *moe_kernel_get(uint32_t type, moe_isa isa);

// ---- vector helpers for the model (dispatched to the best ISA inside) -------
float moe_vec_dot_f32(const float *x, const float *y, int64_t n);
void moe_vec_axpy_f32(float a, const float *x, float *y, int64_t n);      // y += a*x
void moe_vec_mul_f32(const float *x, const float *y, float *z, int64_t n);  // z = x*y
void moe_vec_add_f32(const float *x, const float *y, float *z, int64_t n);  // z = x+y
void moe_vec_scale_f32(float a, float *x, int64_t n);                       // x *= a
// y = x / sqrt(mean(x^2) + eps) * w  (w may be NULL for no weight)
void moe_vec_rms_norm_f32(const float *x, const float *w, float *y, int64_t n, float eps);
// z = silu(g) * u  (SwiGLU)
void moe_vec_silu_mul_f32(const float *g, const float *u, float *z, int64_t n);
// x = softmax(x) in place; returns the sum of exponentials before normalising
float moe_vec_softmax_f32(float *x, int64_t n);

// One attention head: out[0..size) = Σ_j softmax_j(scale · q·k_j) v_j over
// j < length, key and value rows `stride` floats apart; `scores` holds
// `length` floats of scratch.
void moe_attend_head_f32(const float *q, const float *keys, const float *values, size_t stride,
                         int64_t length, int64_t size, float scale, float *scores, float *out);

// ---- KV cache types ----------------------------------------------------------
// The element type of a KV cache row: F32 (exact), F16 (the default, as
// llama.cpp's) or Q8_0 (blocks of 32, so a head's size must be a multiple of 32).
typedef enum moe_kv_type { MOE_KV_F32 = 0, MOE_KV_F16 = 1, MOE_KV_Q8_0 = 2 } moe_kv_type;
enum { MOE_KV_TYPE_COUNT = 3 };

// Bytes of one cache row of n values.
size_t moe_kv_row_bytes(moe_kv_type type, int64_t n);
// Rounds n floats into one cache row (F16: nearest even; Q8_0: as quantize_row_q8_0_ref).
void moe_kv_store(moe_kv_type type, const float *x, void *row, int64_t n);
// moe_attend_head_f32 over a cache of `type`: key and value rows `stride`
// BYTES apart, `keys`/`values` at the head's first element of row 0.
void moe_attend_head_kv(moe_kv_type type, const float *q, const void *keys, const void *values, size_t stride,
                        int64_t length, int64_t size, float scale, float *scores, float *out);
// The same with the code for `isa` (which the CPU must support), for tests:
// a level without its own version for the type runs the next lower one.
void moe_attend_head_kv_isa(moe_kv_type type, moe_isa isa, const float *q, const void *keys, const void *values,
                            size_t stride, int64_t length, int64_t size, float scale, float *scores, float *out);

// Prompt attention for `rows` consecutive query positions of one head that
// attend from the same first cached row: row r (query q + r·qStride, output
// out + r·outStride) is moe_attend_head_kv over length + r rows. `scores`
// holds 4 · (length + rows) floats of scratch.
void moe_attend_block_kv(moe_kv_type type, const float *q, size_t qStride, int64_t rows, const void *keys,
                         const void *values, size_t stride, int64_t length, int64_t size, float scale, float *scores,
                         float *out, size_t outStride);
void moe_attend_block_kv_isa(moe_kv_type type, moe_isa isa, const float *q, size_t qStride, int64_t rows,
                             const void *keys, const void *values, size_t stride, int64_t length, int64_t size,
                             float scale, float *scores, float *out, size_t outStride);

// Decode attention for the `group` query heads that share one KV head, over
// an F16 cache: head g's query is q + g·size and its output out + g·size,
// each moe_attend_head_kv over the same keys and values, which are read once
// for the whole group. `scores` holds group · length floats of scratch.
// `maxima` and `sums` (group floats each, or NULL) receive each head's
// largest score and Σ exp(score − largest), for moe_attend_merge_parts.
void moe_attend_group_f16(const float *q, int64_t group, const void *keys, const void *values, size_t stride,
                          int64_t length, int64_t size, float scale, float *scores, float *out, float *maxima,
                          float *sums);
void moe_attend_group_f16_isa(moe_isa isa, const float *q, int64_t group, const void *keys, const void *values,
                              size_t stride, int64_t length, int64_t size, float scale, float *scores, float *out,
                              float *maxima, float *sums);
// `parts` results of moe_attend_group_f16 over consecutive pieces of one key
// range (outputs parts × heads × size, maxima and sums parts × heads) merged
// into the result over the whole range (heads × size).
void moe_attend_merge_parts(int64_t parts, int64_t heads, int64_t size, const float *outs, const float *maxima,
                            const float *sums, float *out);

// A pause hint for spin-wait loops (the thread pool's), so a spinning
// thread yields pipeline resources to its sibling hyperthread.
static inline void moe_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#ifdef __cplusplus
}
#endif

// Prompt processing of the q8_0-activation types in sixteen-row panels.
#include "gemm_q8_0.h"
