#pragma once
// Q5_K weights repacked eight rows at a time (repack_q5_K*.c): Q4_K's x8
// layout (repack_q4_K.h) plus the fifth bits, multiplied against q8_K
// activations.
//
// Block i of group k (rows 8k…8k+7), 1408 bytes = eight moe_block_q5_K:
// d, dmin, lo4 and hi2 exactly as in moe_block_q4_Kx8, then qh in eight
// 32-byte pieces (piece p holds bytes qh[4p…4p+3] of row r at 4r), then qs
// in 32 pieces as Q4_K's (piece 8c + p: qs[32c + 4p…+3] of row r at 4r).
// Bit 2c of a qh byte is the fifth bit of the low nibble of the matching qs
// byte in chunk c, bit 2c + 1 that of its high nibble (ggml's order), so
// one qh piece serves the four chunks' pieces p.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t d[8], dmin[8];
    uint8_t lo4[64], hi2[32];
    uint8_t qh[8 * 32];
    uint8_t qs[8 * 128];
} moe_block_q5_Kx8;

// rows must be a multiple of 8; src and dst hold rows × n/256 blocks each.
void moe_repack_q5_K_x8(const void *src, void *dst, int64_t rows, int64_t n);
void moe_unpack_q5_K_x8(const void *src, void *dst, int64_t rows, int64_t n);  // the inverse
// out[j * out_stride + r] = dot(row r, y_j) for `rows` (a multiple of 8)
// repacked rows and m q8_K activation rows y_stride bytes apart. _ref
// equals moe_dot_q5_K_q8_K_ref per row exactly.
void moe_gemm_q5_Kx8_q8_K_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n);
void moe_gemm_q5_Kx8_q8_K_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX-512 VL + VNNI
void moe_gemm_q5_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX2 (the panel for m > 8)
// The AVX2 prompt panel (kpanel_avx2.c) on this layout, at any m. The
// AVX2 products equal moe_dot_q5_K_q8_K_ref per row exactly.
void moe_gemm_panel_q5_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                     float *out, size_t out_stride, int64_t n);

#ifdef __cplusplus
}
#endif
