// Microbenchmark: the AVX2 and AVX-512 VNNI kernels of each classic quant,
// interleaved A/B, one thread. For each type: decode (dotr4, four weight
// rows against one activation row) over a 64 MB matrix that streams from
// memory and over a 64 KiB one in cache, and prompts (gemm4 through
// moe_gemm4_rows, four activation rows, a 64 KiB tile as MatmulContext
// takes it). Prints ns per weight block-row (32 weights of one row against
// one activation row), median and best of the repeats, and the ratio; the
// one-row dot ("dot cache") as each table has it (AVX2's at both levels for
// q8_0 and q4_1).
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/isa_bench.c -o /tmp/isa_bench -lm && /tmp/isa_bench

#include "ckernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = 2048, REPEATS = 21, BIG = 64 << 20, TILE = 64 << 10 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

// Random blocks with sane f16 scales at each block's start (and m after d).
static void *random_blocks(size_t bytes, int block_bytes, int halves) {
    uint8_t *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)next();
    for (size_t b = 0; b + (size_t)block_bytes <= bytes; b += (size_t)block_bytes)
        for (int h = 0; h < halves; h++) {
            const uint16_t d = moe_fp32_to_fp16(0.001f + 0.01f * (float)(next() % 1000) / 1000.0f);
            memcpy(p + b + 2 * h, &d, 2);
        }
    return p;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

typedef struct { const moe_kernel *k; const char *name; } level;

static float sink;

static double run_dotr4(const moe_kernel *k, const uint8_t *w, size_t bytes, const void *y) {
    const size_t row = (size_t)(N / 32) * (size_t)k->block_bytes;
    const int64_t rows = (int64_t)(bytes / row) / 4 * 4;
    float out[4];
    const double t0 = now();
    for (int64_t r = 0; r < rows; r += 4) { k->dotr4(w + (size_t)r * row, row, y, out, N); sink += out[0]; }
    return (now() - t0) * 1e9 / ((double)rows * (N / 32));
}

static double run_dot(const moe_kernel *k, const uint8_t *w, size_t bytes, const void *y) {
    const size_t row = (size_t)(N / 32) * (size_t)k->block_bytes;
    const int64_t rows = (int64_t)(bytes / row);
    const double t0 = now();
    for (int64_t r = 0; r < rows; r++) sink += k->dot(w + (size_t)r * row, y, N);
    return (now() - t0) * 1e9 / ((double)rows * (N / 32));
}

static double run_gemm4(const moe_kernel *k, const uint8_t *w, const void *y, size_t y_stride, const float *prep, int loops) {
    const size_t row = (size_t)N / (size_t)k->block_size * (size_t)k->block_bytes;
    const int64_t rows = (int64_t)(TILE / row);
    static float out[4 * 64];
    const double t0 = now();
    for (int l = 0; l < loops; l++) {
        if (k->gemm4_rows) k->gemm4_rows(w, row, rows, y, y_stride, prep, out, 64, N);
        else moe_gemm4_rows(k->gemm4, w, row, rows, y, y_stride, prep, out, 64, N);
    }
    sink += out[0];
    return (now() - t0) * 1e9 / ((double)loops * (double)rows * 4 * (N / 32));
}

static void report(const char *what, const char *type, double t[2][REPEATS], const level *lv) {
    double m[2];
    for (int l = 0; l < 2; l++) { qsort(t[l], REPEATS, sizeof(double), cmp); m[l] = t[l][REPEATS / 2]; }
    printf("%-5s %-16s %s %.3f (best %.3f)  %s %.3f (best %.3f)  ratio %.2f\n", type, what, lv[0].name, m[0], t[0][0],
           lv[1].name, m[1], t[1][0], m[0] / m[1]);
}

