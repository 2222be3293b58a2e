// The per-type kernel table and the CPU check behind it. Features are read
// once; each ISA level has its own static table, so asking for a level is a
// lookup, never a branch in a hot loop.

#include "ck_internal.h"
#include "kquants.h"
#include "repack_q4_K.h"
#include "repack_q6_K.h"
#include "repack_q5_K.h"
#include "kquants2.h"
#include "kquants2_multi.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

// ggml_type numbers (GGUF's on-disk values).
enum {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8, T_Q8_1 = 9,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_Q8_K = 15, T_BF16 = 30,
    T_IQ4_NL = 20, T_IQ4_XS = 23,
};

// ---- CPU features -------------------------------------------------------------

static atomic_int ck_best_isa = -1;  // -1: not read yet

// __builtin_cpu_supports takes only string literals, so each feature is
// listed once here; it also checks that the OS saves the wide registers.
#define CK_FEATURES(X) X("avx2") X("fma") X("f16c") X("avx512f") X("avx512bw") X("avx512vl") \
    X("avx512vnni") X("avx512bf16") X("avxvnni")
#define CK_NAME(f) f,
static const char *const ck_feature_names[] = {CK_FEATURES(CK_NAME)};
#undef CK_NAME

const char *moe_cpu_feature_name(int i) {
    return i >= 0 && i < (int)(sizeof ck_feature_names / sizeof ck_feature_names[0]) ? ck_feature_names[i] : NULL;
}

int moe_cpu_has(const char *feature) {
    __builtin_cpu_init();
#define CK_CHECK(f) if (strcmp(feature, f) == 0) return __builtin_cpu_supports(f) != 0;
    CK_FEATURES(CK_CHECK)
#undef CK_CHECK
    return 0;
}

moe_isa moe_isa_cpu(void) {
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                     __builtin_cpu_supports("f16c");
    if (!avx2) return MOE_ISA_SCALAR;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) return MOE_ISA_AVX2;
    // the VNNI kernels use 256-bit vpdpbusd, which needs VL
    if (__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) return MOE_ISA_AVX512VNNI;
    return MOE_ISA_AVX512;
}

static const char *const ck_isa_names[MOE_ISA_COUNT] = {"scalar", "avx2", "avx512", "avx512vnni"};

const char *moe_isa_name(moe_isa isa) {
    return (int)isa >= 0 && (int)isa < MOE_ISA_COUNT ? ck_isa_names[isa] : NULL;
}

// MOED_KERNEL_ISA=scalar|avx2|avx512|avx512vnni lowers the level (for
// benchmarks and for checking a fallback path); it never raises it above
// what the CPU has. A name of no level is ignored (inspect --system says so).
int moe_isa_cap(void) {
    const char *cap = getenv("MOED_KERNEL_ISA");
    if (cap == NULL) return -1;
    for (int i = 0; i < MOE_ISA_COUNT; i++)
        if (strcmp(cap, ck_isa_names[i]) == 0) return i;
    return -2;
}

moe_isa moe_isa_best(void) {
    int isa = atomic_load_explicit(&ck_best_isa, memory_order_relaxed);
    if (isa < 0) {
        // idempotent, so a race only repeats the work
        isa = (int)moe_isa_cpu();
        const int cap = moe_isa_cap();
        if (cap >= 0 && cap < isa) isa = cap;
        atomic_store_explicit(&ck_best_isa, isa, memory_order_relaxed);
    }
    return (moe_isa)isa;
}

int moe_isa_supported(moe_isa isa) { return isa >= MOE_ISA_SCALAR && isa <= moe_isa_best(); }

// ---- tables --------------------------------------------------------------------
// One row per weight type, by name (ggml-cpu's type_traits_cpu style): the
// shape of a type is written once, each level names its functions, and a
// kernel that is not linked is a link error, never a silently missing type.
// Q8_K / Q8_1 appear as weights too (dequantize only) so every type a GGUF
// file may hold can be read.
#define SHAPE(t, bs, bb, at, abs_, abb, deq) \
    .type = (t), .block_size = (bs), .block_bytes = (bb), .act_type = (at), .act_block_size = (abs_), \
    .act_block_bytes = (abb), .dequant = (deq)
