// AVX-512 VNNI kernels for the 32-value quants: one-row dot, four weight
// rows (decode, dotr4) and four activation rows on prepared activations
// (prompts, gemm4). 256-bit registers (AVX-512 VL): one block per register,
// as the AVX2 kernels, but vpdpbusd does a block's u8 × s8 products, their
// pairing and widening to int32 and the add in one instruction where AVX2
// takes maddubs, madd and add.
//
// vpdpbusd wants one unsigned operand. Signed weights (q4_0, q5_0, q8_0) are
// made unsigned by an offset instead of moving their sign onto the
// activations: u = q + 2^k (q8_0: q ^ 0x80, so -128 is no special case;
// q4_0 and q5_0: the stored nibbles themselves), and Σ q·y = Σ u·y − 2^k·Σ y.
// The correction −2^k·Σy depends only on the activation block, so it is the
// accumulator's starting value, made once per activation block (decode:
// shared by four weight rows; prompts: made once per product by
// moe_act_scales4_q8_0_vnni) — per weight row a block costs its unpacking and
// one vpdpbusd. All integer sums are exact: |u·y| ≤ 255·128 per product, and
// a lane's sum of a block stays below 2^31 by far.

#include "ck_x86.h"

#define CK_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

// Floats per block that moe_act_scales4_q8_0_vnni writes (see there).
#define CK_PREP_VNNI 48
#define CK_PREP_Q8_1 40

#define CK_XR(type, j, i) (((const type *)((const uint8_t *)x + (size_t)(j) * x_stride)) + (i))
// As the AVX2 dotr4: fetch the same place in the next four rows.
#define CK_PREFETCH_NEXT(a) _mm_prefetch((const char *)(a) + 4 * x_stride, _MM_HINT_T0)

CK_VNNI static inline __m256i ck_dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }

// The starting value −2^shift·Σy, spread over the eight lanes (each lane
// corrects the four products it sums).
CK_VNNI static inline __m256i ck_offset_start(__m256i yq, int shift) {
    const __m256i ysum = ck_dpbusd(_mm256_setzero_si256(), _mm256_set1_epi8(1), yq);
    return _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), ysum), shift);
}

// Weights as unsigned bytes u = q + 2^shift.
CK_VNNI static inline __m256i ck_u_q8_0(const moe_block_q8_0 *blk) {
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)blk->qs), _mm256_set1_epi8((char)0x80));
}
CK_VNNI static inline __m256i ck_u_q4_0(const moe_block_q4_0 *blk) { return ck_nibbles(blk->qs); }
CK_VNNI static inline __m256i ck_u_q5_0(const moe_block_q5_0 *blk) {
    const __m256i fifth = _mm256_and_si256(ck_bits_to_bytes(ck_qh_bits(blk->qh)), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(ck_nibbles(blk->qs), fifth);
}
CK_VNNI static inline __m256i ck_u_q4_1(const moe_block_q4_1 *blk) { return ck_nibbles(blk->qs); }
CK_VNNI static inline __m256i ck_u_q5_1(const moe_block_q5_1 *blk) { return ck_q5_1_values(blk); }

// R (1 or 4) signed-type weight rows x_stride bytes apart against one q8_0
// activation row; the results as the R lanes of the returned vector.
#define CK_VNNI_SIGNED(WTYPE, VALUES, SHIFT, R)                                                   \
    const moe_block_q8_0 *b = y;                                                                  \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                    \
        const __m256i yq = _mm256_loadu_si256((const __m256i *)b[i].qs);                          \
        const __m256i start = ck_offset_start(yq, SHIFT);                                         \
        const __m256 dy = ck_half_splat(b[i].d);                                   \
        for (int j = 0; j < (R); j++) {                                                           \
            const WTYPE *a = CK_XR(WTYPE, j, i);                                                  \
            if ((R) > 1) CK_PREFETCH_NEXT(a);                                                     \
            const __m256 sums = _mm256_cvtepi32_ps(ck_dpbusd(start, VALUES(a), yq));              \
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(ck_half_splat(a->d), dy), sums, acc[j]); \
        }                                                                                         \
    }

// R weight rows with a minimum (q4_1, q5_1) against q8_1: one multiply gives
// [d_x·d_y, m_x·s_y] per row, the min terms collect in lane 1 of mins[j].
#define CK_VNNI_OFFSET(WTYPE, VALUES, R)                                                          \
    const moe_block_q8_1 *b = y;                                                                  \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    __m128 mins[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};    \
    for (int64_t i = 0; i < n / MOE_QK; i++) {                                                    \
        const __m256i yq = _mm256_loadu_si256((const __m256i *)b[i].qs);                          \
        const __m128 y_ds = ck_half_pair(&b[i].d);                                                \
        for (int j = 0; j < (R); j++) {                                                           \
            const WTYPE *a = CK_XR(WTYPE, j, i);                                                  \
            if ((R) > 1) CK_PREFETCH_NEXT(a);                                                     \
            const __m128 sm = _mm_mul_ps(ck_half_pair(&a->d), y_ds);                              \
            mins[j] = _mm_add_ps(mins[j], sm);                                                    \
            const __m256 sums = _mm256_cvtepi32_ps(ck_dpbusd(_mm256_setzero_si256(), VALUES(a), yq)); \
            acc[j] = _mm256_fmadd_ps(_mm256_broadcastss_ps(sm), sums, acc[j]);                    \
        }                                                                                         \
    }                                                                                             \
    /* lane 1 of each mins[j] into lane j */                                                      \
    const __m128 m = _mm_movehl_ps(_mm_unpacklo_ps(mins[2], mins[3]), _mm_unpacklo_ps(mins[0], mins[1]));

