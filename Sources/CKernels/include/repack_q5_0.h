#pragma once
// Q5_0 weights repacked eight rows at a time (repack_q5_0*.c), multiplied
// against q8_0 activations: the decode layout of the Q5_0 matrices that
// make up most of Qwen2.5-0.5B-class Q4_K_M files (896-wide rows, which
// K-quants do not divide).
//
// Block i of group k (rows 8k…8k+7), 176 bytes = eight moe_block_q5_0:
// - d[r]: row r's scale;
// - hmask[p] (p < 4): byte r is byte p of row r's qh, i.e. the fifth bits
//   of values 8p…8p+7 of row r. Read as a 64-bit mask it has bit 8r + t
//   for value 8p + t of row r: one mask register per eight-value pair;
// - qs in two 64-byte chunks: byte 64h + 8r + t is qs[8h + t] of row r
//   (h < 2, t < 8), whose low nibble is value 8h + t and high nibble value
//   16 + 8h + t.
// A 64-byte chunk's low nibbles, dword 2r and 2r + 1, are values 8h…8h+7
// of row r, which line up with activation bytes 8h…8h+7 broadcast to every
// qword; its high nibbles with bytes 16 + 8h…. So one broadcast load per
// pair serves eight weight rows, and the fifth bits are one masked add.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t d[8];
    uint64_t hmask[4];
    uint8_t qs[128];
} moe_block_q5_0x8;

// rows must be a multiple of 8; src and dst hold rows × n/32 blocks each.
void moe_repack_q5_0_x8(const void *src, void *dst, int64_t rows, int64_t n);
void moe_unpack_q5_0_x8(const void *src, void *dst, int64_t rows, int64_t n);  // the inverse
// out[j * out_stride + r] = dot(row r, y_j) for `rows` (a multiple of 8)
// repacked rows and m q8_0 activation rows y_stride bytes apart. _ref
// equals moe_dot_q5_0_q8_0_ref per row exactly; _vnni too (the same integer
// block sums and float steps in the same order).
void moe_gemm_q5_0x8_q8_0_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n);
// AVX2 (repack_q5_0_avx2.c): equals moe_dot_q5_0_q8_0_ref per row exactly, any m.
void moe_gemm_q5_0x8_q8_0_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);
void moe_gemm_q5_0x8_q8_0_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX-512 BW/VL + VNNI

#ifdef __cplusplus
}
#endif
