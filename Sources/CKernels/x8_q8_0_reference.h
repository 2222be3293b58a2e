#pragma once
// The scalar reference product the eight-row layouts read against q8_0
// activations share (repack_q5_0.c, repack_q8_0.c): per block and row the
// integer sum and float step of the one-row reference dot, so the two
// agree bit for bit. Each eight-row block starts with its rows' eight
// binary16 scales `d`.

#include <stddef.h>
#include <stdint.h>

// Signed value v (0-31) of row r (0-7) in the eight-row block `group`.
typedef int (*ck_x8_value_fn)(const void *group, int r, int v);

void ck_x8_q8_0_gemm_ref(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m, float *out,
                         size_t out_stride, int64_t n, size_t group_bytes, ck_x8_value_fn value);
