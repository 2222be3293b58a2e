// Microbenchmark: decoding (one activation row) from memory, four weight
// rows side by side (`dotr4`, as each table has it) against one row after
// the other (`dot_rows`, decode_rows.c), interleaved A/B, one thread.
// Three sets of matrices, each far larger than the last-level cache when
// taken together: the 1.45 B llama of bench/run.sh (hidden 2048, FFN 8192),
// Qwen2.5-0.5B (896, 4864) and SmolLM2's 49152 × 576 output projection.
// Prints GB/s of weights read, median and best of REPEATS passes, per type
// and level, and checks both against the reference dot.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/decode_rows_bench.c -o /tmp/decode_rows_bench -lm && /tmp/decode_rows_bench [type]

#include "ckernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { REPEATS = 15, MAX_MATS = 24 };

typedef struct { const char *name; int count; int shape[MAX_MATS][2]; } shape_set;
static const shape_set sets[] = {
    {"1.5b", 21, {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192},
                  {2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192},
                  {2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {8192, 2048}, {8192, 2048}, {2048, 8192}}},
    {"qwen0.5b", 21, {{896, 896}, {128, 896}, {128, 896}, {896, 896}, {4864, 896}, {4864, 896}, {896, 4864},
                      {896, 896}, {128, 896}, {128, 896}, {896, 896}, {4864, 896}, {4864, 896}, {896, 4864},
                      {896, 896}, {128, 896}, {128, 896}, {896, 896}, {4864, 896}, {4864, 896}, {896, 4864}}},
    {"smol-out", 2, {{49152, 576}, {49152, 576}}},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

// Random blocks with sane f16 scales (d, and m after it for the *_1 types).
static uint8_t *random_blocks(size_t bytes, int block_bytes, int halves) {
    uint8_t *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)next();
    for (size_t b = 0; b + (size_t)block_bytes <= bytes; b += (size_t)block_bytes)
        for (int h = 0; h < halves; h++) {
            const uint16_t d = moe_fp32_to_fp16(0.001f + 0.01f * (float)(next() % 1000) / 1000.0f);
            memcpy(p + b + 2 * h, &d, 2);
        }
    return p;
}

static float sink;

static void run_dotr4(const moe_kernel *k, const uint8_t *w, int64_t rows, size_t rb, const void *y, float *out, int64_t n) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) k->dotr4(w + (size_t)r * rb, rb, y, out + r, n);
    for (; r < rows; r++) out[r] = k->dot(w + (size_t)r * rb, y, n);
}

static double pass(const moe_kernel *k, int rows_kernel, uint8_t *const *mats, const shape_set *s, const void *y, float *out) {
    const double t0 = now();
    for (int m = 0; m < s->count; m++) {
        const int64_t rows = s->shape[m][0], n = s->shape[m][1];
        const size_t rb = (size_t)(n / k->block_size) * (size_t)k->block_bytes;
        if (rows_kernel) k->dot_rows(mats[m], rb, rows, y, out, n);
        else run_dotr4(k, mats[m], rows, rb, y, out, n);
    }
    sink += out[0];
    return now() - t0;
}

// Worst |kernel − reference| relative to Σ|reference| over the first matrix.
static double check(const moe_kernel *k, const moe_kernel *ref, int rows_kernel, const uint8_t *w, const shape_set *s,
                    const void *y, float *out) {
    const int64_t rows = s->shape[0][0], n = s->shape[0][1];
    const size_t rb = (size_t)(n / k->block_size) * (size_t)k->block_bytes;
    if (rows_kernel) k->dot_rows(w, rb, rows, y, out, n);
    else run_dotr4(k, w, rows, rb, y, out, n);
    double worst = 0, scale = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float e = ref->dot(w + (size_t)r * rb, y, n);
        worst = fmax(worst, fabs((double)out[r] - e));
        scale += fabs(e);
    }
    return worst / (scale / (double)rows + 1e-30);
}

int main(int argc, char **argv) {
    const struct { uint32_t type; const char *name; int halves; } types[] = {
        {8, "q8_0", 1}, {6, "q5_0", 1}, {2, "q4_0", 1}, {7, "q5_1", 2}, {3, "q4_1", 2},
        {12, "q4_K", 0}, {14, "q6_K", 0}, {13, "q5_K", 0}};
    const moe_isa levels[] = {MOE_ISA_AVX2, MOE_ISA_AVX512, MOE_ISA_AVX512VNNI};
    static float x[8192], out[65536];
    for (int i = 0; i < 8192; i++) x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (argc > 1 && strcmp(argv[1], types[t].name) != 0) continue;
        const moe_kernel *ref = moe_kernel_get(types[t].type, MOE_ISA_SCALAR);
        uint8_t *act = aligned_alloc(64, 8192 / 32 * 36 + 8192 / 256 * 292);
        ref->quantize_act(x, act, 8192);
        for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
            const shape_set *s = &sets[si];
            uint8_t *mats[MAX_MATS];
            double bytes = 0;
            for (int m = 0; m < s->count; m++) {
                const size_t b = (size_t)s->shape[m][0] * (size_t)(s->shape[m][1] / ref->block_size) * (size_t)ref->block_bytes;
                mats[m] = random_blocks(b, ref->block_bytes, types[t].halves);
                bytes += (double)b;
            }
            if (types[t].halves == 0)  // K-quants: a sane f16 d (and dmin) at the end or start of each block
                for (int m = 0; m < s->count; m++) {
                    const size_t b = (size_t)s->shape[m][0] * (size_t)(s->shape[m][1] / 256) * (size_t)ref->block_bytes;
                    const size_t at = types[t].type == 14 ? 208 : 0;
                    for (size_t o = 0; o < b; o += (size_t)ref->block_bytes) {
                        const uint16_t d = moe_fp32_to_fp16(0.001f), dmin = moe_fp32_to_fp16(0.0005f);
                        memcpy(mats[m] + o + at, &d, 2);
                        if (types[t].type != 14) memcpy(mats[m] + o + 2, &dmin, 2);
                    }
                }
            for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
                if (!moe_isa_supported(levels[l])) { printf("skipped: no %s here\n", moe_isa_name(levels[l])); continue; }
                const moe_kernel *k = moe_kernel_get(types[t].type, levels[l]);
                if (k->dot_rows == NULL) continue;
                double tm[2][REPEATS];
                for (int r = 0; r < REPEATS; r++)
                    for (int v0 = 0; v0 < 2; v0++) {
                        const int v = (v0 + r) % 2;
                        tm[v][r] = v == 0 && k->dotr4 == NULL ? 1e9 : pass(k, v, mats, s, act, out);
                    }
                const double e0 = k->dotr4 ? check(k, ref, 0, mats[0], s, act, out) : 0;
                const double e1 = check(k, ref, 1, mats[0], s, act, out);
                for (int v = 0; v < 2; v++) qsort(tm[v], REPEATS, sizeof(double), cmp);
                printf("%-5s %-9s %-11s dotr4 %6.2f GB/s (best %6.2f)  dot_rows %6.2f GB/s (best %6.2f)  ratio %.2f  err %.1e %.1e\n",
                       types[t].name, s->name, moe_isa_name(levels[l]), bytes / tm[0][REPEATS / 2] / 1e9, bytes / tm[0][0] / 1e9,
                       bytes / tm[1][REPEATS / 2] / 1e9, bytes / tm[1][0] / 1e9, tm[0][REPEATS / 2] / tm[1][REPEATS / 2], e0, e1);
            }
            for (int m = 0; m < s->count; m++) free(mats[m]);
        }
        free(act);
    }
    return sink == 12345.0f;
}
