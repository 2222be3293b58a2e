// Decoding (one activation row) over a run of weight rows, one row after
// the other: out[r] = dot(x + r·x_stride, y).
//
// A matrix's rows are contiguous, so taking them one at a time reads the
// whole run as one sequential stream, which the hardware prefetchers follow
// at the full read bandwidth. Taking four rows side by side (dotr4: one
// activation load for four rows) makes four streams a row apart inside the
// same pages; on AMD EPYC (Zen 4) that read Q8_0 at 7–14 GB/s where one row
// at a time reads 16–25 GB/s (bench/decode_rows_bench.c), software
// prefetches at any distance or cache level did not recover it, and two
// rows side by side were as slow as four. The one-row dots have the compute
// to spare (in cache: Q8_0 ~1.1 ns per 34-byte block, ~31 GB/s).
//
// Each wrapper calls its level's one-row dot, so the loop costs one call per
// row and no call through Swift.

#include "ckernels.h"
#include "kquants.h"

#define CK_DOT_ROWS(name, dot)                                                                    \
    void name(const void *x, size_t x_stride, int64_t rows, const void *y, float *out, int64_t n) { \
        const uint8_t *w = x;                                                                     \
        for (int64_t r = 0; r < rows; r++) out[r] = dot(w + (size_t)r * x_stride, y, n);          \
    }

CK_DOT_ROWS(moe_dot_rows_q4_0_avx2, moe_dot_q4_0_q8_0_avx2)
CK_DOT_ROWS(moe_dot_rows_q4_1_avx2, moe_dot_q4_1_q8_1_avx2)
CK_DOT_ROWS(moe_dot_rows_q5_0_avx2, moe_dot_q5_0_q8_0_avx2)
CK_DOT_ROWS(moe_dot_rows_q5_1_avx2, moe_dot_q5_1_q8_1_avx2)
CK_DOT_ROWS(moe_dot_rows_q8_0_avx2, moe_dot_q8_0_q8_0_avx2)
CK_DOT_ROWS(moe_dot_rows_q4_0_vnni, moe_dot_q4_0_q8_0_vnni)
CK_DOT_ROWS(moe_dot_rows_q5_0_vnni, moe_dot_q5_0_q8_0_vnni)
CK_DOT_ROWS(moe_dot_rows_q5_1_vnni, moe_dot_q5_1_q8_1_vnni)

CK_DOT_ROWS(moe_dot_rows_q4_K_avx2, moe_dot_q4_K_q8_K_avx2)
CK_DOT_ROWS(moe_dot_rows_q5_K_avx2, moe_dot_q5_K_q8_K_avx2)
CK_DOT_ROWS(moe_dot_rows_q6_K_avx2, moe_dot_q6_K_q8_K_avx2)
CK_DOT_ROWS(moe_dot_rows_q4_K_avx512, moe_dot_q4_K_q8_K_avx512)
CK_DOT_ROWS(moe_dot_rows_q5_K_avx512, moe_dot_q5_K_q8_K_avx512)
CK_DOT_ROWS(moe_dot_rows_q6_K_avx512, moe_dot_q6_K_q8_K_avx512)
CK_DOT_ROWS(moe_dot_rows_q4_K_avx512vnni, moe_dot_q4_K_q8_K_avx512vnni)
CK_DOT_ROWS(moe_dot_rows_q5_K_avx512vnni, moe_dot_q5_K_q8_K_avx512vnni)
CK_DOT_ROWS(moe_dot_rows_q6_K_avx512vnni, moe_dot_q6_K_q8_K_avx512vnni)
