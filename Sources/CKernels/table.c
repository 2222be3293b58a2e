// The per-type kernel table and the CPU check behind it. Features are read
// once; each ISA level has its own static table, so asking for a level is a
// lookup, never a branch in a hot loop.

#include "ck_internal.h"
#include "kquants.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

// The K-quants live in kquants*.c, written separately. Weak references keep
// this file linkable without them: a missing kernel reads as NULL and its
// type is simply reported as unsupported.
#pragma weak moe_dequant_q2_K
#pragma weak moe_dequant_q3_K
#pragma weak moe_dequant_q4_K
#pragma weak moe_dequant_q5_K
#pragma weak moe_dequant_q6_K
#pragma weak moe_dequant_q8_K
#pragma weak moe_quantize_q8_K
#pragma weak moe_dot_q4_K_q8_K_ref
#pragma weak moe_dot_q5_K_q8_K_ref
#pragma weak moe_dot_q6_K_q8_K_ref
#pragma weak moe_dot_q4_K_q8_K_avx2
#pragma weak moe_dot_q5_K_q8_K_avx2
#pragma weak moe_dot_q6_K_q8_K_avx2
#pragma weak moe_dot_q4_K_q8_K_avx512
#pragma weak moe_dot_q5_K_q8_K_avx512
#pragma weak moe_dot_q6_K_q8_K_avx512

// ggml_type numbers (GGUF's on-disk values).
enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8, T_Q8_1 = 9,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_Q8_K = 15, T_BF16 = 30,
};

// ---- CPU features -------------------------------------------------------------

static atomic_int ck_best_isa = -1;  // -1: not read yet

// __builtin_cpu_supports also checks that the OS saves the wide registers.
static moe_isa ck_read_cpu(void) {
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                     __builtin_cpu_supports("f16c");
    if (!avx2) return MOE_ISA_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return MOE_ISA_AVX512;
    return MOE_ISA_AVX2;
}

// MOED_KERNEL_ISA=scalar|avx2 lowers the level (for benchmarks and for
// checking a fallback path); it can never raise it above what the CPU has.
static moe_isa ck_apply_cap(moe_isa isa) {
    const char *cap = getenv("MOED_KERNEL_ISA");
    if (cap == NULL) return isa;
    if (strcmp(cap, "scalar") == 0) return MOE_ISA_SCALAR;
    if (strcmp(cap, "avx2") == 0 && isa > MOE_ISA_AVX2) return MOE_ISA_AVX2;
    return isa;
}

moe_isa moe_isa_best(void) {
    int isa = atomic_load_explicit(&ck_best_isa, memory_order_relaxed);
    if (isa < 0) {
        isa = (int)ck_apply_cap(ck_read_cpu());  // idempotent, so a race only repeats the work
        atomic_store_explicit(&ck_best_isa, isa, memory_order_relaxed);
    }
    return (moe_isa)isa;
}

int moe_isa_supported(moe_isa isa) { return isa >= MOE_ISA_SCALAR && isa <= moe_isa_best(); }

// ---- tables --------------------------------------------------------------------

#define ENTRY(t, bs, bb, at, abs_, abb, deq, qa, dt) \
    { (t), (bs), (bb), (at), (abs_), (abb), (deq), (qa), (dt), NULL, NULL, NULL, NULL, 0, NULL, NULL }
#define ENTRY4(t, bs, bb, at, abs_, abb, deq, qa, dt, d4, r4, g4, sc4, spb) \
    { (t), (bs), (bb), (at), (abs_), (abb), (deq), (qa), (dt), (d4), (r4), (g4), (sc4), (spb), NULL, NULL }
#define ENTRYX(t, bs, bb, at, abs_, abb, deq, qa, dt, d4, r4, g4, sc4, spb, rx, gx) \
    { (t), (bs), (bb), (at), (abs_), (abb), (deq), (qa), (dt), (d4), (r4), (g4), (sc4), (spb), (rx), (gx) }

