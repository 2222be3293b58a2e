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

#define CK_GEMM4_AHEAD 4

// The row loop; `ahead`: fetch each row CK_GEMM4_AHEAD rows on, whole,
// before its turn (batched decoding, moe_gemm4_rows_ahead).
static inline __attribute__((always_inline)) void
ck_gemm4_rows(moe_gemm4_fn fn, const void *x, size_t x_stride, int64_t rows, const void *y, size_t y_stride,
              const float *y_scales, float *out, size_t out_stride, int64_t n, int ahead) {
    const uint8_t *w = x;
    for (int64_t r = 0; r < rows; r++) {
        if (ahead && r + CK_GEMM4_AHEAD < rows) {
            const char *next = (const char *)w + (size_t)(r + CK_GEMM4_AHEAD) * x_stride;
            for (size_t at = 0; at < x_stride; at += 64) _mm_prefetch(next + at, _MM_HINT_T0);
        }
        float sums[4];
        fn(w + (size_t)r * x_stride, y, y_stride, y_scales, sums, n);
        for (int j = 0; j < 4; j++) out[(size_t)j * out_stride + (size_t)r] = sums[j];
    }
}

void moe_gemm4_rows(moe_gemm4_fn fn, const void *x, size_t x_stride, int64_t rows, const void *y,
                    size_t y_stride, const float *y_scales, float *out, size_t out_stride, int64_t n) {
    ck_gemm4_rows(fn, x, x_stride, rows, y, y_stride, y_scales, out, out_stride, n, 0);
}

// Batched decoding streams each weight row from memory once, and the
// one-row-at-a-time loop left the kernel waiting on its weight loads (a
// third of moe_gemm4_q8_0_q8_0_vnni's samples on the load's first use,
// perf annotate, 0.3B Q8_0, four streams): the hardware prefetcher does not
// run far enough ahead of a loop this dense. Four rows ahead (2.4–8.7 KB at
// 576–2048 Q8_0 columns) took the 0.3B Q8_0 file's four streams from
// 1.75–1.85× to 2.04–2.18× one stream (docs/performance.md). Prompt tiles
// keep moe_gemm4_rows: their rows are in cache after the first activation
// group, where the prefetches cost 1–6 % (SmolLM2 Q8_0, AVX2, 512 tokens).
void moe_gemm4_rows_ahead(moe_gemm4_fn fn, const void *x, size_t x_stride, int64_t rows, const void *y,
                          size_t y_stride, const float *y_scales, float *out, size_t out_stride, int64_t n) {
    ck_gemm4_rows(fn, x, x_stride, rows, y, y_stride, y_scales, out, out_stride, n, 1);
}
