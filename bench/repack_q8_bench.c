// Microbenchmark: the Q8_0 output projection of SmolLM2-135M (49152 × 576,
// tied with the token embedding) in ggml's layout (moe_gemm4_q8_0_q8_0_avx2
// by rows with moe_act_scales4_q8_0, and moe_dotr4_q8_0_q8_0_avx2) against
// the x8 layout (repack_q8_0*.c), one thread. Three copies (85 MB) are
// used in turn so the weights stream from memory as in the model. Reports
// ns per weight block-row (32 weights of one row) for four activation rows
// and for one, median and best of the repeats.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/repack_q8_bench.c -o /tmp/repack_q8_bench -lm && /tmp/repack_q8_bench

#include "ckernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ROWS = 49152, N = 576, COPIES = 3, REPEATS = 15 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

static void *ggml[COPIES], *x8[COPIES];
static uint8_t act[4 * N / 32 * 34];
static float prep[N / 32 * 68];
static float *out;
static const size_t RB = N / 32 * 34, AB = N / 32 * 34;

static void old4(int c) {
    moe_act_scales4_q8_0(act, AB, prep, N);
    moe_gemm4_rows(moe_gemm4_q8_0_q8_0_avx2, ggml[c], RB, ROWS, act, AB, prep, out, ROWS, N);
}
static void old1(int c) {
    for (int r = 0; r < ROWS; r += 4) moe_dotr4_q8_0_q8_0_avx2((const uint8_t *)ggml[c] + r * RB, RB, act, out + r, N);
}
static void new4(int c) { moe_gemm_q8_0x8_q8_0_avx2(x8[c], ROWS, act, AB, 4, out, ROWS, N); }
static void new1(int c) { moe_gemm_q8_0x8_q8_0_avx2(x8[c], ROWS, act, AB, 1, out, ROWS, N); }

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(void) {
    const int nb = ROWS * N / 32;
    for (int c = 0; c < COPIES; c++) {
        moe_block_q8_0 *b = aligned_alloc(64, (size_t)nb * sizeof *b);
        for (int i = 0; i < nb; i++) {
            b[i].d = moe_fp32_to_fp16(0.001f + 0.01f * (float)(next() % 1000) / 1000.0f);
            for (int k = 0; k < 32; k++) b[i].qs[k] = (int8_t)(next() % 255 - 127);
        }
        ggml[c] = b;
        x8[c] = aligned_alloc(64, (size_t)nb * sizeof *b);
        moe_repack_q8_0_x8(ggml[c], x8[c], ROWS, N);
    }
    float x[4 * N];
    for (int i = 0; i < 4 * N; i++) x[i] = sinf((float)i * 0.37f) * 3.0f;
    for (int j = 0; j < 4; j++) moe_quantize_q8_0(x + j * N, act + (size_t)j * AB, N);
    out = malloc((size_t)4 * ROWS * sizeof(float));
    float *a = malloc((size_t)4 * ROWS * sizeof(float));
    old4(0); memcpy(a, out, (size_t)4 * ROWS * sizeof(float));
    new4(0);
    double worst = 0;
    for (int i = 0; i < 4 * ROWS; i++) worst = fmax(worst, fabs(a[i] - out[i]) / (fabs(a[i]) + 1e-3));
    printf("max relative difference old4/new4: %.2e\n", worst);
    void (*fns[4])(int) = {old4, new4, old1, new1};
    const char *names[4] = {"ggml 4 rows (gemm4_rows)", "x8   4 rows", "ggml 1 row (dotr4)", "x8   1 row"};
    double t[4][REPEATS];
    int c = 0;
    for (int rep = 0; rep < REPEATS; rep++)
        for (int f = 0; f < 4; f++) {
            c = (c + 1) % COPIES;
            const double start = now();
            fns[f](c);
            t[f][rep] = now() - start;
        }
    printf("49152 x 576 q8_0 (%.1f MB per copy, %d copies), ns per block-row:\n", nb * 34 / 1e6, COPIES);
    for (int f = 0; f < 4; f++) {
        qsort(t[f], REPEATS, sizeof(double), cmp);
        printf("  %-26s median %.3f  best %.3f  (%.2f GB/s)\n", names[f], t[f][REPEATS / 2] / nb * 1e9,
               t[f][0] / nb * 1e9, nb * 34.0 / t[f][REPEATS / 2] / 1e9);
    }
    return 0;
}