// Rows: weights, then their activation format. Q8_K / Q8_1 appear as weights
// too (dequantize only) so every type a GGUF file may hold can be read.
#define CK_TABLE(name, F32DOT, F16DOT, BF16DOT, Q40, Q41, Q50, Q51, Q80, Q4K, Q5K, Q6K, F16DEQ, F16Q, \
                 D40, D41, D50, D51, D80, Q80Q, Q81Q, R40, R41, R50, R51, R80, G40, G41, G50, G51, G80, X41) \
    static const moe_kernel name[] = {                                                          \
        ENTRY(T_F32, 1, 4, T_F32, 1, 4, moe_dequant_f32, moe_quantize_f32, F32DOT),               \
        ENTRY(T_F16, 1, 2, T_F16, 1, 2, F16DEQ, F16Q, F16DOT),                                    \
        ENTRY(T_BF16, 1, 2, T_BF16, 1, 2, moe_dequant_bf16, moe_quantize_bf16, BF16DOT),          \
        ENTRY4(T_Q4_0, 32, 18, T_Q8_0, 32, 34, moe_dequant_q4_0, Q80Q, Q40, D40, R40, G40, moe_act_scales4_q8_0, 68),           \
        ENTRYX(T_Q4_1, 32, 20, T_Q8_1, 32, 36, moe_dequant_q4_1, Q81Q, Q41, D41, R41, G41, moe_act_scales4_q8_1, 40, \
               moe_repack_q4_1_x8, X41),                                                                                  \
        ENTRY4(T_Q5_0, 32, 22, T_Q8_0, 32, 34, moe_dequant_q5_0, Q80Q, Q50, D50, R50, G50, moe_act_scales4_q8_0, 68),           \
        ENTRY4(T_Q5_1, 32, 24, T_Q8_1, 32, 36, moe_dequant_q5_1, Q81Q, Q51, D51, R51, G51, moe_act_scales4_q8_1, 40),           \
        ENTRY4(T_Q8_0, 32, 34, T_Q8_0, 32, 34, moe_dequant_q8_0, Q80Q, Q80, D80, R80, G80, moe_act_scales4_q8_0, 68),           \
        ENTRY(T_Q8_1, 32, 36, T_Q8_1, 32, 36, moe_dequant_q8_1, moe_quantize_q8_1, NULL),          \
        ENTRY(T_Q2_K, 256, 84, T_Q8_K, 256, 292, moe_dequant_q2_K, moe_quantize_q8_K, NULL),       \
        ENTRY(T_Q3_K, 256, 110, T_Q8_K, 256, 292, moe_dequant_q3_K, moe_quantize_q8_K, NULL),      \
        ENTRY(T_Q4_K, 256, 144, T_Q8_K, 256, 292, moe_dequant_q4_K, moe_quantize_q8_K, Q4K),       \
        ENTRY(T_Q5_K, 256, 176, T_Q8_K, 256, 292, moe_dequant_q5_K, moe_quantize_q8_K, Q5K),       \
        ENTRY(T_Q6_K, 256, 210, T_Q8_K, 256, 292, moe_dequant_q6_K, moe_quantize_q8_K, Q6K),       \
        ENTRY(T_Q8_K, 256, 292, T_Q8_K, 256, 292, moe_dequant_q8_K, moe_quantize_q8_K, NULL),      \
    }

CK_TABLE(ck_scalar, moe_dot_f32_f32_ref, moe_dot_f16_f16_ref, moe_dot_bf16_bf16_ref,
         moe_dot_q4_0_q8_0_ref, moe_dot_q4_1_q8_1_ref, moe_dot_q5_0_q8_0_ref, moe_dot_q5_1_q8_1_ref,
         moe_dot_q8_0_q8_0_ref, moe_dot_q4_K_q8_K_ref, moe_dot_q5_K_q8_K_ref, moe_dot_q6_K_q8_K_ref,
         moe_dequant_f16, moe_quantize_f16, NULL, NULL, NULL, NULL, NULL,
         moe_quantize_q8_0, moe_quantize_q8_1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         moe_gemm_q4_1x8_q8_1_ref);

