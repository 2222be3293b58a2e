// Microbenchmark: the K-quant prompt panel (kpanel_vnni.h) at avx512vnni,
// one thread: checks the Q4_K, Q5_K and Q6_K x8 products (1 to 70
// activation rows, direct and panel paths) against the one-row reference
// dots, then times 512 (argv[3]) × 1536 (argv[2]) weights against 32 activation rows (or argv[1])
// (best of 20; Q4_K's panel against its direct kernel), in multiply-adds
// per ns.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include -ISources/CKernels \
//         Sources/CKernels/*.c bench/kpanel_bench.c -o /tmp/kpanel_bench -lm && /tmp/kpanel_bench [rows]
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
void ck_gemm_q4_Kx8_q8_K_vnni_direct(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m, float *out, size_t out_stride, int64_t n);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
typedef void (*gemm_fn)(const void *, int64_t, const void *, size_t, int64_t, float *, size_t, int64_t);
typedef float (*dot_fn)(const void *, const void *, int64_t);
static void fill_blocks(uint8_t *p, size_t bytes, size_t bb, int dofs) {
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)next();
    for (size_t o = 0; o < bytes; o += bb) { uint16_t d = moe_fp32_to_fp16(0.001f), dm = moe_fp32_to_fp16(0.0005f); memcpy(p + o + dofs, &d, 2); if (dofs == 0) memcpy(p + o + 2, &dm, 2); }
}
static int check(const char *name, size_t bb, int dofs, moe_repack_fn repack, gemm_fn fast, dot_fn ref) {
    const int rows = 24, n = 1024, nb = n / 256;
    size_t wb = (size_t)rows * nb * bb;
    uint8_t *w = malloc(wb), *wx = malloc(wb);
    fill_blocks(w, wb, bb, dofs);
    repack(w, wx, rows, n);
    int ms[] = {1, 2, 3, 4, 5, 7, 8, 33, 70};
    double worst = 0;
    for (int mi = 0; mi < 9; mi++) {
        int m = ms[mi];
        size_t ys = (size_t)nb * 292;
        uint8_t *y = malloc(ys * m);
        float x[1024];
        for (int j = 0; j < m; j++) { for (int i = 0; i < n; i++) x[i] = ((int)(next() % 2001) - 1000) / 1000.0f * (1 + j % 3); moe_quantize_q8_K(x, y + j * ys, n); }
        float *out = malloc(sizeof(float) * rows * m);
        fast(wx, rows, y, ys, m, out, rows, n);
        for (int j = 0; j < m; j++) for (int r = 0; r < rows; r++) {
            float e = ref(w + (size_t)r * nb * bb, y + j * ys, n);
            double err = fabs(out[j * rows + r] - e) / (fabs(e) + 1);
            if (err > worst) worst = err;
        }
        free(y); free(out);
    }
    printf("%s worst rel err %.3g\n", name, worst);
    free(w); free(wx);
    return worst < 1e-4;
}
static int m_rows = 32;  // activation rows per call: argv[1] (the model's prompt calls take up to 512)
static int n_cols = 1536;  // columns (multiple of 256): argv[2] (the 1.5B FFN down projection has 8960)
static int w_rows = 512;  // weight rows (multiple of 16): argv[3] (the 1.5B FFN gate and up have 8960)
static void bench(const char *name, size_t bb, int dofs, moe_repack_fn repack, gemm_fn a, gemm_fn b) {
    const int rows = w_rows, n = n_cols, nb = n / 256, m = m_rows;
    size_t wb = (size_t)rows * nb * bb;
    uint8_t *w = aligned_alloc(64, wb), *wx = aligned_alloc(64, wb);
    fill_blocks(w, wb, bb, dofs); repack(w, wx, rows, n);
    size_t ys = (size_t)nb * 292;
    uint8_t *y = malloc(ys * m); float *x = malloc(sizeof(float) * n);
    for (int j = 0; j < m; j++) { for (int i = 0; i < n; i++) x[i] = ((int)(next() % 2001) - 1000) / 1000.0f; moe_quantize_q8_K(x, y + j * ys, n); }
    free(x);
    float *out = malloc(sizeof(float) * rows * m);
    double best[2] = {1e9, 1e9};
    for (int rep = 0; rep < 20; rep++) for (int v = 0; v < 2; v++) {
        gemm_fn f = v ? b : a; if (!f) continue;
        double t0 = now(); f(wx, rows, y, ys, m, out, rows, n); double t = now() - t0;
        if (t < best[v]) best[v] = t;
    }
    double macs = (double)rows * n * m;
    if (b) printf("%s: %.3f ms (%.1f MAC/ns) against %.3f ms (%.1f MAC/ns)\n", name, best[0] * 1e3, macs / best[0] * 1e-9, best[1] * 1e3, macs / best[1] * 1e-9);
    else printf("%s: %.3f ms (%.1f MAC/ns)\n", name, best[0] * 1e3, macs / best[0] * 1e-9);
}
int main(int argc, char **argv) {
    if (argc > 1) m_rows = atoi(argv[1]);
    if (argc > 2) n_cols = atoi(argv[2]) / 256 * 256;
    if (argc > 3) w_rows = atoi(argv[3]) / 16 * 16;
    int ok = 1;
    ok &= check("q4_K", 144, 0, moe_repack_q4_K_x8, moe_gemm_q4_Kx8_q8_K_vnni, moe_dot_q4_K_q8_K_ref);
    ok &= check("q4_K ref", 144, 0, moe_repack_q4_K_x8, moe_gemm_q4_Kx8_q8_K_ref, moe_dot_q4_K_q8_K_ref);
    ok &= check("q5_K", 176, 0, moe_repack_q5_K_x8, moe_gemm_q5_Kx8_q8_K_vnni, moe_dot_q5_K_q8_K_ref);
    ok &= check("q5_K ref", 176, 0, moe_repack_q5_K_x8, moe_gemm_q5_Kx8_q8_K_ref, moe_dot_q5_K_q8_K_ref);
    ok &= check("q6_K", 210, 208, moe_repack_q6_K_x8, moe_gemm_q6_Kx8_q8_K_vnni, moe_dot_q6_K_q8_K_ref);
    bench("q4_K panel against direct", 144, 0, moe_repack_q4_K_x8, moe_gemm_q4_Kx8_q8_K_vnni, ck_gemm_q4_Kx8_q8_K_vnni_direct);
    bench("q5_K panel", 176, 0, moe_repack_q5_K_x8, moe_gemm_q5_Kx8_q8_K_vnni, NULL);
    bench("q6_K panel", 210, 208, moe_repack_q6_K_x8, moe_gemm_q6_Kx8_q8_K_vnni, NULL);
    return !ok;
}
