#pragma once
// Q8_0 weights repacked eight rows at a time (repack_q8_0*.c), multiplied
// against q8_0 activations: the decode layout of Q8_0 files and of the
// Q8_0 matrices in Q4_K_M files (Qwen2.5-0.5B's output matrix, SmolLM2's
// tied token embedding), and the rows the embedding lookup reads.
//
// Block i of group k (rows 8k…8k+7), 272 bytes = eight moe_block_q8_0:
// - d[r]: row r's scale;
// - qs in four 64-byte chunks: byte 64p + 8r + t is row r's value 8p + t
//   made unsigned, u = q ^ 0x80 = q + 128 (p < 4, t < 8).
// Chunk p, qword r, lines up with activation bytes 8p…8p+7 broadcast to
// every qword, so one load per chunk serves eight weight rows with no
// unpacking (x8_q8_0_vnni.h), and vpdpbusd takes the biased bytes as its
// unsigned operand: Σq·y = Σu·y − 128·Σy.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t d[8];
    uint8_t qs[256];
} moe_block_q8_0x8;

// rows must be a multiple of 8; src and dst hold rows × n/32 blocks each.
void moe_repack_q8_0_x8(const void *src, void *dst, int64_t rows, int64_t n);
void moe_unpack_q8_0_x8(const void *src, void *dst, int64_t rows, int64_t n);  // the inverse
// Row `row` of a repacked matrix of n columns, as floats: exactly
// moe_dequant_q8_0 of the original row (the token-embedding lookup).
void moe_dequant_row_q8_0_x8(const void *x, int64_t row, float *y, int64_t n);
// out[j * out_stride + r] = dot(row r, y_j) for `rows` (a multiple of 8)
// repacked rows and m q8_0 activation rows y_stride bytes apart. _ref
// equals moe_dot_q8_0_q8_0_ref per row exactly; _vnni too for m < 8 (the
// same integer block sums and float steps in the same order), and to
// rounding from 8 rows (the sixteen-row panel, FMA).
void moe_gemm_q8_0x8_q8_0_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n);
// AVX2 (repack_q8_0_avx2.c; from 12 rows x8_panel_avx2.h): equals
// moe_dot_q8_0_q8_0_ref per row exactly, any m.
void moe_gemm_q8_0x8_q8_0_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);
void moe_gemm_q8_0x8_q8_0_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX-512 BW/VL + VNNI

#ifdef __cplusplus
}
#endif
