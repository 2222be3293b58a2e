// Microbenchmark: Q4_K or Q6_K (-DKX8_Q6) in the x8 layout (repack_q4_K*.c,
// repack_q6_K*.c) against ggml's
// layout at the avx512vnni level, one thread, interleaved A/B, medians and
// best of 15: decode (one activation row) from memory over three layers of
// the 1.45 B llama's shapes (one-row dot_rows against gemm_x8), the same in
// cache (a 512 × 2048 matrix), and four activation rows in cache (gemm4
// over the rows against gemm_x8 with m = 4). Checks both against the
// reference dot.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/kx8_bench.c -o /tmp/q4_K_x8_bench -lm && /tmp/q4_K_x8_bench
//   (add -DKX8_Q6 -o /tmp/q6_K_x8_bench for Q6_K)
#include "ckernels.h"
#include "kquants.h"
#include "repack_q4_K.h"
#include "repack_q6_K.h"
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#ifdef KX8_Q6
#define KX8(prefix, suffix) prefix##q6_K##suffix
enum { BLOCK = 210 };
// d is the block's last two bytes
static void set_scales(uint8_t *blk) { uint16_t d = moe_fp32_to_fp16(0.001f); memcpy(blk + 208, &d, 2); }
#else
#define KX8(prefix, suffix) prefix##q4_K##suffix
enum { BLOCK = 144 };
static void set_scales(uint8_t *blk) {
    uint16_t d = moe_fp32_to_fp16(0.001f), dm = moe_fp32_to_fp16(0.0005f);
    memcpy(blk, &d, 2); memcpy(blk + 2, &dm, 2);
}
#endif
#define repack KX8(moe_repack_, _x8)
#define gemm_x8 KX8(moe_gemm_, x8_q8_K_vnni)
#define dot_ref KX8(moe_dot_, _q8_K_ref)
#define dot_rows KX8(moe_dot_rows_, _avx512vnni)
#define gemm4 KX8(moe_gemm4_, _q8_K_avx512vnni)
static void gemv_x8(const void *x, int64_t rows, const void *y, float *out, int64_t n) {
    gemm_x8(x, rows, y, 0, 1, out, 0, n);
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
enum { MATS = 21, REPEATS = 15 };
static const int shape[7][2] = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192}};