#define F32_SHAPE   SHAPE(T_F32, 1, 4, T_F32, 1, 4, moe_dequant_f32), .quantize_act = moe_quantize_f32
#define BF16_SHAPE  SHAPE(T_BF16, 1, 2, T_BF16, 1, 2, moe_dequant_bf16), .quantize_act = moe_quantize_bf16
#define F16_SHAPE_F16C SHAPE(T_F16, 1, 2, T_F16, 1, 2, moe_dequant_f16_f16c), .quantize_act = moe_quantize_f16_f16c
#define Q4_0_SHAPE  SHAPE(T_Q4_0, 32, 18, T_Q8_0, 32, 34, moe_dequant_q4_0)
#define Q4_1_SHAPE  SHAPE(T_Q4_1, 32, 20, T_Q8_1, 32, 36, moe_dequant_q4_1)
#define Q5_0_SHAPE  SHAPE(T_Q5_0, 32, 22, T_Q8_0, 32, 34, moe_dequant_q5_0)
#define Q5_1_SHAPE  SHAPE(T_Q5_1, 32, 24, T_Q8_1, 32, 36, moe_dequant_q5_1)
#define Q8_0_SHAPE  SHAPE(T_Q8_0, 32, 34, T_Q8_0, 32, 34, moe_dequant_q8_0)
#define Q8_1_SHAPE  SHAPE(T_Q8_1, 32, 36, T_Q8_1, 32, 36, moe_dequant_q8_1), .quantize_act = moe_quantize_q8_1
#define K_SHAPE(t, bb, deq) SHAPE(t, 256, bb, T_Q8_K, 256, 292, deq), .quantize_act = moe_quantize_q8_K
// Q4_K, Q5_K and Q6_K at the SIMD levels quantize their activations in AVX2
// (kquants_quantize_avx2.c, bit for bit moe_quantize_q8_K).
#define K_SHAPE_SIMD(t, bb, deq) SHAPE(t, 256, bb, T_Q8_K, 256, 292, deq), .quantize_act = moe_quantize_q8_K_avx2
// Float weights' four-row kernels read the activation rows widened and interleaved.
#define FLOAT_GEMM(t, isa) .gemm4 = moe_gemm4_##t##_##t##_##isa, .gemm4_rows = moe_gemm4_rows_##t##_##isa, \
    .scales4 = moe_act_scales4_##t, .scales_per_block = 4
// The four-row kernels read activation scales made float once per product.
#define SCALES_Q8_0 .scales4 = moe_act_scales4_q8_0, .scales_per_block = 68
#define SCALES_Q8_1 .scales4 = moe_act_scales4_q8_1, .scales_per_block = 40
// K-quant rows with their four-activation-row kernels (kquants_*_multi.c;
// gemm4, on the rows' d gathered by scales4). `dot_isa` names the one-row
// dot, `isa` gemm4's level (avx2, avx512, avx512vnni). Their four-weight-row
// kernels (moe_dotr4_*_q8_K_*) are not wired: streaming one row at a time
// with the one-row dot measured faster (docs/kernels.md).
#define SCALES_Q8_K .scales4 = moe_act_scales4_q8_K, .scales_per_block = 4
#define K_MULTI(q, dot_isa, isa) \
    .dot = moe_dot_##q##_q8_K_##dot_isa, .gemm4 = moe_gemm4_##q##_q8_K_##isa, SCALES_Q8_K