// Float weights, a 64 KiB tile against four activation rows: four one-row
// dots per weight row (the path before the four-row kernels) against the
// four-row kernel of each level (bf16 also with vdpbf16ps). Same unit.
static double run_dots(const moe_kernel *k, const uint8_t *w, const uint8_t *y, size_t y_stride, int loops) {
    const size_t row = (size_t)N * (size_t)k->block_bytes;
    const int64_t rows = (int64_t)(TILE / row);
    const double t0 = now();
    for (int l = 0; l < loops; l++)
        for (int64_t r = 0; r < rows; r++)
            for (int j = 0; j < 4; j++) sink += k->dot(w + (size_t)r * row, y + (size_t)j * y_stride, N);
    return (now() - t0) * 1e9 / ((double)loops * (double)rows * 4 * (N / 32));
}

static void floats(void) {
    const struct { uint32_t type; const char *name; } types[] = {{0, "f32"}, {1, "f16"}, {30, "bf16"}};
    for (size_t t = 0; t < 3; t++) {
        const moe_kernel *k[3] = {moe_kernel_get(types[t].type, MOE_ISA_AVX2), moe_kernel_get(types[t].type, MOE_ISA_AVX512),
                                  moe_kernel_get(types[t].type, MOE_ISA_AVX512VNNI)};
        float x[4 * N], wf[N * 8];
        for (int i = 0; i < 4 * N; i++) x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
        for (int i = 0; i < N * 8; i++) wf[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
        uint8_t *w = aligned_alloc(64, TILE);
        const int per = k[0]->block_bytes;
        for (int i = 0; i < TILE / per; i++) k[0]->quantize_act(wf + i % (N * 8), w + (size_t)i * per, 1);
        const size_t ab = (size_t)N * (size_t)k[0]->act_block_bytes;
        uint8_t *act = aligned_alloc(64, 4 * ab);
        for (int j = 0; j < 4; j++) k[0]->quantize_act(x + j * N, act + j * ab, N);
        float *prep[3];
        for (int l = 0; l < 3; l++) {
            prep[l] = aligned_alloc(64, sizeof(float) * (size_t)N * 4);
            k[l]->scales4(act, ab, prep[l], N);
        }
        double r[4][REPEATS];
        for (int rep = 0; rep < REPEATS; rep++) {
            r[0][rep] = run_dots(k[2], w, act, ab, 20);
            for (int l = 0; l < 3; l++) r[1 + l][rep] = run_gemm4(k[l], w, act, ab, prep[l], 20);
        }
        double m[4];
        for (int l = 0; l < 4; l++) { qsort(r[l], REPEATS, sizeof(double), cmp); m[l] = r[l][REPEATS / 2]; }
        printf("%-5s tile, 4 rows: 4 dots (avx512) %.3f  gemm4 avx2 %.3f  avx512 %.3f  avx512vnni-table %.3f ns per 32 weights·row\n",
               types[t].name, m[0], m[1], m[2], m[3]);
        free(w); free(act); for (int l = 0; l < 3; l++) free(prep[l]);
    }
}

// Q4_1 in the x8 layout, m = 1 and 4 activation rows, from memory (64 MB)
// and in cache (64 KiB), AVX2 against VNNI.
static double run_x8(moe_gemm_x8_fn fn, const uint8_t *w, size_t bytes, const void *y, size_t y_stride, int m, int loops) {
    const size_t row = (size_t)(N / 32) * 20;
    const int64_t rows = (int64_t)(bytes / row) / 8 * 8;
    static float out[4 * 65536];
    const double t0 = now();
    for (int l = 0; l < loops; l++)
        for (int64_t r = 0; r < rows; r += 64) {
            const int64_t k = rows - r < 64 ? rows - r : 64;
            fn(w + (size_t)r * row, k, y, y_stride, m, out, 64, N);
        }
    sink += out[0];
    return (now() - t0) * 1e9 / ((double)loops * (double)rows * m * (N / 32));
}

static void x8(void) {
    const moe_kernel *k = moe_kernel_get(3, MOE_ISA_AVX2);
    uint8_t *ggml = random_blocks(BIG, 20, 2), *w = aligned_alloc(64, BIG);
    const int64_t rows = BIG / ((N / 32) * 20) / 8 * 8;
    moe_repack_q4_1_x8(ggml, w, rows, N);
    float x[4 * N];
    for (int i = 0; i < 4 * N; i++) x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
    const size_t ab = (size_t)(N / 32) * 36;
    uint8_t *act = malloc(4 * ab);
    for (int j = 0; j < 4; j++) k->quantize_act(x + j * N, act + j * ab, N);
    moe_gemm_x8_fn fns[2] = {moe_gemm_q4_1x8_q8_1_avx2, moe_gemm_q4_1x8_q8_1_vnni};
    const level lv[2] = {{k, "avx2"}, {k, "vnni"}};
    for (int m = 1; m <= 4; m += 3) {
        double mem[2][REPEATS], hot[2][REPEATS];
        for (int r = 0; r < REPEATS; r++)
            for (int l0 = 0; l0 < 2; l0++) {
                const int l = (r + l0) % 2;
                mem[l][r] = run_x8(fns[l], w, BIG, act, ab, m, 1);
                hot[l][r] = run_x8(fns[l], w, TILE, act, ab, m, 50);
            }
        report(m == 1 ? "x8 m=1 memory" : "x8 m=4 memory", "q4_1", mem, lv);
        report(m == 1 ? "x8 m=1 cache" : "x8 m=4 cache", "q4_1", hot, lv);
    }
    free(ggml); free(w); free(act);
}

int main(void) {
    const struct { uint32_t type; const char *name; int halves; } types[] = {
        {8, "q8_0", 1}, {2, "q4_0", 1}, {6, "q5_0", 1}, {3, "q4_1", 2}, {7, "q5_1", 2}};
    if (!moe_isa_supported(MOE_ISA_AVX512VNNI)) { printf("skipped: no AVX-512 VNNI here\n"); return 0; }
    floats();
    x8();
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        level lv[2] = {{moe_kernel_get(types[t].type, MOE_ISA_AVX2), "avx2"},
                       {moe_kernel_get(types[t].type, MOE_ISA_AVX512VNNI), "vnni"}};
        const moe_kernel *k = lv[0].k;
        uint8_t *big = random_blocks(BIG, k->block_bytes, types[t].halves);
        float x[4 * N];
        for (int i = 0; i < 4 * N; i++) x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
        const size_t ab = (size_t)(N / 32) * (size_t)k->act_block_bytes;
        uint8_t *act = malloc(4 * ab);
        for (int j = 0; j < 4; j++) k->quantize_act(x + j * N, act + j * ab, N);
        double dec[2][REPEATS], hot[2][REPEATS], pp[2][REPEATS], one[2][REPEATS];
        float *prep[2];
        for (int l = 0; l < 2; l++) {
            prep[l] = aligned_alloc(64, sizeof(float) * (size_t)(N / 32 * lv[l].k->scales_per_block));
            lv[l].k->scales4(act, ab, prep[l], N);
        }
        for (int r = 0; r < REPEATS; r++)
            for (int l0 = 0; l0 < 2; l0++) {
                const int l = (r + l0) % 2;  // alternate which goes first
                dec[l][r] = run_dotr4(lv[l].k, big, BIG, act);
                double best = 1e9;
                for (int s = 0; s < 20; s++) { double v = run_dotr4(lv[l].k, big, TILE, act); if (v < best) best = v; }
                hot[l][r] = best;
                pp[l][r] = run_gemm4(lv[l].k, big, act, ab, prep[l], 20);
                best = 1e9;
                for (int s = 0; s < 20; s++) { double v = run_dot(lv[l].k, big, TILE, act); if (v < best) best = v; }
                one[l][r] = best;
            }
        report("dotr4 memory", types[t].name, dec, lv);
        report("dotr4 cache", types[t].name, hot, lv);
        report("gemm4 tile", types[t].name, pp, lv);
        report("dot cache", types[t].name, one, lv);
        free(big); free(act); free(prep[0]); free(prep[1]);
    }
    return sink == 12345.0f;
}
