// Runs of weight rows against the same four activation rows (batched
// decoding of a few sequences, prompt tiles). The row loop is in C so a
// short row (SmolLM2's are 18 blocks) does not pay a call through Swift and
// four strided stores there: the Swift tile loop took 5.8 % of a four-stream
// step, this loop takes 3 %.
//
// Tried and not kept (single thread, AMD EPYC Zen 3): two weight rows per
// pass sharing the activation loads (10 % faster in cache, no faster in the
// model, where the weights stream from memory), four weight rows transposed
// in registers against broadcast activation groups (fewer instructions per
// block, same time), 64-bit weight broadcasts instead of the in-lane dword
// broadcast (slower). All run at 2.3–2.6 ns per weight block for four rows.

#include "ck_x86.h"

void moe_gemm4_rows(moe_gemm4_fn fn, const void *x, size_t x_stride, int64_t rows, const void *y,
                    size_t y_stride, const float *y_scales, float *out, size_t out_stride, int64_t n) {
    const uint8_t *w = x;
    for (int64_t r = 0; r < rows; r++) {
        float sums[4];
        fn(w + (size_t)r * x_stride, y, y_stride, y_scales, sums, n);
        for (int j = 0; j < 4; j++) out[(size_t)j * out_stride + (size_t)r] = sums[j];
    }
}
