// Compares moed's Q2_K, Q3_K, IQ4_NL and IQ4_XS kernels with ggml's own,
// loaded at run time from the llama-cpp-python wheel:
//   - dequantize_row_*: bit-exact on random blocks;
//   - ggml_vec_dot_* (ggml's fastest CPU path) against our dots at every
//     level this CPU has: relative difference of Σ|w·a|, must be ≤ 1e-5;
//     time per block for ggml and ours (rough: the machine is shared).
// Build and run from the repository root:
//   clang -O2 -I Sources/CKernels/include -I Sources/CKernels tools/conformance/lowbit_vs_ggml.c \
//     Sources/CKernels/kquants2_*.c Sources/CKernels/kquants_ref.c Sources/CKernels/kquants_dequant.c \
//     Sources/CKernels/quants_ref.c Sources/CKernels/halfs.c -ldl -lm -o /tmp/lowbit_vs_ggml
//   /tmp/lowbit_vs_ggml .venv/lib/python3.11/site-packages/llama_cpp/lib
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml_side.h"
#include "ckernels.h"
#include "kquants2.h"

typedef void (*dequant_fn)(const void *, float *, int64_t);
typedef float (*dot_fn)(const void *, const void *, int64_t);
typedef void (*ggml_dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);

enum { N = 2048 * 256 };

typedef struct {
    const char *name; size_t bytes; int values; size_t half_offsets[2]; int halves; int q8_0;
    dequant_fn ours; const char *ggml_dequant; dot_fn dots[4]; const char *ggml_dot;
} low_bit_type;

#define DOTS(q, act) {moe_dot_##q##_##act##_ref, moe_dot_##q##_##act##_avx2, moe_dot_##q##_##act##_avx512, \
                      moe_dot_##q##_##act##_avx512vnni}
static const low_bit_type types[] = {
    {"q2_K", 84, 256, {80, 82}, 2, 0, moe_dequant_q2_K, "dequantize_row_q2_K", DOTS(q2_K, q8_K), "ggml_vec_dot_q2_K_q8_K"},
    {"q3_K", 110, 256, {108, 0}, 1, 0, moe_dequant_q3_K, "dequantize_row_q3_K", DOTS(q3_K, q8_K), "ggml_vec_dot_q3_K_q8_K"},
    {"iq4_xs", 136, 256, {0, 0}, 1, 0, moe_dequant_iq4_xs, "dequantize_row_iq4_xs", DOTS(iq4_xs, q8_K),
     "ggml_vec_dot_iq4_xs_q8_K"},
    {"iq4_nl", 18, 32, {0, 0}, 1, 1, moe_dequant_iq4_nl, "dequantize_row_iq4_nl", DOTS(iq4_nl, q8_0),
     "ggml_vec_dot_iq4_nl_q8_0"},
};
static const char *const level_names[4] = {"ref", "avx2", "avx512", "avx512vnni"};

static int level_supported(int level) {
    __builtin_cpu_init();
    switch (level) {
    case 0: return 1;
    case 1: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case 2: return level_supported(1) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    default: return level_supported(2) && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    }
}

// One type: dequantization bit for bit, then every level's dot against ggml's.
static int check_type(void *base, void *cpu, const low_bit_type *t, const void *acts, const float *acts_f) {
    const size_t nb = N / t->values;
    unsigned char *w = malloc(nb * t->bytes);
    for (size_t i = 0; i < nb * t->bytes; i++) w[i] = (unsigned char)next_random();
    for (size_t b = 0; b < nb; b++) {
        for (int h = 0; h < t->halves; h++) {
            uint16_t v = random_half();
            memcpy(w + b * t->bytes + t->half_offsets[h], &v, 2);
        }
    }
    float *ours = malloc(N * sizeof(float)), *theirs = malloc(N * sizeof(float));
    t->ours(w, ours, N);
    ((dequant_fn)load_symbol(base, t->ggml_dequant))(w, theirs, N);
    int failures = memcmp(ours, theirs, N * sizeof(float)) != 0;
    printf("%s dequantize: %zu blocks, bit-exact=%s\n", t->name, nb, failures ? "NO" : "yes");

    ggml_dot_fn ggml_dot = (ggml_dot_fn)load_symbol(cpu, t->ggml_dot);
    float g = 0;
    ggml_dot(N, &g, 0, w, 0, acts, 0, 1);
    double magnitude = 0;
    for (int i = 0; i < N; i++) magnitude += fabs((double)ours[i] * acts_f[i]);
    const int reps = 100;
    double t0 = seconds();
    volatile float sink = 0;
    for (int k = 0; k < reps; k++) { ggml_dot(N, &g, 0, w, 0, acts, 0, 1); sink += g; }
    printf("%s ggml: %.1f ns per block\n", t->name, (seconds() - t0) * 1e9 / ((double)reps * nb));
    for (int level = 0; level < 4; level++) {
        if (!level_supported(level)) { printf("%s %s: skipped: not on this CPU\n", t->name, level_names[level]); continue; }
        const float r = t->dots[level](w, acts, N);
        const double rel = fabs(r - g) / magnitude;
        t0 = seconds();
        for (int k = 0; k < reps; k++) sink += t->dots[level](w, acts, N);
        printf("%s %s dot vs ggml: rel %.1e (of sum |w*a|), %.1f ns per block\n", t->name, level_names[level], rel,
               (seconds() - t0) * 1e9 / ((double)reps * nb));
        failures += rel > 1e-5;
    }
    free(w); free(ours); free(theirs);
    return failures;
}

int main(int argc, char **argv) {
    rng_state = 0x7654321;
    if (argc != 2) { fprintf(stderr, "usage: %s LIBDIR\n", argv[0]); return 2; }
    void *base, *cpu;
    if (open_ggml(argv[1], &base, &cpu)) return 1;

    // Activations, quantized by ggml (and by us, which must give the same bytes).
    float *x = malloc(N * sizeof(float)), *xq = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) x[i] = ((float)(next_random() % 200001) - 100000.f) / 25000.f;
    moe_block_q8_K *q8k = calloc(N / 256, sizeof *q8k), *ours_q8k = calloc(N / 256, sizeof *q8k);
    moe_block_q8_0 *q80 = calloc(N / 32, sizeof *q80), *ours_q80 = calloc(N / 32, sizeof *q80);
    ((void (*)(const float *, void *, int64_t))load_symbol(base, "quantize_row_q8_K_ref"))(x, q8k, N);
    ((void (*)(const float *, void *, int64_t))load_symbol(base, "quantize_row_q8_0_ref"))(x, q80, N);
    moe_quantize_q8_K(x, ours_q8k, N);
    moe_quantize_q8_0(x, ours_q80, N);
    int failures = memcmp(q8k, ours_q8k, N / 256 * sizeof *q8k) != 0;
    failures += memcmp(q80, ours_q80, N / 32 * sizeof *q80) != 0;
    printf("q8_K and q8_0 quantize: identical bytes=%s\n", failures ? "NO" : "yes");
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (types[t].q8_0) moe_dequant_q8_0(q80, xq, N); else moe_dequant_q8_K(q8k, xq, N);
        failures += check_type(base, cpu, &types[t], types[t].q8_0 ? (const void *)q80 : (const void *)q8k, xq);
    }
    printf(failures ? "FAILED (%d)\n" : "all match\n", failures);
    return failures ? 1 : 0;
}
