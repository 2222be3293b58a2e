#pragma once
// Prompt processing (matrix × matrix) for the weight types whose
// activations are q8_0: Q8_0, Q5_0 and Q4_0 (gemm_q8_0*.c).
//
// A run of weight rows in ggml's layout against m activation rows: the
// weights are unpacked sixteen rows at a time into a small panel (unsigned
// bytes, transposed so that one 512-bit register holds the same four values
// of the sixteen rows), once per call, and every activation row then takes
// the panel with eight vpdpbusd per block, its values broadcast straight
// from its q8_0 block. The panel outlives all m rows, so each weight block
// is unpacked once per call, not once per four activation rows.

#include <stddef.h>
#include <stdint.h>
#include "ckernels.h"

#ifdef __cplusplus
extern "C" {
#endif

// Floats moe_gemm16_prep_q8_0 writes per activation block: its scale d as
// a float and −Σq as int32 bits (the kernels' offset correction).
enum { MOE_GEMM16_PREP_PER_BLOCK = 2 };

// prep[2 * (j * n/32 + i)…+1] for block i of activation row j (m rows
// y_stride bytes apart).
void moe_gemm16_prep_q8_0(const void *y, size_t y_stride, int64_t m, float *prep, int64_t n);

// out[j * out_stride + r] = dot(x + r * x_stride, y + j * y_stride) for
// r < rows, j < m; y_prep from moe_gemm16_prep_q8_0 for the same rows.
typedef void (*moe_gemm16_fn)(const void *x, size_t x_stride, int64_t rows, const void *y, size_t y_stride,
                              const float *y_prep, int64_t m, float *out, size_t out_stride, int64_t n);
#define MOE_GEMM16_ARGS const void *x, size_t x_stride, int64_t rows, const void *y, size_t y_stride, \
                        const float *y_prep, int64_t m, float *out, size_t out_stride, int64_t n
void moe_gemm16_q8_0_vnni(MOE_GEMM16_ARGS);  // AVX-512 F/BW/VL + VNNI
void moe_gemm16_q5_0_vnni(MOE_GEMM16_ARGS);
void moe_gemm16_q4_0_vnni(MOE_GEMM16_ARGS);
// Q5_0 in the x8 layout (repack_q5_0.h): x_stride is a row's bytes, rows a
// multiple of 8 (the x8 product's prompt path, repack_q5_0_vnni.c).
void moe_gemm16_q5_0x8_vnni(MOE_GEMM16_ARGS);
void moe_gemm16_q8_0x8_vnni(MOE_GEMM16_ARGS);  // Q8_0 in its x8 layout (repack_q8_0.h)

// The kernel for weights of ggml type `type` at `isa` (which the CPU must
// support), or NULL where that level has none (then the four-row path runs).
moe_gemm16_fn moe_gemm16_get(uint32_t type, moe_isa isa);
// The kernel for weights of that type in its x8 layout (rows a multiple
// of 8, x_stride a row's bytes), or NULL.
moe_gemm16_fn moe_gemm16_x8_get(uint32_t type, moe_isa isa);

#ifdef __cplusplus
}
#endif
