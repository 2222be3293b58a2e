#pragma once
// Q6_K weights repacked eight rows at a time (repack_q6_K*.c), as Q4_K's
// x8 layout (repack_q4_K.h), multiplied against q8_K activations.
//
// Block i of group k (rows 8k…8k+7), 1680 bytes = eight moe_block_q6_K:
// the eight d, the 16 signed sub-block scales of the eight rows
// sub-block-major (scales[8s + r]), then 16 steps t = 8h + p (half h, p <
// 8) of three 32-byte pieces in the order the kernel reads them: bytes
// ql[64h + 4p…+3], ql[64h + 32 + 4p…+3] and qh[4t…+3] of row r at 4r.
// A step gives values 128h + 4p + {0, 32, 64, 96}… of all eight rows. The
// order matters: with the three pieces in three separate runs, the reads
// jumped between three places of each block and ran 3× slower from memory
// than ggml's layout on Zen 4 (as four rows read side by side did,
// decode_rows.c).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint16_t d[8];
    int8_t scales[8 * 16];
    uint8_t q[16][3][32];
} moe_block_q6_Kx8;

void moe_repack_q6_K_x8(const void *src, void *dst, int64_t rows, int64_t n);
void moe_unpack_q6_K_x8(const void *src, void *dst, int64_t rows, int64_t n);  // the inverse
void moe_gemm_q6_Kx8_q8_K_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                              float *out, size_t out_stride, int64_t n);
void moe_gemm_q6_Kx8_q8_K_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX-512 VL + VNNI
void moe_gemm_q6_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                               float *out, size_t out_stride, int64_t n);  // AVX2 (the panel for m > 8)
// The AVX2 prompt panel (kpanel_avx2.c) on this layout, at any m.
void moe_gemm_panel_q6_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                     float *out, size_t out_stride, int64_t n);

#ifdef __cplusplus
}
#endif
