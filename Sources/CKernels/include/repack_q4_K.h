#pragma once
// Q4_K weights repacked eight rows at a time (repack_q4_K.c,
// repack_q4_K_vnni.c): the x8 layout of the Q4_1 one (ckernels.h) for
// 256-value K-quant blocks, multiplied against q8_K activations.
//
// Block i of group k (rows 8k…8k+7), 1152 bytes = eight moe_block_q4_K:
// the eight d, the eight dmin, the 64 six-bit sub-block scales and 64 mins
// ordered sub-block-major (index 8s + r), their low four bits in lo4 (scale
// low, min high nibble) and their top two bits in hi2 (byte q: scale q,
// min q, scale q+32, min q+32), then qs in 32-byte pieces: piece 8c + p
// holds bytes qs[32c + 4p … 32c + 4p + 3] of row r at 4r. A piece's low
// nibbles are values 64c + 4p… of the eight rows, its high nibbles values
// 64c + 32 + 4p…: one broadcast of four activation bytes and one vpdpbusd
// serve eight rows, with each lane one row's sum (no horizontal sums).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t d[8], dmin[8];
    uint8_t lo4[64], hi2[32];
    uint8_t qs[8 * 128];
} moe_block_q4_Kx8;

// rows must be a multiple of 8; src and dst hold rows × n/256 blocks each.
void moe_repack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t n);
void moe_unpack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t n);  // the inverse
// `rows` (a multiple of 8) repacked rows against m q8_K activation rows
// y_stride bytes apart: out[j * out_stride + r] = dot(row r, y_j). _ref
// equals moe_dot_q4_K_q8_K_ref per row exactly.
void moe_gemm_q4_Kx8_q8_K_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n);
void moe_gemm_q4_Kx8_q8_K_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX-512 VL + VNNI
void moe_gemm_q4_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);
// The AVX2 prompt panel (kpanel_avx2.h) alone, at any m (the entry above
// takes it for m > 8); bit for bit the entry's direct kernel.
void moe_gemm_panel_q4_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                     float *out, size_t out_stride, int64_t n);

#ifdef __cplusplus
}
#endif
