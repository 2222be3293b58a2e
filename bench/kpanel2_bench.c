// Microbenchmark: a 1.5B Q6_K prompt's products at the avx2 level, one
// thread, as MatmulContext.interleavedTiles calls them (tiles of whole
// groups of about 64 KiB of weights, tile-major, chunks of argv[1] = 64
// activation rows; argv[2] = 0 tiles of 64 KiB, else of that many groups)
// through moe_gemm_q6_Kx8_q8_K_avx2, 512 activation rows. Checks a few
// outputs against the one-row reference dot first, then prints MAC/ns
// (best of 5) per shape of the file: q (and o), k (and v), gate (and up),
// down. argv[3] = 5: Q5_K in ggml's layout through its eight-row panel
// (moe_gemm_rows8_q5_K_q8_K_avx2), as tiledProduct calls it at one thread.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include -ISources/CKernels \
//         Sources/CKernels/*.c bench/kpanel2_bench.c -o /tmp/kpanel2_bench -lm && /tmp/kpanel2_bench [chunk] [groups]
#include "ckernels.h"
#include "kquants.h"
#include "repack_q6_K.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
static int chunk = 64, tile_groups = 0, q5 = 0;
static void run(const uint8_t *wx, int rows, int n, const uint8_t *y, size_t ys, int m, float *out) {
    if (q5) {  // Q5_K in ggml's layout: MatmulContext.tiledProduct's one call at one thread
        moe_gemm_rows8_q5_K_q8_K_avx2(wx, (size_t)n / 256 * 176, rows, y, ys, m, out, rows, n);
        return;
    }
    const size_t row_bytes = (size_t)n / 256 * 210;
    int tile = tile_groups ? 8 * tile_groups : (int)(65536 / row_bytes) / 8 * 8;
    if (tile < 8) tile = 8;
    for (int r0 = 0; r0 < rows; r0 += tile)
        for (int j0 = 0; j0 < m; j0 += chunk) {
            int tr = rows - r0 < tile ? rows - r0 : tile, mc = m - j0 < chunk ? m - j0 : chunk;
            moe_gemm_q6_Kx8_q8_K_avx2(wx + r0 * row_bytes, tr, y + j0 * ys, ys, mc, out + (size_t)j0 * rows + r0, rows, n);
        }
}
static void shape(const char *name, int rows, int n) {
    const int nb = n / 256, m = 512;
    const size_t bb = q5 ? 176 : 210, dofs = q5 ? 0 : 208;
    size_t wb = (size_t)rows * nb * bb;
    uint8_t *w = aligned_alloc(64, wb), *wx = aligned_alloc(64, wb);
    for (size_t i = 0; i < wb; i++) w[i] = (uint8_t)next();
    for (size_t o = 0; o < wb; o += bb) { uint16_t d = moe_fp32_to_fp16(0.001f); memcpy(w + o + dofs, &d, 2); }
    if (q5) memcpy(wx, w, wb);
    else moe_repack_q6_K_x8(w, wx, rows, n);
    size_t ys = (size_t)nb * 292;
    uint8_t *y = aligned_alloc(64, ys * m);
    float *x = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * rows * m);
    for (int j = 0; j < m; j++) { for (int i = 0; i < n; i++) x[i] = ((int)(next() % 2001) - 1000) / 1000.0f; moe_quantize_q8_K(x, y + j * ys, n); }
    run(wx, rows, n, y, ys, m, out);
    double worst = 0;
    for (int k = 0; k < 200; k++) {
        int j = next() % m, r = next() % rows;
        float e = (q5 ? moe_dot_q5_K_q8_K_ref : moe_dot_q6_K_q8_K_ref)(w + (size_t)r * nb * bb, y + j * ys, n);
        double err = fabs(out[(size_t)j * rows + r] - e) / (fabs(e) + 1);
        if (err > worst) worst = err;
    }
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) { double t0 = now(); run(wx, rows, n, y, ys, m, out); double t = now() - t0; if (t < best) best = t; }
    printf("%-5s %5d x %5d: %7.2f ms  %5.1f MAC/ns  (worst rel err %.2g)\n", name, rows, n, best * 1e3,
           (double)rows * n * m / best * 1e-9, worst);
    free(w); free(wx); free(y); free(x); free(out);
}
int main(int argc, char **argv) {
    if (argc > 1) chunk = atoi(argv[1]);
    if (argc > 2) tile_groups = atoi(argv[2]);
    if (argc > 3) q5 = argv[3][0] == '5';
    shape("q", 1536, 1536);
    shape("k", 256, 1536);
    shape("gate", 8960, 1536);
    shape("down", 1536, 8960);
    return 0;
}
