// Compares moed's K-quant kernels with ggml's own, loaded at run time from
// the llama-cpp-python wheel (libggml-base.so, libggml-cpu.so):
//   - dequantize_row_q{2,3,4,5,6}_K: bit-exact on random blocks
//   - quantize_row_q8_K_ref: identical bytes (d, qs, bsums)
//   - ggml_vec_dot_q{4,5,6}_K_q8_K (ggml's AVX2 path): relative difference,
//     and time per 256-value block against our _avx2 and _ref kernels.
// Build and run from the repository root:
//   clang -O2 -I Sources/CKernels/include -I Sources/CKernels \
//     tools/conformance/kquants_vs_ggml.c Sources/CKernels/kquants_*.c -ldl -lm -o /tmp/kq_vs_ggml
//   /tmp/kq_vs_ggml .venv/lib/python3.11/site-packages/llama_cpp/lib
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml_side.h"
#include "kquants.h"

typedef void (*dequant_fn)(const void *, float *, int64_t);
typedef float (*dot_fn)(const void *, const void *, int64_t);
typedef void (*ggml_dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);

enum { NB = 4096, N = NB * MOE_QK_K };

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s LIBDIR\n", argv[0]); return 2; }
    void *base, *cpu;
    if (open_ggml(argv[1], &base, &cpu)) return 1;
    int failures = 0;

    static const struct {
        const char *name; size_t bytes; size_t half_offsets[2]; int halves; dequant_fn ours;
        const char *ggml_dequant; dot_fn ref, avx2; const char *ggml_dot;
    } types[] = {
        {"q2_K", 84, {80, 82}, 2, moe_dequant_q2_K, "dequantize_row_q2_K", NULL, NULL, NULL},
        {"q3_K", 110, {108, 0}, 1, moe_dequant_q3_K, "dequantize_row_q3_K", NULL, NULL, NULL},
        {"q4_K", 144, {0, 2}, 2, moe_dequant_q4_K, "dequantize_row_q4_K",
         moe_dot_q4_K_q8_K_ref, moe_dot_q4_K_q8_K_avx2, "ggml_vec_dot_q4_K_q8_K"},
        {"q5_K", 176, {0, 2}, 2, moe_dequant_q5_K, "dequantize_row_q5_K",
         moe_dot_q5_K_q8_K_ref, moe_dot_q5_K_q8_K_avx2, "ggml_vec_dot_q5_K_q8_K"},
        {"q6_K", 210, {208, 0}, 1, moe_dequant_q6_K, "dequantize_row_q6_K",
         moe_dot_q6_K_q8_K_ref, moe_dot_q6_K_q8_K_avx2, "ggml_vec_dot_q6_K_q8_K"},
    };

    // Activations, quantized by both sides.
    float *x = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) x[i] = ((float)(next_random() % 200001) - 100000.f) / 25000.f;
    x[5] = 0;  // and one all-zero block:
    memset(x + 7 * MOE_QK_K, 0, MOE_QK_K * sizeof(float));
    moe_block_q8_K *ours_q8 = calloc(NB, sizeof *ours_q8), *ggml_q8 = calloc(NB, sizeof *ggml_q8);
    moe_quantize_q8_K(x, ours_q8, N);
    ((void (*)(const float *, void *, int64_t))load_symbol(base, "quantize_row_q8_K_ref"))(x, ggml_q8, N);
    int q8_same = memcmp(ours_q8, ggml_q8, NB * sizeof *ours_q8) == 0;
    printf("q8_K quantize: %d blocks, identical bytes=%s\n", NB, q8_same ? "yes" : "NO");
    failures += !q8_same;

    float *ours = malloc(N * sizeof(float)), *theirs = malloc(N * sizeof(float));
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        unsigned char *w = malloc(NB * types[t].bytes);
        for (size_t i = 0; i < NB * types[t].bytes; i++) w[i] = (unsigned char)next_random();
        for (int b = 0; b < NB; b++) {
            for (int h = 0; h < types[t].halves; h++) {
                uint16_t v = random_half();
                memcpy(w + b * types[t].bytes + types[t].half_offsets[h], &v, 2);
            }
        }
        types[t].ours(w, ours, N);
        ((dequant_fn)load_symbol(base, types[t].ggml_dequant))(w, theirs, N);
        int same = memcmp(ours, theirs, N * sizeof(float)) == 0;
        printf("%s dequantize: %d blocks, bit-exact=%s\n", types[t].name, NB, same ? "yes" : "NO");
        failures += !same;
        if (!types[t].ref) { free(w); continue; }

        ggml_dot_fn ggml_dot = (ggml_dot_fn)load_symbol(cpu, types[t].ggml_dot);
        float g = 0;
        ggml_dot(N, &g, 0, w, 0, ours_q8, 0, 1);
        const float r = types[t].ref(w, ours_q8, N), a = types[t].avx2(w, ours_q8, N);
        double magnitude = 0;
        moe_dequant_q8_K(ours_q8, theirs, N);
        for (int i = 0; i < N; i++) magnitude += fabs((double)ours[i] * theirs[i]);
        double exact = 0;
        for (int i = 0; i < N; i++) exact += (double)ours[i] * theirs[i];
        const double rel_ref = fabs(r - g) / magnitude, rel_avx2 = fabs(a - g) / magnitude;
        printf("%s dot vs ggml: ref rel %.1e, avx2 rel %.1e (of sum |w*a|); vs exact: ggml %.1e ours %.1e\n",
               types[t].name, rel_ref, rel_avx2, fabs(g - exact) / magnitude, fabs(r - exact) / magnitude);
        failures += rel_ref > 1e-5 || rel_avx2 > 1e-5;

        // Timing over a 4096-block row (590-860 KB of weights: L2/L3 sized).
        const int reps = 200;
        volatile float sink = 0;
        double t0 = seconds();
        for (int k = 0; k < reps; k++) { ggml_dot(N, &g, 0, w, 0, ours_q8, 0, 1); sink += g; }
        double t1 = seconds();
        for (int k = 0; k < reps; k++) sink += types[t].avx2(w, ours_q8, N);
        double t2 = seconds();
        for (int k = 0; k < reps / 10; k++) sink += types[t].ref(w, ours_q8, N);
        double t3 = seconds();
        const double per = 1e9 / ((double)reps * NB);
        printf("%s ns per block: ggml %.1f, ours avx2 %.1f, ours ref %.1f\n", types[t].name,
               (t1 - t0) * per, (t2 - t1) * per, (t3 - t2) * per * 10);
        free(w);
    }
    printf(failures ? "FAILED (%d)\n" : "all match\n", failures);
    return failures ? 1 : 0;
}