// Decode streams a run of rows through the one-row dot (decode_rows.c).
#define K_ROWS(q, dot_isa) .dot_rows = moe_dot_rows_##q##_##dot_isa
// ROWS8(q) names the prompt panel on ggml's layout (AVX2_ROWS8) or none.
#define K_QUANT_ROWS(dot_isa, isa, ROWS8)                                                          \
    [T_Q4_K] = {K_SHAPE_SIMD(T_Q4_K, 144, moe_dequant_q4_K), K_MULTI(q4_K, dot_isa, isa), K_ROWS(q4_K, dot_isa)}, \
    [T_Q5_K] = {K_SHAPE_SIMD(T_Q5_K, 176, moe_dequant_q5_K), K_MULTI(q5_K, dot_isa, isa), K_ROWS(q5_K, dot_isa), \
                ROWS8(q5_K)},                                                                      \
    [T_Q6_K] = {K_SHAPE_SIMD(T_Q6_K, 210, moe_dequant_q6_K), K_MULTI(q6_K, dot_isa, isa), K_ROWS(q6_K, dot_isa), \
                ROWS8(q6_K)}
// Q5_K and Q6_K prompts at AVX2 (and avx512, whose K-quant gemm4 are the
// same shape) in eight-row panels (kpanel_avx2.h).
#define AVX2_ROWS8(q) .gemm_rows8 = moe_gemm_rows8_##q##_q8_K_avx2
#define NO_ROWS8(q) .gemm_rows8 = NULL
// Types that only dequantize, identical at every level.
#define DEQUANT_ONLY_ROWS                                                                  \
    [T_Q8_1] = {Q8_1_SHAPE},                                                               \
    [T_Q8_K] = {K_SHAPE(T_Q8_K, 292, moe_dequant_q8_K)}
