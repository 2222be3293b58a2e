// Microbenchmark: K-quant products (Q4_K, Q5_K, Q6_K against q8_K), one
// thread, on Qwen2.5-1.5B's matrix shapes (hidden 1536, feed-forward 8960,
// k/v 256): LAYERS layers of q, k, v, o, gate, up, down, so the weights
// stream from memory as in decoding. Per type and level:
//
// - decode: one activation row, one-row `dot` per weight row against
//   `dotr4` (four weight rows per call), ns per block-row (256 weights of
//   one row) and GB/s of weights read;
// - prompt: four activation rows on a 64 KiB weight tile held in cache (the
//   prompt path's tiles), four one-row dots against `gemm4`, ns per
//   block-row per four activation rows.
//
// Each kernel is also checked against the reference dot (relative error of
// the worst output). Medians and best of REPEATS interleaved repeats.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/kquant_bench.c -o /tmp/kquant_bench -lm && /tmp/kquant_bench

#include "ckernels.h"
#include "kquants.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { LAYERS = 3, MATS = 7, REPEATS = 9, N_MAX = 8960 };
static const int shape[MATS][2] = {{1536, 1536}, {256, 1536}, {256, 1536}, {1536, 1536},
                                   {8960, 1536}, {8960, 1536}, {1536, 8960}};

typedef float (*dot_fn)(const void *, const void *, int64_t);
typedef void (*gemm4_fn)(const void *, const void *, size_t, const float *, float *, int64_t);
typedef void (*dotr4_fn)(const void *, size_t, const void *, float *, int64_t);

typedef struct {
    const char *name;
    int bytes, half_at[2];
    dot_fn ref, dot[3];  // avx2, avx512, avx512vnni
    gemm4_fn gemm4[3];  // avx2, avx512, avx512vnni
    dotr4_fn dotr4[3];
} kq_type;

static const kq_type types[] = {
    {"q4_K", 144, {0, 2}, moe_dot_q4_K_q8_K_ref,
     {moe_dot_q4_K_q8_K_avx2, moe_dot_q4_K_q8_K_avx512, moe_dot_q4_K_q8_K_avx512vnni},
     {moe_gemm4_q4_K_q8_K_avx2, moe_gemm4_q4_K_q8_K_avx512, moe_gemm4_q4_K_q8_K_avx512vnni},
     {moe_dotr4_q4_K_q8_K_avx2, moe_dotr4_q4_K_q8_K_avx512, moe_dotr4_q4_K_q8_K_avx512vnni}},
    {"q5_K", 176, {0, 2}, moe_dot_q5_K_q8_K_ref,
     {moe_dot_q5_K_q8_K_avx2, moe_dot_q5_K_q8_K_avx512, moe_dot_q5_K_q8_K_avx512vnni},
     {moe_gemm4_q5_K_q8_K_avx2, moe_gemm4_q5_K_q8_K_avx512, moe_gemm4_q5_K_q8_K_avx512vnni},
     {moe_dotr4_q5_K_q8_K_avx2, moe_dotr4_q5_K_q8_K_avx512, moe_dotr4_q5_K_q8_K_avx512vnni}},
    {"q6_K", 210, {208, 208}, moe_dot_q6_K_q8_K_ref,
     {moe_dot_q6_K_q8_K_avx2, moe_dot_q6_K_q8_K_avx512, moe_dot_q6_K_q8_K_avx512vnni},
     {moe_gemm4_q6_K_q8_K_avx2, moe_gemm4_q6_K_q8_K_avx512, moe_gemm4_q6_K_q8_K_avx512vnni},
     {moe_dotr4_q6_K_q8_K_avx2, moe_dotr4_q6_K_q8_K_avx512, moe_dotr4_q6_K_q8_K_avx512vnni}},
};
static const char *level_name[3] = {"avx2", "avx512", "avx512vnni"};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }

