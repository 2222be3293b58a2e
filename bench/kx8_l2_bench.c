// Microbenchmark: the Q4_K, Q5_K and Q6_K x8 direct products at avx2 for one to
// four activation rows (one to four streams decoding together) with the
// weights in L2 (256 rows × 2048 values: 295 KB of Q4_K, 360 KB of Q5_K,
// 430 KB of Q6_K), so the figure is the kernel's compute, not the memory's:
// per-thread CPU time, best of 15 runs of 200 calls, in ns per block-row
// (256 values of one weight row) and activation row. docs/performance.md
// items 44 and 45 took their figures with this. Checks the products against the
// reference dot first.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include -ISources/CKernels \
//         Sources/CKernels/*.c bench/kx8_l2_bench.c -o /tmp/kx8_l2_bench -lm && /tmp/kx8_l2_bench
#include "ckernels.h"
#include "kquants.h"
#include "repack_q4_K.h"
#include "repack_q5_K.h"
#include "repack_q6_K.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
void ck_gemm_q4_Kx8_q8_K_avx2_direct(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
void ck_gemm_q5_Kx8_q8_K_avx2_direct(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
void ck_gemm_q6_Kx8_q8_K_avx2_direct(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
typedef void (*gemm_fn)(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
typedef float (*dot_fn)(const void *, const void *, int64_t);
enum { ROWS = 256, N = 2048, NB = N / 256, CALLS = 200, RUNS = 15 };
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint32_t rng = 1;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
static void run(const char *name, size_t bb, int dofs, moe_repack_fn repack, gemm_fn f, dot_fn ref) {
    const size_t wb = (size_t)ROWS * NB * bb, ys = (size_t)NB * 292;
    uint8_t *raw = malloc(wb), *w = aligned_alloc(64, wb), *y = malloc(ys * 4);
    static float x[N], out[ROWS * 4];
    for (size_t i = 0; i < wb; i++) raw[i] = (uint8_t)next();
    for (size_t o = 0; o < wb; o += bb) {  // d (and dmin) small and finite
        const uint16_t d = moe_fp32_to_fp16(0.001f);
        memcpy(raw + o + dofs, &d, 2);
        if (dofs == 0) memcpy(raw + o + 2, &d, 2);
    }
    repack(raw, w, ROWS, N);
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < N; i++) x[i] = ((int)(next() % 2001) - 1000) / 1000.0f;
        moe_quantize_q8_K(x, y + j * ys, N);
    }
    double worst = 0;
    for (int m = 1; m <= 4; m++) {
        f(w, ROWS, y, ys, m, out, ROWS, N);
        for (int j = 0; j < m; j++)
            for (int r = 0; r < ROWS; r++) {
                const double e = ref(raw + (size_t)r * NB * bb, y + j * ys, N);
                const double err = fabs(out[j * ROWS + r] - e) / (fabs(e) + 1);
                if (err > worst) worst = err;
            }
    }
    printf("%s: worst relative error %.3g%s\n ", name, worst, worst < 1e-4 ? "" : "  FAILED");
    for (int m = 1; m <= 4; m++) {
        double best = 1e9;
        for (int r = 0; r < RUNS; r++) {
            const double t0 = cpu();
            for (int k = 0; k < CALLS; k++) f(w, ROWS, y, ys, m, out, ROWS, N);
            const double t = (cpu() - t0) / CALLS;
            if (t < best) best = t;
        }
        printf(" %d row%s %.2f ns", m, m > 1 ? "s" : "", best * 1e9 / (ROWS * NB) / m);
    }
    printf("  (per block-row and activation row)\n");
    free(raw); free(w); free(y);
}
int main(void) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !__builtin_cpu_supports("f16c")) {
        printf("skipped: no AVX2/FMA/F16C here\n");
        return 0;
    }
    run("q4_K x8 avx2", 144, 0, moe_repack_q4_K_x8, ck_gemm_q4_Kx8_q8_K_avx2_direct, moe_dot_q4_K_q8_K_ref);
    run("q5_K x8 avx2", 176, 0, moe_repack_q5_K_x8, ck_gemm_q5_Kx8_q8_K_avx2_direct, moe_dot_q5_K_q8_K_ref);
    run("q6_K x8 avx2", 210, 208, moe_repack_q6_K_x8, ck_gemm_q6_Kx8_q8_K_avx2_direct, moe_dot_q6_K_q8_K_ref);
    return 0;
}