// Q2_K, Q3_K, IQ4_XS (× Q8_K) and IQ4_NL (× Q8_0) (kquants2_*.c): one-row
// dots, and at the SIMD levels the Q8_K types' four-activation-row gemm4
// (GEMM4 = LOW_BIT_GEMM4; NO_GEMM4 for scalar). IQ4_NL has no gemm4: it
// would have to read each level's shared q8_0 scale layout. `q8_0` is the
// level's Q8_0 quantizer, shared with the other Q8_0 rows.
#define IQ4_NL_SHAPE SHAPE(T_IQ4_NL, 32, 18, T_Q8_0, 32, 34, moe_dequant_iq4_nl)
#define LOW_BIT_GEMM4(q, isa) .gemm4 = moe_gemm4_##q##_q8_K_##isa, SCALES_Q8_K
#define NO_GEMM4(q, isa) .gemm4 = NULL
#define LOW_BIT_ROWS(isa, q8_0, GEMM4)                                                                      \
    [T_Q2_K] = {K_SHAPE(T_Q2_K, 84, moe_dequant_q2_K), .dot = moe_dot_q2_K_q8_K_##isa, GEMM4(q2_K, isa)},     \
    [T_Q3_K] = {K_SHAPE(T_Q3_K, 110, moe_dequant_q3_K), .dot = moe_dot_q3_K_q8_K_##isa, GEMM4(q3_K, isa)},    \
    [T_IQ4_XS] = {K_SHAPE(T_IQ4_XS, 136, moe_dequant_iq4_xs), .dot = moe_dot_iq4_xs_q8_K_##isa,               \
                  GEMM4(iq4_xs, isa)},                                                                      \
    [T_IQ4_NL] = {IQ4_NL_SHAPE, .quantize_act = (q8_0), .dot = moe_dot_iq4_nl_q8_0_##isa}

enum { CK_TYPES = T_BF16 + 1 };

static const moe_kernel ck_scalar[CK_TYPES] = {
    [T_F32] = {F32_SHAPE, .dot = moe_dot_f32_f32_ref},
    [T_F16] = {SHAPE(T_F16, 1, 2, T_F16, 1, 2, moe_dequant_f16), .quantize_act = moe_quantize_f16,
               .dot = moe_dot_f16_f16_ref},
    [T_BF16] = {BF16_SHAPE, .dot = moe_dot_bf16_bf16_ref},
    [T_Q4_0] = {Q4_0_SHAPE, .quantize_act = moe_quantize_q8_0, .dot = moe_dot_q4_0_q8_0_ref},
    // The scalar level repacks Q4_1 too and multiplies with the reference,
    // so MOED_KERNEL_ISA=scalar runs the same layout.
    [T_Q4_1] = {Q4_1_SHAPE, .quantize_act = moe_quantize_q8_1, .dot = moe_dot_q4_1_q8_1_ref,
                .repack_x8 = moe_repack_q4_1_x8, .gemm_x8 = moe_gemm_q4_1x8_q8_1_ref},
    [T_Q5_0] = {Q5_0_SHAPE, .quantize_act = moe_quantize_q8_0, .dot = moe_dot_q5_0_q8_0_ref},
    [T_Q5_1] = {Q5_1_SHAPE, .quantize_act = moe_quantize_q8_1, .dot = moe_dot_q5_1_q8_1_ref},
    [T_Q8_0] = {Q8_0_SHAPE, .quantize_act = moe_quantize_q8_0, .dot = moe_dot_q8_0_q8_0_ref},
    [T_Q4_K] = {K_SHAPE(T_Q4_K, 144, moe_dequant_q4_K), .dot = moe_dot_q4_K_q8_K_ref},
    [T_Q5_K] = {K_SHAPE(T_Q5_K, 176, moe_dequant_q5_K), .dot = moe_dot_q5_K_q8_K_ref},
    [T_Q6_K] = {K_SHAPE(T_Q6_K, 210, moe_dequant_q6_K), .dot = moe_dot_q6_K_q8_K_ref},
    DEQUANT_ONLY_ROWS,
    LOW_BIT_ROWS(ref, moe_quantize_q8_0, NO_GEMM4),
};

// The AVX2 rows of the 32-value quants: one-row dot, four activation rows
// (dot4, gemm4 on float scales) and four weight rows (dotr4, tested but
// not what decoding takes: dot_rows streams AVX2's one-row dot row after row,
// also at the avx512 level, whose own one-row dots are slower).
#define AVX2_QUANT(q, act)                                                                     \
    .quantize_act = moe_quantize_##act##_avx2, .dot4 = moe_dot4_##q##_##act##_avx2,            \
    .dotr4 = moe_dotr4_##q##_##act##_avx2, .gemm4 = moe_gemm4_##q##_##act##_avx2,              \
    .dot_rows = moe_dot_rows_##q##_avx2

static const moe_kernel ck_avx2[CK_TYPES] = {
    [T_F32] = {F32_SHAPE, .dot = moe_dot_f32_f32_avx2, FLOAT_GEMM(f32, avx2)},
    [T_F16] = {F16_SHAPE_F16C, .dot = moe_dot_f16_f16_avx2, FLOAT_GEMM(f16, avx2)},
    [T_BF16] = {BF16_SHAPE, .dot = moe_dot_bf16_bf16_avx2, FLOAT_GEMM(bf16, avx2)},
    [T_Q4_0] = {Q4_0_SHAPE, .dot = moe_dot_q4_0_q8_0_avx2, AVX2_QUANT(q4_0, q8_0), SCALES_Q8_0},
    [T_Q4_1] = {Q4_1_SHAPE, .dot = moe_dot_q4_1_q8_1_avx2, AVX2_QUANT(q4_1, q8_1), SCALES_Q8_1,
                .repack_x8 = moe_repack_q4_1_x8, .gemm_x8 = moe_gemm_q4_1x8_q8_1_avx2},
    [T_Q5_0] = {Q5_0_SHAPE, .dot = moe_dot_q5_0_q8_0_avx2, AVX2_QUANT(q5_0, q8_0), SCALES_Q8_0},
    [T_Q5_1] = {Q5_1_SHAPE, .dot = moe_dot_q5_1_q8_1_avx2, AVX2_QUANT(q5_1, q8_1), SCALES_Q8_1},
    [T_Q8_0] = {Q8_0_SHAPE, .dot = moe_dot_q8_0_q8_0_avx2, AVX2_QUANT(q8_0, q8_0), SCALES_Q8_0},
    K_QUANT_ROWS(avx2, avx2, AVX2_ROWS8),
    DEQUANT_ONLY_ROWS,
    LOW_BIT_ROWS(avx2, moe_quantize_q8_0_avx2, LOW_BIT_GEMM4),
};

// AVX-512 F/BW has its own float kernels; the classic quants' kernels are
// AVX2's, the one-row dots included: AVX-512 ones (two blocks a register,
// one accumulator chain, scalar scale conversions) measured 1.2-2.8x slower
// in cache on AMD EPYC Zen 4 and were removed (docs/kernels.md). This
// machine has VNNI, so the level without it was not measured apart.
#define AVX512_FLOATS                                                                               \
    [T_F32] = {F32_SHAPE, .dot = moe_dot_f32_f32_avx512, FLOAT_GEMM(f32, avx512)},                  \
    [T_F16] = {F16_SHAPE_F16C, .dot = moe_dot_f16_f16_avx512, FLOAT_GEMM(f16, avx512)},             \
    [T_BF16] = {BF16_SHAPE, .dot = moe_dot_bf16_bf16_avx512, FLOAT_GEMM(bf16, avx512)}
static const moe_kernel ck_avx512[CK_TYPES] = {
    AVX512_FLOATS,
    [T_Q4_0] = {Q4_0_SHAPE, .dot = moe_dot_q4_0_q8_0_avx2, AVX2_QUANT(q4_0, q8_0), SCALES_Q8_0},
    [T_Q4_1] = {Q4_1_SHAPE, .dot = moe_dot_q4_1_q8_1_avx2, AVX2_QUANT(q4_1, q8_1), SCALES_Q8_1,
                .repack_x8 = moe_repack_q4_1_x8, .gemm_x8 = moe_gemm_q4_1x8_q8_1_avx2},
    [T_Q5_0] = {Q5_0_SHAPE, .dot = moe_dot_q5_0_q8_0_avx2, AVX2_QUANT(q5_0, q8_0), SCALES_Q8_0},
    [T_Q5_1] = {Q5_1_SHAPE, .dot = moe_dot_q5_1_q8_1_avx2, AVX2_QUANT(q5_1, q8_1), SCALES_Q8_1},
    [T_Q8_0] = {Q8_0_SHAPE, .dot = moe_dot_q8_0_q8_0_avx2, AVX2_QUANT(q8_0, q8_0), SCALES_Q8_0},
    // F + BW only at this level; the avx512vnni level has VNNI K-quant kernels.
    K_QUANT_ROWS(avx512, avx512, AVX2_ROWS8),
    DEQUANT_ONLY_ROWS,
    LOW_BIT_ROWS(avx512, moe_quantize_q8_0_avx2, LOW_BIT_GEMM4),
};

// AVX-512 with VNNI: the classic quants' one-row, four-weight-row and
// four-activation-row kernels use vpdpbusd (quants_avx512_vnni.c). Every
// type whose activations are q8_0 must read the same prepared scales (one
// set serves a group of products), so q4_0, q5_0 and q8_0 change together.
// The K-quant rows use vpdpwssd (kquants_avx512_multi.c).
// The one-row dot (leftover rows only) is VNNI's where it measured faster
// (q4_0 1.10×, q5_0 1.05×, q5_1 1.12× in cache) and AVX2's for q8_0 and q4_1
// (VNNI 0.93× and 0.95×: one accumulator chain against AVX2's two).
#define VNNI_QUANT(q, act, one_row)                                                            \
    .dot = moe_dot_##q##_##act##_##one_row, .quantize_act = moe_quantize_##act##_avx2,         \
    .dot4 = moe_dot4_##q##_##act##_avx2, .dotr4 = moe_dotr4_##q##_##act##_vnni,                \
    .gemm4 = moe_gemm4_##q##_##act##_vnni, .dot_rows = moe_dot_rows_##q##_##one_row
#define SCALES_Q8_0_VNNI .scales4 = moe_act_scales4_q8_0_vnni, .scales_per_block = 48

static const moe_kernel ck_avx512vnni[CK_TYPES] = {
    AVX512_FLOATS,
    [T_Q4_0] = {Q4_0_SHAPE, VNNI_QUANT(q4_0, q8_0, vnni), SCALES_Q8_0_VNNI},
    [T_Q4_1] = {Q4_1_SHAPE, VNNI_QUANT(q4_1, q8_1, avx2), SCALES_Q8_1,
                .repack_x8 = moe_repack_q4_1_x8, .gemm_x8 = moe_gemm_q4_1x8_q8_1_vnni},
    [T_Q5_0] = {Q5_0_SHAPE, VNNI_QUANT(q5_0, q8_0, vnni), SCALES_Q8_0_VNNI},
    [T_Q5_1] = {Q5_1_SHAPE, VNNI_QUANT(q5_1, q8_1, vnni), SCALES_Q8_1},
    [T_Q8_0] = {Q8_0_SHAPE, VNNI_QUANT(q8_0, q8_0, avx2), SCALES_Q8_0_VNNI},
    K_QUANT_ROWS(avx512vnni, avx512vnni, NO_ROWS8),
    DEQUANT_ONLY_ROWS,
    LOW_BIT_ROWS(avx512vnni, moe_quantize_q8_0_avx2, LOW_BIT_GEMM4),
};

// Q4_K repacks eight rows at a time (x8, repack_q4_K*.c) at every SIMD
// level (the avx512 level with the AVX2 product: 4.8 against 6.3 ns per
// block-row for its one-row dot in cache), Q6_K (repack_q6_K*.c) at avx2
// and avx512vnni (AVX2: 6.8 against 13.4 ns per block-row for the one-row
// dot in cache on Zen 3, bench/moe_ffn_bench.c): rows returned instead of
// K_QUANT_ROWS' at lookup.
static const moe_kernel ck_q4_K_x8_avx2 = {K_SHAPE_SIMD(T_Q4_K, 144, moe_dequant_q4_K), K_MULTI(q4_K, avx2, avx2),
                                           K_ROWS(q4_K, avx2), .repack_x8 = moe_repack_q4_K_x8,
                                           .gemm_x8 = moe_gemm_q4_Kx8_q8_K_avx2};
static const moe_kernel ck_q4_K_x8_avx512 = {K_SHAPE_SIMD(T_Q4_K, 144, moe_dequant_q4_K), K_MULTI(q4_K, avx512, avx512),
                                             K_ROWS(q4_K, avx512), .repack_x8 = moe_repack_q4_K_x8,
                                             .gemm_x8 = moe_gemm_q4_Kx8_q8_K_avx2};
static const moe_kernel ck_q4_K_x8_vnni = {K_SHAPE_SIMD(T_Q4_K, 144, moe_dequant_q4_K), K_MULTI(q4_K, avx512vnni, avx512vnni),
                                           K_ROWS(q4_K, avx512vnni), .repack_x8 = moe_repack_q4_K_x8,
                                           .gemm_x8 = moe_gemm_q4_Kx8_q8_K_vnni};
static const moe_kernel ck_q6_K_x8_avx2 = {K_SHAPE_SIMD(T_Q6_K, 210, moe_dequant_q6_K), K_MULTI(q6_K, avx2, avx2),
                                           K_ROWS(q6_K, avx2), AVX2_ROWS8(q6_K), .repack_x8 = moe_repack_q6_K_x8,
                                           .gemm_x8 = moe_gemm_q6_Kx8_q8_K_avx2};
static const moe_kernel ck_q6_K_x8_vnni = {K_SHAPE_SIMD(T_Q6_K, 210, moe_dequant_q6_K), K_MULTI(q6_K, avx512vnni, avx512vnni),
                                           K_ROWS(q6_K, avx512vnni), .repack_x8 = moe_repack_q6_K_x8,
                                           .gemm_x8 = moe_gemm_q6_Kx8_q8_K_vnni};
// Q5_K (repack_q5_K*.c) at avx2 and avx512vnni; the plain avx512 level
// keeps ggml's layout. At avx2 the one-row dot on ggml's layout decoded a
// 1.5B Q5_K_M file at ~10.8 GB/s effective against ~15 for the x8 types
// (docs/performance.md item 45); gemm_rows8 stays for a matrix still in
// ggml's layout, as Q6_K's.
static const moe_kernel ck_q5_K_x8_avx2 = {K_SHAPE_SIMD(T_Q5_K, 176, moe_dequant_q5_K), K_MULTI(q5_K, avx2, avx2),
                                           K_ROWS(q5_K, avx2), AVX2_ROWS8(q5_K), .repack_x8 = moe_repack_q5_K_x8,
                                           .gemm_x8 = moe_gemm_q5_Kx8_q8_K_avx2};
static const moe_kernel ck_q5_K_x8_vnni = {K_SHAPE_SIMD(T_Q5_K, 176, moe_dequant_q5_K), K_MULTI(q5_K, avx512vnni, avx512vnni),
                                           K_ROWS(q5_K, avx512vnni), .repack_x8 = moe_repack_q5_K_x8,
                                           .gemm_x8 = moe_gemm_q5_Kx8_q8_K_vnni};

// Q5_0 repacks eight rows at a time (repack_q5_0*.c) at avx512vnni, for
// decoding and prompts alike (the sixteen-row panel reads ggml's layout).
static const moe_kernel ck_q5_0_x8_vnni = {Q5_0_SHAPE, VNNI_QUANT(q5_0, q8_0, vnni), SCALES_Q8_0_VNNI,
                                           .repack_x8 = moe_repack_q5_0_x8, .gemm_x8 = moe_gemm_q5_0x8_q8_0_vnni};

// And at avx2 (repack_q5_0_avx2.c, item 41), decoding and prompts alike:
// the one-row dot on ggml's layout decoded Qwen2.5-0.5B Q4_K_M (44 % of
// its bytes Q5_0) at 54 % of the read-bandwidth bound on Zen 3.
// MOED_Q5_0_X8=0 keeps Q5_0 in ggml's layout there (A/B comparisons).
static const moe_kernel ck_q5_0_x8_avx2 = {Q5_0_SHAPE, .dot = moe_dot_q5_0_q8_0_avx2, AVX2_QUANT(q5_0, q8_0), SCALES_Q8_0,
                                           .repack_x8 = moe_repack_q5_0_x8, .gemm_x8 = moe_gemm_q5_0x8_q8_0_avx2};

// Q8_0 repacks eight rows at a time (repack_q8_0*.c) at avx512vnni, for
// decoding, several streams and prompts (the panel filled from the layout),
// and its rows are what a tied token embedding's lookup reads.
// MOED_Q8_0_X8=0 keeps Q8_0 in ggml's layout (A/B comparisons; read once),
// as MOED_Q5_0_X8=0 does Q5_0 at avx2.
static atomic_int ck_q8_0_x8_off_flag = -1, ck_q5_0_x8_off_flag = -1;
static int ck_x8_off(const char *name, atomic_int *off) {
    int v = atomic_load(off);
    if (v < 0) {
        const char *e = getenv(name);
        v = e != NULL && strcmp(e, "0") == 0;
        atomic_store(off, v);
    }
    return v;
}
static const moe_kernel ck_q8_0_x8_vnni = {Q8_0_SHAPE, VNNI_QUANT(q8_0, q8_0, avx2), SCALES_Q8_0_VNNI,
                                           .repack_x8 = moe_repack_q8_0_x8, .gemm_x8 = moe_gemm_q8_0x8_q8_0_vnni,
                                           .dequant_row_x8 = moe_dequant_row_q8_0_x8};
// And at avx2 (repack_q8_0_avx2.c, item 40): the one-row dot on ggml's
// layout decoded a 1.5B Q8_0 file at 0.91× llama.cpp's AVX2 build.
static const moe_kernel ck_q8_0_x8_avx2 = {Q8_0_SHAPE, .dot = moe_dot_q8_0_q8_0_avx2, AVX2_QUANT(q8_0, q8_0), SCALES_Q8_0,
                                           .repack_x8 = moe_repack_q8_0_x8, .gemm_x8 = moe_gemm_q8_0x8_q8_0_avx2,
                                           .dequant_row_x8 = moe_dequant_row_q8_0_x8};

// BF16 with vdpbf16ps, on the activations kept in bf16: AVX-512 BF16 is a
// feature of its own (Ice Lake has VNNI without it), so the avx512vnni
// level takes this row only where the CPU reports it.
static const moe_kernel ck_bf16_dp = {BF16_SHAPE, .dot = moe_dot_bf16_bf16_avx512,
                                      .gemm4 = moe_gemm4_bf16_bf16_avx512bf16,
                                      .gemm4_rows = moe_gemm4_rows_bf16_avx512bf16,
                                      .scales4 = moe_act_scales4_bf16_pairs, .scales_per_block = 2};

const moe_kernel *moe_kernel_get(uint32_t type, moe_isa isa) {
    if (type == T_BF16 && isa == MOE_ISA_AVX512VNNI && moe_cpu_has("avx512bf16")) return &ck_bf16_dp;
    if (type == T_Q4_K && isa == MOE_ISA_AVX512VNNI) return &ck_q4_K_x8_vnni;
    if (type == T_Q4_K && isa == MOE_ISA_AVX512) return &ck_q4_K_x8_avx512;
    if (type == T_Q4_K && isa == MOE_ISA_AVX2) return &ck_q4_K_x8_avx2;
    if (type == T_Q6_K && isa == MOE_ISA_AVX512VNNI) return &ck_q6_K_x8_vnni;
    if (type == T_Q6_K && isa == MOE_ISA_AVX2) return &ck_q6_K_x8_avx2;
    if (type == T_Q5_K && isa == MOE_ISA_AVX512VNNI) return &ck_q5_K_x8_vnni;
    if (type == T_Q5_K && isa == MOE_ISA_AVX2) return &ck_q5_K_x8_avx2;
    if (type == T_Q5_0 && isa == MOE_ISA_AVX512VNNI) return &ck_q5_0_x8_vnni;
    if (type == T_Q5_0 && isa == MOE_ISA_AVX2 && !ck_x8_off("MOED_Q5_0_X8", &ck_q5_0_x8_off_flag)) return &ck_q5_0_x8_avx2;
    if (type == T_Q8_0 && isa == MOE_ISA_AVX512VNNI && !ck_x8_off("MOED_Q8_0_X8", &ck_q8_0_x8_off_flag)) return &ck_q8_0_x8_vnni;
    if (type == T_Q8_0 && isa == MOE_ISA_AVX2 && !ck_x8_off("MOED_Q8_0_X8", &ck_q8_0_x8_off_flag)) return &ck_q8_0_x8_avx2;
    const moe_kernel *table;
    switch (isa) {
    case MOE_ISA_SCALAR: table = ck_scalar; break;
    case MOE_ISA_AVX2: table = ck_avx2; break;
    case MOE_ISA_AVX512: table = ck_avx512; break;
    case MOE_ISA_AVX512VNNI: table = ck_avx512vnni; break;
    default: return NULL;
    }
    if (type >= CK_TYPES) return NULL;
    const moe_kernel *k = &table[type];
    // a gap in the table (a type number with no row) is all zeros
    if (k->block_size == 0 || k->dequant == NULL || k->quantize_act == NULL) return NULL;
    return k;
}
