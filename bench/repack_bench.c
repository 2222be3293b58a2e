// Microbenchmark: Q4_1 products in ggml's layout (the kernels the model used
// before repacking) against the x8 layout (repack_q4_1*.c), one thread, on
// SmolLM2-135M's matrix shapes: 30 layers of q, k, v, o (576 × 576, 192 ×
// 576 twice, 576 × 576), gate, up (1536 × 576) and down (576 × 1536), 66 MB
// of weights, so as in the model they stream from memory. Reports ns per
// weight block-row (32 weights of one row) for one and four activation rows,
// median and best of the repeats, plus an in-cache figure on one matrix.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/repack_bench.c -o /tmp/repack_bench -lm && /tmp/repack_bench

#include "ckernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { LAYERS = 30, MATS = 7, REPEATS = 15 };
static const int shape[MATS][2] = {{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

static void *random_q4_1(int rows, int n) {
    const int nb = rows * n / 32;
    moe_block_q4_1 *b = aligned_alloc(64, (size_t)nb * sizeof *b);
    for (int i = 0; i < nb; i++) {
        b[i].d = moe_fp32_to_fp16(0.001f + 0.01f * (float)(next() % 1000) / 1000.0f);
        b[i].m = moe_fp32_to_fp16(-0.05f * (float)(next() % 1000) / 1000.0f);
        for (int k = 0; k < 16; k++) b[i].qs[k] = (uint8_t)next();
    }
    return b;
}

typedef struct { void *ggml, *x8; int rows, n; } matrix;
static matrix model[LAYERS][MATS];
static void *act[2];      // four q8_1 rows for n = 576 and n = 1536
static float *prep[2];    // moe_act_scales4_q8_1 of them
static float out[4 * 1536];

static int which(int n) { return n == 576 ? 0 : 1; }

static void old4(const matrix *w) {
    const int k = which(w->n);
    const size_t ab = (size_t)w->n / 32 * 36;
    moe_act_scales4_q8_1(act[k], ab, prep[k], w->n);  // once per product, as MatmulContext does
    moe_gemm4_rows(moe_gemm4_q4_1_q8_1_avx2, w->ggml, (size_t)w->n / 32 * 20, w->rows, act[k], ab, prep[k], out,
                   (size_t)w->rows, w->n);
}
static void old1(const matrix *w) {
    const size_t rb = (size_t)w->n / 32 * 20;
    for (int r = 0; r < w->rows; r += 4)
        moe_dotr4_q4_1_q8_1_avx2((const uint8_t *)w->ggml + r * rb, rb, act[which(w->n)], out + r, w->n);
}
static void new4(const matrix *w) {
    moe_gemm_q4_1x8_q8_1_avx2(w->x8, w->rows, act[which(w->n)], (size_t)w->n / 32 * 36, 4, out, (size_t)w->rows, w->n);
}
static void new1(const matrix *w) {
    moe_gemm_q4_1x8_q8_1_avx2(w->x8, w->rows, act[which(w->n)], (size_t)w->n / 32 * 36, 1, out, (size_t)w->rows, w->n);
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(void) {
    double blocks = 0;
    for (int l = 0; l < LAYERS; l++)
        for (int m = 0; m < MATS; m++) {
            matrix *w = &model[l][m];
            w->rows = shape[m][0];
            w->n = shape[m][1];
            w->ggml = random_q4_1(w->rows, w->n);
            w->x8 = aligned_alloc(64, (size_t)w->rows * w->n / 32 * 20);
            moe_repack_q4_1_x8(w->ggml, w->x8, w->rows, w->n);
            blocks += (double)w->rows * w->n / 32;
        }
    for (int k = 0; k < 2; k++) {
        const int n = k == 0 ? 576 : 1536;
        float x[4 * 1536];
        for (int i = 0; i < 4 * n; i++) x[i] = sinf((float)i * 0.37f) * 3.0f;
        act[k] = malloc((size_t)4 * n / 32 * 36);
        for (int j = 0; j < 4; j++) moe_quantize_q8_1(x + j * n, (uint8_t *)act[k] + (size_t)j * n / 32 * 36, n);
        prep[k] = malloc((size_t)n / 32 * 40 * sizeof(float));
    }
    // correctness: the two layouts agree on one matrix
    {
        const matrix *w = &model[0][6];
        float a[4 * 576], b[4 * 576];
        old4(w); memcpy(a, out, sizeof a);
        new4(w); memcpy(b, out, sizeof b);
        double worst = 0;
        for (int i = 0; i < 4 * 576; i++) worst = fmax(worst, fabs(a[i] - b[i]) / (fabs(a[i]) + 1e-3));
        printf("max relative difference old4/new4: %.2e\n", worst);
    }
    void (*fns[4])(const matrix *) = {old4, new4, old1, new1};
    const char *names[4] = {"ggml 4 rows (gemm4_rows)", "x8   4 rows", "ggml 1 row (dotr4)", "x8   1 row"};
    double t[4][REPEATS];
    for (int rep = 0; rep < REPEATS; rep++)
        for (int f = 0; f < 4; f++) {
            const double start = now();
            for (int l = 0; l < LAYERS; l++)
                for (int m = 0; m < MATS; m++) fns[f](&model[l][m]);
            t[f][rep] = now() - start;
        }
    printf("model-sized (%.0f MB, streamed), ns per block-row:\n", blocks * 20 / 1e6);
    for (int f = 0; f < 4; f++) {
        qsort(t[f], REPEATS, sizeof(double), cmp);
        printf("  %-26s median %.3f  best %.3f  (%.2f GB/s)\n", names[f], t[f][REPEATS / 2] / blocks * 1e9,
               t[f][0] / blocks * 1e9, blocks * 20 / t[f][REPEATS / 2] / 1e9);
    }
    // in cache: one gate matrix (553 KB, in L2/L3) many times
    const matrix *w = &model[0][4];
    const double wb = (double)w->rows * w->n / 32;
    printf("in cache (1536 x 576), ns per block-row:\n");
    for (int f = 0; f < 4; f++) {
        double best = 1e9;
        for (int rep = 0; rep < 200; rep++) {
            const double start = now();
            fns[f](w);
            best = fmin(best, now() - start);
        }
        printf("  %-26s best %.3f\n", names[f], best / wb * 1e9);
    }
    return 0;
}
