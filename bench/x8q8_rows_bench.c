// Microbenchmark: the Q8_0 and Q5_0 x8 decode products (x8_q8_0_vnni.h) at
// avx512vnni for one to seven activation rows (several streams decoding at
// once), one thread, in L2 (one 512 × 1024 matrix) and from memory (six
// 4864 × 896 matrices, Qwen2.5-0.5B's FFN shape, past the last-level
// cache): median and best of 31 passes in µs per matrix, ns per block of
// eight weight rows, and as a multiple of the one-row call. Checks every
// result against the reference product bit for bit first.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include -ISources/CKernels \
//         Sources/CKernels/*.c bench/x8q8_rows_bench.c -o /tmp/x8q8_rows_bench -lm && /tmp/x8q8_rows_bench
#include "ckernels.h"
#include "repack_q5_0.h"
#include "repack_q8_0.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef void (*gemm_fn)(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
typedef void (*repack_fn)(const void *, void *, int64_t, int64_t);
enum { MAXM = 7, REPEATS = 31 };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static void fill_blocks(uint8_t *p, size_t bytes, size_t bb) {
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)next();
    for (size_t o = 0; o < bytes; o += bb) { uint16_t d = moe_fp32_to_fp16(0.001f + (next() % 100) * 1e-5f); memcpy(p + o, &d, 2); }
}
static void run(const char *name, size_t bb, repack_fn repack, gemm_fn vnni, gemm_fn ref, int64_t rows, int64_t n, int mats) {
    const int64_t nb = n / 32;
    const size_t wb = (size_t)rows * nb * bb, ys = (size_t)nb * sizeof(moe_block_q8_0);
    uint8_t **w = malloc(sizeof(uint8_t *) * mats), *raw = malloc(wb);
    for (int k = 0; k < mats; k++) { w[k] = aligned_alloc(64, (wb + 63) / 64 * 64 + 64 * 8); fill_blocks(raw, wb, bb); repack(raw, w[k], rows, n); }
    uint8_t *y = malloc(ys * MAXM);
    float *x = malloc(sizeof(float) * n);
    for (int j = 0; j < MAXM; j++) { for (int64_t i = 0; i < n; i++) x[i] = ((int)(next() % 2001) - 1000) / 1000.0f; moe_quantize_q8_0(x, y + j * ys, n); }
    float *out = malloc(sizeof(float) * rows * MAXM), *want = malloc(sizeof(float) * rows * MAXM);
    int bad = 0;
    for (int m = 1; m <= MAXM; m++) {
        vnni(w[mats - 1], rows, y, ys, m, out, rows, n);
        ref(w[mats - 1], rows, y, ys, m, want, rows, n);
        bad += memcmp(out, want, sizeof(float) * rows * m) != 0;
    }
    printf("%s %lld x %lld x%d: %s\n", name, (long long)rows, (long long)n, mats, bad ? "NOT bit-exact  FAILED" : "bit-exact");
    double one = 0;
    for (int m = 1; m <= MAXM; m++) {
        double t[REPEATS];
        for (int rep = 0; rep < REPEATS; rep++) {
            const double t0 = now();
            for (int k = 0; k < mats; k++) vnni(w[k], rows, y, ys, m, out, rows, n);
            t[rep] = (now() - t0) / mats;
        }
        qsort(t, REPEATS, sizeof(double), cmpd);
        const double d = t[REPEATS / 2];
        if (m == 1) one = d;
        printf("  m=%d  %.1f us  %.2f ns/block  %.2fx one row  best %.1f us\n", m, d * 1e6, d * 1e9 / (rows / 8 * nb),
               d / one, t[0] * 1e6);
    }
    for (int k = 0; k < mats; k++) free(w[k]);
    free(w); free(raw); free(y); free(x); free(out); free(want);
}
int main(void) {
    if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512vl")) { printf("skipped: no AVX-512 VNNI here\n"); return 0; }
    run("q8_0 x8", sizeof(moe_block_q8_0), moe_repack_q8_0_x8, moe_gemm_q8_0x8_q8_0_vnni, moe_gemm_q8_0x8_q8_0_ref, 512, 1024, 1);
    run("q8_0 x8", sizeof(moe_block_q8_0), moe_repack_q8_0_x8, moe_gemm_q8_0x8_q8_0_vnni, moe_gemm_q8_0x8_q8_0_ref, 4864, 896, 6);
    run("q5_0 x8", sizeof(moe_block_q5_0), moe_repack_q5_0_x8, moe_gemm_q5_0x8_q8_0_vnni, moe_gemm_q5_0x8_q8_0_ref, 512, 1024, 1);
    run("q5_0 x8", sizeof(moe_block_q5_0), moe_repack_q5_0_x8, moe_gemm_q5_0x8_q8_0_vnni, moe_gemm_q5_0x8_q8_0_ref, 4864, 896, 6);
    return 0;
}
