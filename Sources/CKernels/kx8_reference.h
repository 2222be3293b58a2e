#pragma once
// What the K-quant eight-row layouts' scalar side shares (repack_q4_K.c,
// repack_q5_K.c, repack_q6_K.c): the inverse of the repack and the
// reference product, both walking groups of eight rows block by block and
// taking one row's ggml block out of a group's block with the type's `row`
// function.

#include <stddef.h>
#include <stdint.h>

// Row r (0-7) of the eight-row block `group` as a ggml block at `out`.
typedef void (*ck_kx8_row_fn)(const void *group, int r, void *out);
// A one-row reference dot: ggml blocks x against q8_K blocks y, n values.
typedef float (*ck_kx8_dot_fn)(const void *x, const void *y, int64_t n);

// The x8 blocks of `src` back into ggml's rows at `dst`; `block_bytes` is
// one ggml block (an eight-row block is eight of them).
void ck_kx8_unpack(const void *src, void *dst, int64_t rows, int64_t n, size_t block_bytes, ck_kx8_row_fn row);

// out[j * out_stride + r] = the one-row reference dot of weight row r and
// activation row j, each block's term that dot on the one block (0 + term
// is the term exactly), summed in block order as the reference sums them,
// so the two agree bit for bit.
void ck_kx8_gemm_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m, float *out,
                     size_t out_stride, int64_t n, size_t block_bytes, ck_kx8_row_fn row, ck_kx8_dot_fn dot);