static uint8_t *random_weights(const kq_type *t, size_t blocks) {
    uint8_t *w = aligned_alloc(64, (blocks * t->bytes + 63) / 64 * 64);
    for (size_t i = 0; i < blocks * t->bytes; i++) w[i] = (uint8_t)next();
    for (size_t b = 0; b < blocks; b++) {
        for (int h = 0; h < 2; h++) {
            const uint16_t half = moe_fp32_to_fp16(0.001f + 0.01f * (float)(next() % 1000) / 1000.0f);
            memcpy(w + b * t->bytes + t->half_at[h], &half, 2);
        }
    }
    return w;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static uint8_t *mats[LAYERS * MATS];
static uint8_t act[4][N_MAX / 256 * 292];
static float act_scales[N_MAX / 256 * 4];
static float out[4 * 8960];

// One pass of every matrix: decode (kind 0: dot, 1: dotr4). Returns block-rows.
static double decode_pass(const kq_type *t, dot_fn dot, dotr4_fn r4) {
    double blockrows = 0;
    for (int m = 0; m < LAYERS * MATS; m++) {
        const int rows = shape[m % MATS][0], n = shape[m % MATS][1];
        const size_t stride = (size_t)n / 256 * t->bytes;
        for (int r = 0; r < rows; r += 4) {
            if (dot) for (int j = 0; j < 4; j++) out[r + j] = dot(mats[m] + (r + j) * stride, act[0], n);
            else r4(mats[m] + r * stride, stride, act[0], out + r, n);
        }
        blockrows += (double)rows * n / 256;
    }
    return blockrows;
}

static void report(const char *what, double *ns, double bytes_per_blockrow) {
    qsort(ns, REPEATS, sizeof *ns, cmp);
    printf("  %-34s %6.2f ns/block-row (best %6.2f)", what, ns[REPEATS / 2], ns[0]);
    if (bytes_per_blockrow > 0) printf("  %5.1f GB/s", bytes_per_blockrow / ns[REPEATS / 2]);
    printf("\n");
}

static void check(const kq_type *t, int levels) {
    const int n = 1536, rows = 8;
    uint8_t *w = random_weights(t, (size_t)rows * n / 256);
    const size_t stride = (size_t)n / 256 * t->bytes, astride = sizeof act[0];
    moe_act_scales4_q8_K(act[0], astride, act_scales, n);
    for (int l = 0; l < levels; l++) {
        double worst = 0;
        for (int r = 0; r < rows; r += 4) {
            float g[4], d4[4], d1 = t->dot[l](w + r * stride, act[1], n);
            worst = fmax(worst, fabs(d1 - t->ref(w + r * stride, act[1], n)) / fmax(1e-6, fabs(t->ref(w + r * stride, act[1], n))));
            t->gemm4[l](w + r * stride, act[0], astride, act_scales, g, n);
            t->dotr4[l](w + r * stride, stride, act[0], d4, n);
            for (int j = 0; j < 4; j++) {
                const float rg = t->ref(w + r * stride, act[j], n), rd = t->ref(w + (r + j) * stride, act[0], n);
                worst = fmax(worst, fabs(g[j] - rg) / fmax(1e-6, fabs(rg)));
                worst = fmax(worst, fabs(d4[j] - rd) / fmax(1e-6, fabs(rd)));
            }
        }
        printf("  check %-10s worst relative error %.2e\n", level_name[l], worst);
    }
    free(w);
}

int main(void) {
    const int levels = !__builtin_cpu_supports("avx512bw") ? 1 : moe_kq_cpu_has_avx512_vnni() ? 3 : 2;
    printf("CPU levels run: avx2%s%s; %d layers of Qwen2.5-1.5B shapes, one thread\n",
           levels > 1 ? ", avx512" : "", levels > 2 ? ", avx512vnni" : "", LAYERS);
    float x[N_MAX];
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < N_MAX; i++) x[i] = (float)((int)(next() % 2001) - 1000) / 1000.0f;
        moe_quantize_q8_K(x, act[j], N_MAX);
    }
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const kq_type *t = &types[ti];
        printf("%s (%d bytes per block-row)\n", t->name, t->bytes);
        check(t, levels);
        for (int m = 0; m < LAYERS * MATS; m++) mats[m] = random_weights(t, (size_t)shape[m % MATS][0] * shape[m % MATS][1] / 256);
        // decode, streamed
        double dec[6][REPEATS];
        for (int rep = 0; rep < REPEATS; rep++) {
            for (int k = 0; k < 2 * levels; k++) {
                const double t0 = now();
                const double br = k < levels ? decode_pass(t, t->dot[k], NULL) : decode_pass(t, NULL, t->dotr4[k - levels]);
                dec[k][rep] = (now() - t0) * 1e9 / br;
            }
        }
        for (int k = 0; k < 2 * levels; k++) {
            char name[64];
            snprintf(name, sizeof name, "decode %s (%s)", k < levels ? "dot" : "dotr4", level_name[k % levels]);
            report(name, dec[k], t->bytes);
        }
        // prompt: a 64 KiB tile of the 1536-wide gate matrix, in cache
        const int n = 1536, tile_rows = 65536 / (n / 256 * t->bytes), calls = 400;
        const size_t stride = (size_t)n / 256 * t->bytes, astride = sizeof act[0];
        moe_act_scales4_q8_K(act[0], astride, act_scales, n);
        double pp[4][REPEATS];
        for (int rep = 0; rep < REPEATS; rep++) {
            for (int k = 0; k <= levels; k++) {
                const double t0 = now();
                for (int c = 0; c < calls; c++) {
                    for (int r = 0; r < tile_rows; r++) {
                        float o4[4];
                        if (k == 0) for (int j = 0; j < 4; j++) o4[j] = t->dot[0](mats[4] + r * stride, act[j], n);
                        else t->gemm4[k - 1](mats[4] + r * stride, act[0], astride, act_scales, o4, n);
                        out[r] = o4[0] + o4[3];
                    }
                }
                pp[k][rep] = (now() - t0) * 1e9 / ((double)calls * tile_rows * n / 256);
            }
        }
        report("prompt 4 rows: 4 dots (avx2)", pp[0], 0);
        for (int k = 1; k <= levels; k++) {
            char name[64];
            snprintf(name, sizeof name, "prompt 4 rows: gemm4 (%s)", level_name[k - 1]);
            report(name, pp[k], 0);
        }
        for (int m = 0; m < LAYERS * MATS; m++) free(mats[m]);
    }
    return 0;
}