// One-row dots only where they beat AVX2's (q8_0 and q4_1 did not: one
// accumulator chain against AVX2's two; the table says which it uses).
#define CK_VNNI_SIGNED_DOT(q, WTYPE, SHIFT)                                                       \
    CK_VNNI float moe_dot_##q##_q8_0_vnni(const void *x, const void *y, int64_t n) {             \
        const size_t x_stride = 0;                                                                \
        CK_VNNI_SIGNED(WTYPE, ck_u_##q, SHIFT, 1)                                                 \
        return ck_hsum256(acc[0]);                                                                \
    }
#define CK_VNNI_SIGNED_FNS(q, WTYPE, SHIFT)                                                       \
    CK_VNNI void moe_dotr4_##q##_q8_0_vnni(const void *x, size_t x_stride, const void *y, float *out, int64_t n) { \
        CK_VNNI_SIGNED(WTYPE, ck_u_##q, SHIFT, 4)                                                 \
        _mm_storeu_ps(out, ck_hsum4(acc));                                                        \
    }

#define CK_VNNI_OFFSET_DOT(q, WTYPE)                                                              \
    CK_VNNI float moe_dot_##q##_q8_1_vnni(const void *x, const void *y, int64_t n) {             \
        const size_t x_stride = 0;                                                                \
        CK_VNNI_OFFSET(WTYPE, ck_u_##q, 1)                                                        \
        (void)m;                                                                                  \
        return ck_hsum256(acc[0]) + _mm_cvtss_f32(_mm_shuffle_ps(mins[0], mins[0], 1));          \
    }
#define CK_VNNI_OFFSET_FNS(q, WTYPE)                                                              \
    CK_VNNI void moe_dotr4_##q##_q8_1_vnni(const void *x, size_t x_stride, const void *y, float *out, int64_t n) { \
        CK_VNNI_OFFSET(WTYPE, ck_u_##q, 4)                                                        \
        _mm_storeu_ps(out, _mm_add_ps(ck_hsum4(acc), m));                                         \
    }

CK_VNNI_SIGNED_FNS(q4_0, moe_block_q4_0, 3)
CK_VNNI_SIGNED_FNS(q5_0, moe_block_q5_0, 4)
CK_VNNI_SIGNED_FNS(q8_0, moe_block_q8_0, 7)
CK_VNNI_OFFSET_FNS(q4_1, moe_block_q4_1)
CK_VNNI_OFFSET_FNS(q5_1, moe_block_q5_1)
CK_VNNI_SIGNED_DOT(q4_0, moe_block_q4_0, 3)
CK_VNNI_SIGNED_DOT(q5_0, moe_block_q5_0, 4)
CK_VNNI_OFFSET_DOT(q5_1, moe_block_q5_1)

// ---- four activation rows (prompts, batched decoding) -------------------------
// The activations come transposed in 4-byte groups (moe_act_scales4_*):
// dword j of group vector g holds row j's values 4g…4g+3 (lower half) and
// 16+4g… (upper half). Weight group g broadcast to every dword of its half
// lines up with all four rows, so four vpdpbusd leave the four rows' block
// sums in [r0 r1 r2 r3 | r0 r1 r2 r3] (lower and upper 16 values): no
// horizontal sums, one convert, one scale and one FMA per weight block.
#define CK_G(u, g, yt) _mm256_shuffle_epi32(u, (g) * 0x55), _mm256_loadu_si256((const __m256i *)(yt) + (g))

CK_VNNI static inline __m256i ck_four_row_sums(__m256i start, __m256i u, const uint8_t *yt) {
    // two chains, so the four dependent vpdpbusd overlap pairwise
    const __m256i a = ck_dpbusd(ck_dpbusd(start, CK_G(u, 0, yt)), CK_G(u, 2, yt));
    const __m256i b = ck_dpbusd(ck_dpbusd(_mm256_setzero_si256(), CK_G(u, 1, yt)), CK_G(u, 3, yt));
    return _mm256_add_epi32(a, b);
}

