#pragma once
// The AVX-512 VNNI decode product shared by the eight-row layouts whose
// activations are q8_0 (Q5_0: repack_q5_0_vnni.c, Q8_0: repack_q8_0_vnni.c).
//
// Both layouts unpack a block of eight rows into four registers u[p] of
// unsigned bytes: byte 8r + t of u[p] is value 8p + t of row r, biased by
// 2^SHIFT (q5_0: u = q + 16; q8_0: u = q ^ 0x80 = q + 128). Each activation
// row then takes four vpdpbusd against its values broadcast by qwords
// straight from its q8_0 block, a fold of the dword pairs into eight row
// sums, Σq·y = Σu·y − 2^SHIFT·Σy with Σy from the activation preparation
// (moe_gemm16_prep_q8_0), and the float step of the scalar dots (scale
// product, then add, no FMA), so the result equals the scalar dot's bit for
// bit. Unpacked weights serve up to four activation rows per pass over a
// group. Prompts (CK_X8Q8_PANEL_ROWS rows or more) take the sixteen-row
// panel kernel (gemm_q8_0_vnni.c) with a fill from the layout instead.

#include "ck_x86.h"
#include "gemm_q8_0.h"

#define CK_X8Q8 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

// Floats of activation preparation a call keeps on its stack (16 KB).
#define CK_X8Q8_PREP 4096
// Activation rows from which a call takes the sixteen-row panel, which
// runs four activation rows per pass over a panel that serves every row of
// the call, where the group product unpacks a block per four rows. Its
// results equal the scalar dot's to rounding (FMA), not bit for bit.
#define CK_X8Q8_PANEL_ROWS 8

// Σu·y of the eight rows against one activation block, as eight dwords.
CK_X8Q8 static inline __attribute__((always_inline)) __m256i ck_x8q8_sums(const __m512i u[4], const moe_block_q8_0 *b) {
    int64_t y[4];
    memcpy(y, b->qs, 32);
    const __m512i zero = _mm512_setzero_si512();
    __m512i s0 = _mm512_dpbusd_epi32(zero, u[0], _mm512_set1_epi64(y[0]));
    __m512i s1 = _mm512_dpbusd_epi32(zero, u[1], _mm512_set1_epi64(y[1]));
    s0 = _mm512_dpbusd_epi32(s0, u[2], _mm512_set1_epi64(y[2]));
    s1 = _mm512_dpbusd_epi32(s1, u[3], _mm512_set1_epi64(y[3]));
    const __m512i s = _mm512_add_epi32(s0, s1);
    // dwords 2r and 2r + 1 are row r's: add them, keep the low dword of each qword
    return _mm512_cvtepi64_epi32(_mm512_add_epi32(s, _mm512_srli_epi64(s, 32)));
}

// −Σy of a q8_0 block (the preparation's second number, for long rows
// computed here): bytes biased to unsigned, summed by vpsadbw.
CK_X8Q8 static inline int32_t ck_x8q8_neg_sum(const moe_block_q8_0 *b) {
    const __m256i biased = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs), _mm256_set1_epi8((char)0x80));
    const __m256i sad = _mm256_sad_epu8(biased, _mm256_setzero_si256());
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
    return 32 * 128 - (int32_t)(_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
}

// moe_gemm16_prep_q8_0's numbers (d as a float, −Σy as int bits per
// block), the sums by vpsadbw: the scalar loop was 2 % of a decode step.
CK_X8Q8 static inline void ck_x8q8_prep(const uint8_t *y, size_t y_stride, int64_t m, float *prep, int64_t nb) {
    for (int64_t j = 0; j < m; j++) {
        const moe_block_q8_0 *b = (const moe_block_q8_0 *)(y + (size_t)j * y_stride);
        float *p = prep + MOE_GEMM16_PREP_PER_BLOCK * j * nb;
        for (int64_t i = 0; i < nb; i++) {
            const int32_t neg = ck_x8q8_neg_sum(&b[i]);
            p[2 * i] = _cvtsh_ss(b[i].d);
            memcpy(p + 2 * i + 1, &neg, 4);
        }
    }
}

