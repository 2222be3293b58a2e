// Microbenchmark: the Q4_K and Q6_K x8 products at avx2 and avx512vnni (the
// levels this CPU has) for two to
// eight activation rows (several streams decoding at once), from memory,
// one thread: matrices of the synthetic 1.5B's FFN shape (8192 × 2048, six
// of them, far beyond the last-level cache), each call against m rows, the
// direct kernel (weights unpacked in registers once per block for all rows)
// against the entry point (the panel from nine rows on), interleaved, median
// and best of 31 passes, in ms per matrix and as a multiple of the one-row call.
// Checks both against the reference dot first.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include -ISources/CKernels \
//         Sources/CKernels/*.c bench/kx8_rows_bench.c -o /tmp/kx8_rows_bench -lm && /tmp/kx8_rows_bench
#include "ckernels.h"
#include "kquants.h"
#include "repack_q4_K.h"
#include "repack_q6_K.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
void ck_gemm_q4_Kx8_q8_K_vnni_direct(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
void ck_gemm_q6_Kx8_q8_K_vnni_direct(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
void ck_gemm_q4_Kx8_q8_K_avx2_direct(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
void ck_gemm_q6_Kx8_q8_K_avx2_direct(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
typedef void (*gemm_fn)(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
typedef float (*dot_fn)(const void *, const void *, int64_t);
enum { ROWS = 8192, N = 2048, NB = N / 256, MATS = 6, REPEATS = 31 };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static void fill_blocks(uint8_t *p, size_t bytes, size_t bb, int dofs) {
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)next();
    for (size_t o = 0; o < bytes; o += bb) {
        uint16_t d = moe_fp32_to_fp16(0.001f), dm = moe_fp32_to_fp16(0.0005f);
        memcpy(p + o + dofs, &d, 2);
        if (dofs == 0) memcpy(p + o + 2, &dm, 2);
    }
}
static void run(const char *name, size_t bb, int dofs, moe_repack_fn repack, gemm_fn direct, gemm_fn entry, dot_fn ref) {
    const size_t wb = (size_t)ROWS * NB * bb, ys = (size_t)NB * 292;
    uint8_t *w[MATS], *raw = malloc(wb);
    for (int k = 0; k < MATS; k++) { w[k] = aligned_alloc(64, wb); fill_blocks(raw, wb, bb, dofs); repack(raw, w[k], ROWS, N); }
    uint8_t *y = malloc(ys * 8);
    static float x[N];
    for (int j = 0; j < 8; j++) { for (int i = 0; i < N; i++) x[i] = ((int)(next() % 2001) - 1000) / 1000.0f; moe_quantize_q8_K(x, y + j * ys, N); }
    float *out = malloc(sizeof(float) * ROWS * 8);
    double worst = 0;  // the last matrix against the reference, rows 0..63
    for (int v = 0; v < 2; v++)
        for (int m = 1; m <= 8; m++) {
            (v ? entry : direct)(w[MATS - 1], ROWS, y, ys, m, out, ROWS, N);
            for (int j = 0; j < m; j++)
                for (int r = 0; r < 64; r++) {
                    const float e = ref(raw + (size_t)r * NB * bb, y + j * ys, N);
                    const double err = fabs(out[j * ROWS + r] - e) / (fabs(e) + 1);
                    if (err > worst) worst = err;
                }
        }
    printf("%s: worst relative error %.3g%s\n", name, worst, worst < 1e-4 ? "" : "  FAILED");
    double one = 0;
    for (int m = 1; m <= 8; m++) {
        double t[2][REPEATS];
        for (int rep = 0; rep < REPEATS; rep++)
            for (int v = 0; v < 2; v++) {
                const double t0 = now();
                for (int k = 0; k < MATS; k++) (v ? entry : direct)(w[k], ROWS, y, ys, m, out, ROWS, N);
                t[v][rep] = (now() - t0) / MATS;
            }
        qsort(t[0], REPEATS, sizeof(double), cmpd);
        qsort(t[1], REPEATS, sizeof(double), cmpd);
        const double d = t[0][REPEATS / 2], e = t[1][REPEATS / 2];
        if (m == 1) one = d;
        printf("  m=%d  direct %.3f ms (%.2fx one row; best %.3f)  entry %.3f ms (%.2fx; best %.3f)\n", m, d * 1e3, d / one,
               t[0][0] * 1e3, e * 1e3, e / one, t[1][0] * 1e3);
    }
    for (int k = 0; k < MATS; k++) free(w[k]);
    free(raw); free(y); free(out);
}
int main(void) {
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        run("q4_K x8 avx2", 144, 0, moe_repack_q4_K_x8, ck_gemm_q4_Kx8_q8_K_avx2_direct, moe_gemm_q4_Kx8_q8_K_avx2, moe_dot_q4_K_q8_K_ref);
        run("q6_K x8 avx2", 210, 208, moe_repack_q6_K_x8, ck_gemm_q6_Kx8_q8_K_avx2_direct, moe_gemm_q6_Kx8_q8_K_avx2, moe_dot_q6_K_q8_K_ref);
    } else printf("avx2: skipped: no AVX2/FMA/F16C here\n");
    if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512vl")) { printf("avx512vnni: skipped: no AVX-512 VNNI here\n"); return 0; }
    run("q4_K x8 vnni", 144, 0, moe_repack_q4_K_x8, ck_gemm_q4_Kx8_q8_K_vnni_direct, moe_gemm_q4_Kx8_q8_K_vnni, moe_dot_q4_K_q8_K_ref);
    run("q6_K x8 vnni", 210, 208, moe_repack_q6_K_x8, ck_gemm_q6_Kx8_q8_K_vnni_direct, moe_gemm_q6_Kx8_q8_K_vnni, moe_dot_q6_K_q8_K_ref);
    return 0;
}