CK_VNNI static inline __m128 ck_halves_vnni(__m256 v) {
    return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

// Signed weights: the prepared −Σy of the four rows' lower and upper 16
// values, times 2^shift, start the lanes, so each lane's sum is exactly
// Σ q·y of its 16 values (no large terms left to cancel in float).
#define CK_VNNI_SIGNED_GEMM(q, WTYPE, SHIFT)                                                      \
    CK_VNNI void moe_gemm4_##q##_q8_0_vnni(const void *x, const void *y, size_t y_stride, const float *y_scales, \
                                          float *out, int64_t n) {                                \
        (void)y; (void)y_stride;                                                                  \
        const WTYPE *a = x;                                                                       \
        __m256 acc = _mm256_setzero_ps();                                                         \
        for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
            const float *prep = y_scales + CK_PREP_VNNI * i;                                      \
            const __m256i neg_sums = _mm256_loadu_si256((const __m256i *)(prep + 8));             \
            const __m256i start = _mm256_slli_epi32(neg_sums, SHIFT);                             \
            const __m256i sums = ck_four_row_sums(start, ck_u_##q(&a[i]), (const uint8_t *)(prep + 16)); \
            const __m256 dy = _mm256_broadcast_ps((const __m128 *)prep);                          \
            const __m256 scale = _mm256_mul_ps(ck_half_splat(a[i].d), dy);         \
            acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);                          \
        }                                                                                         \
        _mm_storeu_ps(out, ck_halves_vnni(acc));                                                  \
    }

// Weights with a minimum, against moe_act_scales4_q8_1's layout.
#define CK_VNNI_OFFSET_GEMM(q, WTYPE)                                                             \
    CK_VNNI void moe_gemm4_##q##_q8_1_vnni(const void *x, const void *y, size_t y_stride, const float *y_scales, \
                                          float *out, int64_t n) {                                \
        (void)y; (void)y_stride;                                                                  \
        const WTYPE *a = x;                                                                       \
        __m256 acc = _mm256_setzero_ps();                                                         \
        __m128 mins = _mm_setzero_ps();                                                           \
        for (int64_t i = 0; i < n / MOE_QK; i++) {                                                \
            const float *prep = y_scales + CK_PREP_Q8_1 * i;                                      \
            const __m256i sums = ck_four_row_sums(_mm256_setzero_si256(), ck_u_##q(&a[i]), (const uint8_t *)(prep + 8)); \
            const __m128 x_dm = ck_half_pair(&a[i].d);                                            \
            const __m256 dy = _mm256_broadcast_ps((const __m128 *)prep);                          \
            const __m256 scale = _mm256_mul_ps(_mm256_broadcastss_ps(x_dm), dy);                  \
            acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sums), acc);                          \
            mins = _mm_fmadd_ps(_mm_shuffle_ps(x_dm, x_dm, 0x55), _mm_loadu_ps(prep + 4), mins);  \
        }                                                                                         \
        _mm_storeu_ps(out, _mm_add_ps(ck_halves_vnni(acc), mins));                                \
    }

CK_VNNI_SIGNED_GEMM(q4_0, moe_block_q4_0, 3)
CK_VNNI_SIGNED_GEMM(q5_0, moe_block_q5_0, 4)
CK_VNNI_SIGNED_GEMM(q8_0, moe_block_q8_0, 7)
CK_VNNI_OFFSET_GEMM(q4_1, moe_block_q4_1)
CK_VNNI_OFFSET_GEMM(q5_1, moe_block_q5_1)

#define CK_YB(j, i) (((const moe_block_q8_0 *)((const uint8_t *)y + (size_t)(j) * y_stride)) + (i))

// Per block (48 floats, three cache lines, so no vector load crosses a line
// in a 64-byte aligned buffer): the four rows' d as floats, four zeros,
// their −Σy over values 0…15 then over 16…31 as int32 (8 lanes, as the
// kernels' sums), and their values transposed in 4-byte groups (group g of row j: values 4g… at
// 32g + 4j, values 16+4g… at 32g + 16 + 4j).
void moe_act_scales4_q8_0_vnni(const void *y, size_t y_stride, float *scales, int64_t n) {
    for (int64_t i = 0; i < n / MOE_QK; i++) {
        float *prep = scales + CK_PREP_VNNI * i;
        uint8_t *yt = (uint8_t *)(prep + 16);
        memset(prep + 4, 0, 4 * sizeof(float));  // padding: the int32 sums start 32 bytes in
        for (int j = 0; j < 4; j++) {
            const moe_block_q8_0 *b = CK_YB(j, i);
            prep[j] = moe_fp16_to_fp32(b->d);
            for (int half = 0; half < 2; half++) {
                int32_t sum = 0;
                for (int k = 0; k < 16; k++) sum += b->qs[16 * half + k];
                const int32_t neg = -sum;
                memcpy(prep + 8 + 4 * half + j, &neg, 4);
            }
            for (int g = 0; g < 4; g++) {
                memcpy(yt + 32 * g + 4 * j, b->qs + 4 * g, 4);
                memcpy(yt + 32 * g + 16 + 4 * j, b->qs + 16 + 4 * g, 4);
            }
        }
    }
}