int main(void) {
    uint8_t *src[MATS], *dst[MATS];
    double bytes = 0;
    for (int m = 0; m < MATS; m++) {
        const size_t b = (size_t)shape[m % 7][0] * (shape[m % 7][1] / 256) * BLOCK;
        src[m] = aligned_alloc(64, b); dst[m] = aligned_alloc(64, b);
        for (size_t i = 0; i < b; i++) src[m][i] = (uint8_t)next();
        for (size_t o = 0; o < b; o += BLOCK) set_scales(src[m] + o);
        repack(src[m], dst[m], shape[m % 7][0], shape[m % 7][1]);
        bytes += (double)b;
    }
    static float x[8192], out[8192], out2[8192];
    for (int i = 0; i < 8192; i++) x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
    static uint8_t act[8192 / 256 * 292];
    moe_quantize_q8_K(x, act, 8192);
    // check
    double worst = 0;
    for (int m = 0; m < 7; m++) {
        const int rows = shape[m][0], n = shape[m][1];
        gemv_x8(dst[m], rows, act, out, n);
        for (int r = 0; r < rows; r++) {
            const float ref = dot_ref(src[m] + (size_t)r * (n / 256) * BLOCK, act, n);
            worst = fmax(worst, fabs(out[r] - ref) / (fabs(ref) + 1));
        }
    }
    printf("worst rel err %.2g\n", worst);
    double t[2][REPEATS];
    for (int rep = 0; rep < REPEATS; rep++)
        for (int v0 = 0; v0 < 2; v0++) {
            const int v = (v0 + rep) % 2;
            const double t0 = now();
            for (int m = 0; m < MATS; m++) {
                const int rows = shape[m % 7][0], n = shape[m % 7][1];
                if (v == 0) dot_rows(src[m], (size_t)(n / 256) * BLOCK, rows, act, out, n);
                else gemv_x8(dst[m], rows, act, out2, n);
            }
            t[v][rep] = now() - t0;
        }
    for (int v = 0; v < 2; v++) qsort(t[v], REPEATS, sizeof(double), cmp);
    printf("from memory (%.0f MB): dot_rows vnni %.2f GB/s (best %.2f)  x8 %.2f GB/s (best %.2f)  ratio %.2f\n", bytes / 1e6,
           bytes / t[0][REPEATS / 2] / 1e9, bytes / t[0][0] / 1e9, bytes / t[1][REPEATS / 2] / 1e9, bytes / t[1][0] / 1e9,
           t[0][REPEATS / 2] / t[1][REPEATS / 2]);
    // in cache: first 512x2048 matrix repeated
    for (int rep = 0; rep < REPEATS; rep++)
        for (int v0 = 0; v0 < 2; v0++) {
            const int v = (v0 + rep) % 2;
            const double t0 = now();
            for (int k = 0; k < 50; k++) {
                if (v == 0) dot_rows(src[1], 8 * BLOCK, 512, act, out, 2048);
                else gemv_x8(dst[1], 512, act, out2, 2048);
            }
            t[v][rep] = (now() - t0) / 50;
        }
    for (int v = 0; v < 2; v++) qsort(t[v], REPEATS, sizeof(double), cmp);
    printf("in cache: dot_rows %.2f ns/block (best %.2f)  x8 %.2f (best %.2f)\n", t[0][REPEATS / 2] * 1e9 / 4096, t[0][0] * 1e9 / 4096,
           t[1][REPEATS / 2] * 1e9 / 4096, t[1][0] * 1e9 / 4096);
    {
        static uint8_t act4[4 * 2048 / 256 * 292];
        static float xs[4 * 2048], sc[4 * 8], o4[4 * 512];
        for (int i = 0; i < 4 * 2048; i++) xs[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
        for (int j = 0; j < 4; j++) moe_quantize_q8_K(xs + 2048 * j, act4 + j * 8 * 292, 2048);
        moe_act_scales4_q8_K(act4, 8 * 292, sc, 2048);
        double w4 = 0;
        gemm_x8(dst[1], 512, act4, 8 * 292, 4, o4, 512, 2048);
        for (int j = 0; j < 4; j++) for (int r = 0; r < 512; r++) {
            const float ref = dot_ref(src[1] + (size_t)r * 8 * BLOCK, act4 + j * 8 * 292, 2048);
            w4 = fmax(w4, fabs(o4[j * 512 + r] - ref) / (fabs(ref) + 1));
        }
        printf("m=4 worst rel err %.2g\n", w4);
        for (int rep = 0; rep < REPEATS; rep++)
            for (int v0 = 0; v0 < 2; v0++) {
                const int v = (v0 + rep) % 2;
                const double t0 = now();
                for (int k = 0; k < 20; k++) {
                    if (v == 0) moe_gemm4_rows(gemm4, src[1], 8 * BLOCK, 512, act4, 8 * 292, sc, o4, 512, 2048);
                    else gemm_x8(dst[1], 512, act4, 8 * 292, 4, o4, 512, 2048);
                }
                t[v][rep] = (now() - t0) / 20;
            }
        for (int v = 0; v < 2; v++) qsort(t[v], REPEATS, sizeof(double), cmp);
        printf("4 activation rows in cache: gemm4 %.2f ns/block-row (best %.2f)  x8 %.2f (best %.2f), per 4 rows\n",
               t[0][REPEATS / 2] * 1e9 / 4096, t[0][0] * 1e9 / 4096, t[1][REPEATS / 2] * 1e9 / 4096, t[1][0] * 1e9 / 4096);
    }
    return 0;
}