CK_TABLE(ck_avx2, moe_dot_f32_f32_avx2, moe_dot_f16_f16_avx2, moe_dot_bf16_bf16_avx2,
         moe_dot_q4_0_q8_0_avx2, moe_dot_q4_1_q8_1_avx2, moe_dot_q5_0_q8_0_avx2, moe_dot_q5_1_q8_1_avx2,
         moe_dot_q8_0_q8_0_avx2, moe_dot_q4_K_q8_K_avx2, moe_dot_q5_K_q8_K_avx2, moe_dot_q6_K_q8_K_avx2,
         moe_dequant_f16_f16c, moe_quantize_f16_f16c, moe_dot4_q4_0_q8_0_avx2, moe_dot4_q4_1_q8_1_avx2,
         moe_dot4_q5_0_q8_0_avx2, moe_dot4_q5_1_q8_1_avx2, moe_dot4_q8_0_q8_0_avx2,
         moe_quantize_q8_0_avx2, moe_quantize_q8_1_avx2, moe_dotr4_q4_0_q8_0_avx2, moe_dotr4_q4_1_q8_1_avx2,
         moe_dotr4_q5_0_q8_0_avx2, moe_dotr4_q5_1_q8_1_avx2, moe_dotr4_q8_0_q8_0_avx2,
         moe_gemm4_q4_0_q8_0_avx2, moe_gemm4_q4_1_q8_1_avx2, moe_gemm4_q5_0_q8_0_avx2,
         moe_gemm4_q5_1_q8_1_avx2, moe_gemm4_q8_0_q8_0_avx2, moe_gemm_q4_1x8_q8_1_avx2);

CK_TABLE(ck_avx512, moe_dot_f32_f32_avx512, moe_dot_f16_f16_avx512, moe_dot_bf16_bf16_avx512,
         moe_dot_q4_0_q8_0_avx512, moe_dot_q4_1_q8_1_avx512, moe_dot_q5_0_q8_0_avx512,
         moe_dot_q5_1_q8_1_avx512, moe_dot_q8_0_q8_0_avx512, moe_dot_q4_K_q8_K_avx512,
         moe_dot_q5_K_q8_K_avx512, moe_dot_q6_K_q8_K_avx512, moe_dequant_f16_f16c, moe_quantize_f16_f16c,
         // the four-row kernels are AVX2's: prompt tiles gain little from wider registers
         moe_dot4_q4_0_q8_0_avx2, moe_dot4_q4_1_q8_1_avx2, moe_dot4_q5_0_q8_0_avx2,
         moe_dot4_q5_1_q8_1_avx2, moe_dot4_q8_0_q8_0_avx2,
         moe_quantize_q8_0_avx2, moe_quantize_q8_1_avx2, moe_dotr4_q4_0_q8_0_avx2, moe_dotr4_q4_1_q8_1_avx2,
         moe_dotr4_q5_0_q8_0_avx2, moe_dotr4_q5_1_q8_1_avx2, moe_dotr4_q8_0_q8_0_avx2,
         moe_gemm4_q4_0_q8_0_avx2, moe_gemm4_q4_1_q8_1_avx2, moe_gemm4_q5_0_q8_0_avx2,
         moe_gemm4_q5_1_q8_1_avx2, moe_gemm4_q8_0_q8_0_avx2, moe_gemm_q4_1x8_q8_1_avx2);

const moe_kernel *moe_kernel_get(uint32_t type, moe_isa isa) {
    const moe_kernel *table;
    size_t count = sizeof ck_scalar / sizeof ck_scalar[0];
    switch (isa) {
    case MOE_ISA_SCALAR: table = ck_scalar; break;
    case MOE_ISA_AVX2: table = ck_avx2; break;
    case MOE_ISA_AVX512: table = ck_avx512; break;
    default: return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        const moe_kernel *k = &table[i];
        if (k->type != type) continue;
        // a type whose dequantize or activation quantizer is missing is unusable
        if (k->dequant == NULL || k->quantize_act == NULL) return NULL;
        return k;
    }
    return NULL;
}
