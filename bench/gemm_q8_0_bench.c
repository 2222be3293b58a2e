// Microbenchmark: prompt processing of the q8_0-activation types (Q8_0,
// Q5_0, Q4_0) at avx512vnni, one thread: today's four-activation-row
// kernel over a weight tile (gemm4 on prepared scales, as
// MatmulContext.tiledProduct runs it) against the sixteen-row panel kernel
// (gemm_q8_0_vnni.c), interleaved A/B, medians; both checked against the
// reference dot. Prints GMAC/s (int8 multiply-adds per second).
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/gemm_q8_0_bench.c -o /tmp/gemm_q8_0_bench -lm && /tmp/gemm_q8_0_bench [rows cols m [chunk [band]]]

#include "ckernels.h"
#include "gemm_q8_0.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { REPEATS = 5 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float frand(void) { return (float)((double)rand() / RAND_MAX) * 2 - 1; }

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 2048, n = argc > 2 ? atoll(argv[2]) : 2048;
    const int64_t m = argc > 3 ? atoll(argv[3]) : 512;
    const int64_t chunk = argc > 4 ? atoll(argv[4]) : m, band = argc > 5 ? atoll(argv[5]) : rows;
    if (!moe_isa_supported(MOE_ISA_AVX512VNNI)) { printf("skipped: no AVX-512 VNNI here\n"); return 0; }
    const uint32_t types[] = {8, 6, 2};
    const char *names[] = {"q8_0", "q5_0", "q4_0"};
    float *w = malloc(sizeof(float) * rows * n), *a = malloc(sizeof(float) * m * n);
    for (int64_t i = 0; i < rows * n; i++) w[i] = frand();
    for (int64_t i = 0; i < m * n; i++) a[i] = frand();
    const moe_kernel *q8 = moe_kernel_get(8, MOE_ISA_AVX512VNNI);
    const size_t ybytes = (size_t)n / 32 * 34;
    uint8_t *y = malloc(ybytes * m);
    for (int64_t j = 0; j < m; j++) q8->quantize_act(a + j * n, y + j * ybytes, n);
    float *out_a = malloc(sizeof(float) * m * rows), *out_b = malloc(sizeof(float) * m * rows);
    float *scales = aligned_alloc(64, sizeof(float) * (m / 4) * (n / 32) * q8->scales_per_block + 64);
    float *prep = malloc(sizeof(float) * 2 * m * (n / 32));
    for (int t = 0; t < 3; t++) {
        const moe_kernel *k = moe_kernel_get(types[t], MOE_ISA_AVX512VNNI);
        const moe_kernel *ref = moe_kernel_get(types[t], MOE_ISA_SCALAR);
        const size_t xbytes = (size_t)n / k->block_size * k->block_bytes;
        uint8_t *x = malloc(xbytes * rows);
        // quantize through a q8_0/… round trip: the table has no weight quantizer, so write blocks by hand
        for (int64_t r = 0; r < rows * (int64_t)xbytes; r++) x[r] = (uint8_t)rand();
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < n / 32; i++) {  // sane scales: small positive halves
                uint16_t d = moe_fp32_to_fp16(0.01f + 0.001f * (float)(rand() % 10));
                memcpy(x + r * xbytes + i * k->block_bytes, &d, 2);
            }
        double ta[REPEATS], tb[REPEATS];
        for (int rep = 0; rep < REPEATS; rep++) {
            double t0 = now();
            const int64_t tile = 64 * 1024 / (int64_t)xbytes;
            for (int64_t g = 0; g < m / 4; g++)
                k->scales4(y + 4 * g * ybytes, ybytes, scales + g * (n / 32) * k->scales_per_block, n);
            for (int64_t r0 = 0; r0 < rows; r0 += tile) {
                const int64_t rr = rows - r0 < tile ? rows - r0 : tile;
                for (int64_t g = 0; g < m / 4; g++)
                    moe_gemm4_rows(k->gemm4, x + r0 * xbytes, xbytes, rr, y + 4 * g * ybytes, ybytes,
                                   scales + g * (n / 32) * k->scales_per_block, out_a + 4 * g * rows + r0, rows, n);
            }
            double t1 = now();
            moe_gemm16_prep_q8_0(y, ybytes, m, prep, n);
            // panels of `band` weight rows, each against activation rows `chunk` at a time (as MatmulContext)
            for (int64_t r0 = 0; r0 < rows; r0 += band)
                for (int64_t j0 = 0; j0 < m; j0 += chunk)
                    moe_gemm16_get(types[t], MOE_ISA_AVX512VNNI)(
                        x + r0 * xbytes, xbytes, rows - r0 < band ? rows - r0 : band, y + j0 * ybytes, ybytes,
                        prep + 2 * j0 * (n / 32), m - j0 < chunk ? m - j0 : chunk, out_b + j0 * rows + r0, rows, n);
            double t2 = now();
            ta[rep] = t1 - t0;
            tb[rep] = t2 - t1;
        }
        double worst = 0, scale = 0;
        for (int64_t j = 0; j < m; j += 37)
            for (int64_t r = 0; r < rows; r += 13) {
                const float e = ref->dot(x + r * xbytes, y + j * ybytes, n);
                worst = fmax(worst, fmax(fabs(out_a[j * rows + r] - e), fabs(out_b[j * rows + r] - e)));
                scale = fmax(scale, fabs(e));
            }
        qsort(ta, REPEATS, sizeof(double), cmp);
        qsort(tb, REPEATS, sizeof(double), cmp);
        const double macs = (double)rows * n * m * 1e-9;
        printf("%s %lldx%lld m=%lld: gemm4 %.1f GMAC/s, gemm16 %.1f GMAC/s (%.2fx); max |err| %.2g of %.3g\n",
               names[t], (long long)rows, (long long)n, (long long)m, macs / ta[REPEATS / 2], macs / tb[REPEATS / 2],
               ta[REPEATS / 2] / tb[REPEATS / 2], worst, scale);
        free(x);
    }
    return 0;
}