// The products of one layout: NAME's block type BLOCK (its eight d first,
// as uint16_t d[8]), UNPACK(const BLOCK *, __m512i u[4]), the bias 2^SHIFT,
// PANEL, the sixteen-row prompt kernel on the layout, and PF, how many
// bytes ahead a group is fetched by hand (0: left to the hardware
// prefetcher; a group is one sequential stream). Defines ck_NAME_group /
// ck_NAME_rows and the public moe_gemm_NAME_q8_0_vnni.
#define CK_X8Q8_PRODUCTS(NAME, BLOCK, UNPACK, SHIFT, PANEL, PF)                                                   \
    /* One group of eight weight rows (nb blocks) against M ≤ 4 activation rows; prep (per row nb pairs:     \
       d as float, −Σy as int bits) or NULL. */                                                               \
    CK_X8Q8 static inline __attribute__((always_inline)) void                                                 \
    ck_##NAME##_group(const BLOCK *a, int64_t nb, const uint8_t *y, size_t y_stride, const float *prep,      \
                      const int M, float *out, size_t out_stride) {                                          \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
        for (int64_t i = 0; i < nb; i++) {                                                                    \
            const BLOCK *blk = &a[i];                                                                         \
            if (PF > 0)                                                                                       \
                for (size_t line = 0; line < sizeof(BLOCK); line += 64)                                       \
                    _mm_prefetch((const char *)blk + (PF) + line, _MM_HINT_T0);                               \
            __m512i u[4];                                                                                     \
            UNPACK(blk, u);                                                                                   \
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->d));                      \
            for (int j = 0; j < M; j++) {                                                                     \
                const moe_block_q8_0 *b = (const moe_block_q8_0 *)(y + (size_t)j * y_stride) + i;             \
                float dy;                                                                                     \
                int32_t neg;                                                                                  \
                if (prep) {                                                                                   \
                    dy = prep[2 * (j * nb + i)];                                                              \
                    memcpy(&neg, prep + 2 * (j * nb + i) + 1, 4);                                             \
                } else {                                                                                      \
                    dy = _cvtsh_ss(b->d);                                                                     \
                    neg = ck_x8q8_neg_sum(b);                                                                 \
                }                                                                                             \
                const __m256i sumi = _mm256_add_epi32(ck_x8q8_sums(u, b), _mm256_set1_epi32(neg * (1 << SHIFT))); \
                const __m256 scale = _mm256_mul_ps(d8, _mm256_set1_ps(dy));                                   \
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(scale, _mm256_cvtepi32_ps(sumi)));               \
            }                                                                                                 \
        }                                                                                                     \
        for (int j = 0; j < M; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);                   \
    }                                                                                                         \
                                                                                                              \
    /* Every group against m rows, four rows at a time (then the 1–3 left). */                                \
    CK_X8Q8 static void ck_##NAME##_rows(const BLOCK *a, int64_t rows, const uint8_t *y, size_t y_stride,    \
                                         const float *prep, int64_t m, float *out, size_t out_stride,         \
                                         int64_t nb) {                                                        \
        for (int64_t k = 0; k < rows / 8; k++) {                                                              \
            const BLOCK *g = a + k * nb;                                                                      \
            float *o = out + 8 * k;                                                                           \
            int64_t j = 0;                                                                                    \
            for (; j + 4 <= m; j += 4)                                                                        \
                ck_##NAME##_group(g, nb, y + (size_t)j * y_stride, y_stride, prep ? prep + 2 * nb * j : NULL, 4, \
                                  o + (size_t)j * out_stride, out_stride);                                    \
            const uint8_t *yj = y + (size_t)j * y_stride;                                                     \
            const float *pj = prep ? prep + 2 * nb * j : NULL;                                                \
            float *oj = o + (size_t)j * out_stride;                                                           \
            switch (m - j) {                                                                                  \
            case 3: ck_##NAME##_group(g, nb, yj, y_stride, pj, 3, oj, out_stride); break;                     \
            case 2: ck_##NAME##_group(g, nb, yj, y_stride, pj, 2, oj, out_stride); break;                     \
            case 1: ck_##NAME##_group(g, nb, yj, y_stride, pj, 1, oj, out_stride); break;                     \
            default: break;                                                                                   \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
                                                                                                              \
    /* Prompts take PANEL; decoding takes activation rows in chunks whose preparation fits on the stack (a   \
       multiple of four rows where it can); rows too long for even one row's preparation (over 65536          \
       values) compute it per block instead. */                                                               \
    CK_X8Q8 void moe_gemm_##NAME##_q8_0_vnni(const void *x, int64_t rows, const void *y, size_t y_stride,     \
                                              int64_t m, float *out, size_t out_stride, int64_t n) {         \
        const int64_t nb = n / MOE_QK;                                                                        \
        const uint8_t *yb = y;                                                                                \
        if (nb == 0) return;                                                                                  \
        if (m >= CK_X8Q8_PANEL_ROWS) {                                                                        \
            float *prep = ck_thread_scratch(sizeof(float) * MOE_GEMM16_PREP_PER_BLOCK * (size_t)nb * (size_t)m); \
            if (prep) {                                                                                       \
                ck_x8q8_prep(yb, y_stride, m, prep, nb);                                               \
                PANEL(x, (size_t)nb * (sizeof(BLOCK) / 8), rows, yb, y_stride, prep, m, out, out_stride, n);  \
                return;                                                                                       \
            }                                                                                                 \
        }                                                                                                     \
        const int64_t fit = CK_X8Q8_PREP / (MOE_GEMM16_PREP_PER_BLOCK * nb);                                  \
        if (fit == 0) {                                                                                       \
            ck_##NAME##_rows(x, rows, yb, y_stride, NULL, m, out, out_stride, nb);                            \
            return;                                                                                           \
        }                                                                                                     \
        float prep[CK_X8Q8_PREP];                                                                             \
        const int64_t chunk = fit >= 4 ? fit / 4 * 4 : fit;                                                   \
        for (int64_t c = 0; c < m; c += chunk) {                                                              \
            const int64_t mc = m - c > chunk ? chunk : m - c;                                                 \
            ck_x8q8_prep(yb + (size_t)c * y_stride, y_stride, mc, prep, nb);                           \
            ck_##NAME##_rows(x, rows, yb + (size_t)c * y_stride, y_stride, prep, mc, out + (size_t)c * out_stride, \
                             out_stride, nb);                                                                 \
        }                                                                                                     \
    }
