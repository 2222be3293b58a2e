#pragma once
// The AVX-512 VNNI decode product shared by the eight-row layouts whose
// activations are q8_0 (Q5_0: repack_q5_0_vnni.c, Q8_0: repack_q8_0_vnni.c).
//
// Both layouts unpack a block of eight rows into four registers u[p] of
// unsigned bytes: byte 8r + t of u[p] is value 8p + t of row r, biased by
// 2^SHIFT (q5_0: u = q + 16; q8_0: u = q ^ 0x80 = q + 128). Each activation
// row then takes four vpdpbusd against its values broadcast by qwords
// straight from its q8_0 block, starting from −2^SHIFT·Σy (Σq·y = Σu·y −
// 2^SHIFT·Σy, Σy prepared once per call); two rows' dword pairs fold into
// one register of sixteen sums, and the float step of the scalar dots (scale
// product, then add, no FMA) runs sixteen lanes wide for the pair, so the
// result equals the scalar dot's bit for bit. Unpacked weights serve up to
// seven activation rows per pass over a group. Prompts (CK_X8Q8_PANEL_ROWS
// rows or more) take the sixteen-row panel kernel (gemm_q8_0_vnni.c) with a
// fill from the layout instead.

#include "ck_x86.h"
#include "gemm_q8_0.h"

#define CK_X8Q8 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

// Decode preparations (ck_x8q8_pair) a call keeps on its stack (16 KB);
// more come from the thread's scratch buffer.
#define CK_X8Q8_PAIRS 682
// Activation rows from which a call takes the sixteen-row panel, which
// runs four activation rows per pass over a panel that serves every row of
// the call, where the group product unpacks a block per seven rows. Its
// results equal the scalar dot's to rounding (FMA), not bit for bit.
#define CK_X8Q8_PANEL_ROWS 8
// Bytes ahead a pass of two rows or more fetches its group into L2.
#define CK_X8Q8_AHEAD 6144

// Σu·y − 2^SHIFT·Σy of the eight rows against one activation block, as
// dword pairs (row r's sum is dwords 2r + 2r + 1): the correction rides in
// the chain's start, init = {dword 2r, dword 2r + 1} of every qword. One
// chain of four saves an add and a zeroing; two chains leave the compiler
// enough registers when a pass serves seven rows (one chain spilled there
// and ran 30 % slower on Q5_0).
CK_X8Q8 static inline __attribute__((always_inline)) __m512i ck_x8q8_pairs(const __m512i u[4], const moe_block_q8_0 *b,
                                                                         const int32_t init[2], const int chains) {
    int64_t y[4], start;
    memcpy(y, b->qs, 32);
    memcpy(&start, init, 8);
    __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi64(start), u[0], _mm512_set1_epi64(y[0]));
    if (chains == 1) {
        s = _mm512_dpbusd_epi32(s, u[1], _mm512_set1_epi64(y[1]));
        s = _mm512_dpbusd_epi32(s, u[2], _mm512_set1_epi64(y[2]));
        return _mm512_dpbusd_epi32(s, u[3], _mm512_set1_epi64(y[3]));
    }
    __m512i t = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[1], _mm512_set1_epi64(y[1]));
    s = _mm512_dpbusd_epi32(s, u[2], _mm512_set1_epi64(y[2]));
    t = _mm512_dpbusd_epi32(t, u[3], _mm512_set1_epi64(y[3]));
    return _mm512_add_epi32(s, t);
}

// One row's dword pairs folded to eight sums (add the odd dword, keep the
// low dword of each qword).
CK_X8Q8 static inline __attribute__((always_inline)) __m256i ck_x8q8_fold1(__m512i s) {
    return _mm512_cvtepi64_epi32(_mm512_add_epi32(s, _mm512_srli_epi64(s, 32)));
}

// Two rows' dword pairs folded into one register, qword r = {a's sum, b's
// sum} of weight row r: a blend and a two-source permute, where one row
// alone takes a shift, an add and a slow vpmovqd.
CK_X8Q8 static inline __attribute__((always_inline)) __m512i ck_x8q8_fold2(__m512i sa, __m512i sb) {
    const __m512i odd_even = _mm512_set_epi32(30, 15, 28, 13, 26, 11, 24, 9, 22, 7, 20, 5, 18, 3, 16, 1);
    return _mm512_add_epi32(_mm512_mask_blend_epi32(0xAAAA, sa, sb), _mm512_permutex2var_epi32(sa, odd_even, sb));
}

// What a decode call prepares per pair of activation rows (a, b) and
// block: both d as floats, and the chain starts that put −2^SHIFT·Σy in
// (a's in the even dwords, b's in the odd ones, so ck_x8q8_fold2 keeps
// each once). A lone last row is an a without b.
typedef struct {
    float dy[2];
    int32_t init[2][2];
} ck_x8q8_pair;

// −Σy of a q8_0 block (the preparation's second number, for long rows
// computed here): bytes biased to unsigned, summed by vpsadbw.
CK_X8Q8 static inline int32_t ck_x8q8_neg_sum(const moe_block_q8_0 *b) {
    const __m256i biased = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs), _mm256_set1_epi8((char)0x80));
    const __m256i sad = _mm256_sad_epu8(biased, _mm256_setzero_si256());
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
    return 32 * 128 - (int32_t)(_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
}

CK_X8Q8 static inline void ck_x8q8_pair_prep(const uint8_t *y, size_t y_stride, int64_t m, ck_x8q8_pair *pp,
                                             int64_t nb, int shift) {
    for (int64_t q = 0; q < (m + 1) / 2; q++)
        for (int h = 0; h < 2 && 2 * q + h < m; h++) {
            const moe_block_q8_0 *b = (const moe_block_q8_0 *)(y + (size_t)(2 * q + h) * y_stride);
            for (int64_t i = 0; i < nb; i++) {
                ck_x8q8_pair *e = &pp[q * nb + i];
                if (h == 0) memset(e, 0, sizeof *e);
                e->dy[h] = _cvtsh_ss(b[i].d);
                e->init[h][h] = ck_x8q8_neg_sum(&b[i]) * (1 << shift);
            }
        }
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
// ck_NAME_rows and the public moe_gemm_NAME_q8_0_vnni (its scalar twin
// moe_gemm_NAME_q8_0_ref serves when no buffer can be had).
//
// A group's pass serves up to seven activation rows: P pairs, each folded
// into one register whose float step (scale product, then add, no FMA, as
// the scalar dot) runs sixteen lanes wide, and S ≤ 1 lone row.
#define CK_X8Q8_PRODUCTS(NAME, BLOCK, UNPACK, SHIFT, PANEL, PF)                                                   \
    CK_X8Q8 static inline __attribute__((always_inline)) void                                                 \
    ck_##NAME##_group(const BLOCK *a, int64_t nb, const uint8_t *y, size_t y_stride, const ck_x8q8_pair *pp, \
                      const int P, const int S, float *out, size_t out_stride) {                             \
        __m512 acc[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};                      \
        __m256 lone = _mm256_setzero_ps();                                                                    \
        const __m512i twice = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);               \
        for (int64_t i = 0; i < nb; i++) {                                                                    \
            const BLOCK *blk = &a[i];                                                                         \
            if (PF > 0)                                                                                       \
                for (size_t line = 0; line < sizeof(BLOCK); line += 64)                                       \
                    _mm_prefetch((const char *)blk + (PF) + line, _MM_HINT_T0);                               \
            if (P > 0) /* two rows or more: the stream into L2 by hand (kx8_prefetch.h) */                    \
                for (size_t line = 0; line < sizeof(BLOCK); line += 64)                                       \
                    _mm_prefetch((const char *)blk + CK_X8Q8_AHEAD + line, _MM_HINT_T1);                      \
            __m512i u[4];                                                                                     \
            UNPACK(blk, u);                                                                                   \
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->d));                      \
            const __m512 d16 = _mm512_permutexvar_ps(twice, _mm512_castps256_ps512(d8));                      \
            _Pragma("clang loop unroll(full)") for (int p = 0; p < P; p++) {                                  \
                const ck_x8q8_pair *e = &pp[p * nb + i];                                                      \
                const moe_block_q8_0 *ya = (const moe_block_q8_0 *)(y + (size_t)(2 * p) * y_stride) + i;      \
                const moe_block_q8_0 *yb = (const moe_block_q8_0 *)(y + (size_t)(2 * p + 1) * y_stride) + i;  \
                const __m512i sumi = ck_x8q8_fold2(ck_x8q8_pairs(u, ya, e->init[0], P < 3 ? 1 : 2), ck_x8q8_pairs(u, yb, e->init[1], P < 3 ? 1 : 2)); \
                int64_t dy;                                                                                   \
                memcpy(&dy, e->dy, 8);                                                                        \
                const __m512 scale = _mm512_mul_ps(d16, _mm512_castsi512_ps(_mm512_set1_epi64(dy)));          \
                acc[p] = _mm512_add_ps(acc[p], _mm512_mul_ps(scale, _mm512_cvtepi32_ps(sumi)));               \
            }                                                                                                 \
            if (S) {                                                                                          \
                const ck_x8q8_pair *e = &pp[P * nb + i];                                                      \
                const moe_block_q8_0 *ya = (const moe_block_q8_0 *)(y + (size_t)(2 * P) * y_stride) + i;      \
                const __m256i sumi = ck_x8q8_fold1(ck_x8q8_pairs(u, ya, e->init[0], P < 3 ? 1 : 2));                         \
                const __m256 scale = _mm256_mul_ps(d8, _mm256_set1_ps(e->dy[0]));                             \
                lone = _mm256_add_ps(lone, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(sumi)));                   \
            }                                                                                                 \
        }                                                                                                     \
        /* lanes 2r, 2r + 1 are rows a, b of weight row r: evens to a, odds to b */                            \
        const __m512i split = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);         \
        _Pragma("clang loop unroll(full)") for (int p = 0; p < P; p++) {                                      \
            const __m512 ab = _mm512_permutexvar_ps(split, acc[p]);                                           \
            _mm256_storeu_ps(out + (size_t)(2 * p) * out_stride, _mm512_castps512_ps256(ab));                 \
            _mm256_storeu_ps(out + (size_t)(2 * p + 1) * out_stride,                                          \
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(ab), 1)));              \
        }                                                                                                     \
        if (S) _mm256_storeu_ps(out + (size_t)(2 * P) * out_stride, lone);                                    \
    }                                                                                                         \
                                                                                                              \
    /* Every group against m rows, seven at a time (six while more than seven are left, so pairs stay      \
       pairs); pp holds (m + 1) / 2 pairs of nb blocks. */                                                    \
    CK_X8Q8 static void ck_##NAME##_rows(const BLOCK *a, int64_t rows, const uint8_t *y, size_t y_stride,    \
                                         const ck_x8q8_pair *pp, int64_t m, float *out, size_t out_stride,    \
                                         int64_t nb) {                                                        \
        for (int64_t k = 0; k < rows / 8; k++) {                                                              \
            const BLOCK *g = a + k * nb;                                                                      \
            for (int64_t j = 0; j < m;) {                                                                     \
                const int64_t take = m - j <= 7 ? m - j : 6;                                                  \
                const uint8_t *yj = y + (size_t)j * y_stride;                                                 \
                const ck_x8q8_pair *pj = pp + j / 2 * nb;                                                     \
                float *oj = out + 8 * k + (size_t)j * out_stride;                                             \
                switch (take) {                                                                               \
                case 7: ck_##NAME##_group(g, nb, yj, y_stride, pj, 3, 1, oj, out_stride); break;              \
                case 6: ck_##NAME##_group(g, nb, yj, y_stride, pj, 3, 0, oj, out_stride); break;              \
                case 5: ck_##NAME##_group(g, nb, yj, y_stride, pj, 2, 1, oj, out_stride); break;              \
                case 4: ck_##NAME##_group(g, nb, yj, y_stride, pj, 2, 0, oj, out_stride); break;              \
                case 3: ck_##NAME##_group(g, nb, yj, y_stride, pj, 1, 1, oj, out_stride); break;              \
                case 2: ck_##NAME##_group(g, nb, yj, y_stride, pj, 1, 0, oj, out_stride); break;              \
                default: ck_##NAME##_group(g, nb, yj, y_stride, pj, 0, 1, oj, out_stride); break;             \
                }                                                                                             \
                j += take;                                                                                    \
            }                                                                                                 \
        }                                                                                                     \
    }                                                                                                         \
                                                                                                              \
    /* Prompts take PANEL; decoding prepares every activation row's block numbers once, in pairs, on the     \
       stack or in the thread's scratch buffer. */                                                            \
    CK_X8Q8 void moe_gemm_##NAME##_q8_0_vnni(const void *x, int64_t rows, const void *y, size_t y_stride,     \
                                              int64_t m, float *out, size_t out_stride, int64_t n) {         \
        const int64_t nb = n / MOE_QK;                                                                        \
        const uint8_t *yb = y;                                                                                \
        if (nb == 0 || m <= 0) return;                                                                        \
        if (m >= CK_X8Q8_PANEL_ROWS) {                                                                        \
            float *prep = ck_thread_scratch(sizeof(float) * MOE_GEMM16_PREP_PER_BLOCK * (size_t)nb * (size_t)m); \
            if (prep) {                                                                                       \
                ck_x8q8_prep(yb, y_stride, m, prep, nb);                                                      \
                PANEL(x, (size_t)nb * (sizeof(BLOCK) / 8), rows, yb, y_stride, prep, m, out, out_stride, n);  \
                return;                                                                                       \
            }                                                                                                 \
        }                                                                                                     \
        ck_x8q8_pair stack[CK_X8Q8_PAIRS];                                                                    \
        const size_t pairs = (size_t)((m + 1) / 2) * (size_t)nb;                                              \
        ck_x8q8_pair *pp = pairs <= CK_X8Q8_PAIRS ? stack : ck_thread_scratch(sizeof(ck_x8q8_pair) * pairs); \
        if (!pp) { /* no buffer to be had: the scalar product, equal bit for bit */                          \
            moe_gemm_##NAME##_q8_0_ref(x, rows, y, y_stride, m, out, out_stride, n);                          \
            return;                                                                                           \
        }                                                                                                     \
        ck_x8q8_pair_prep(yb, y_stride, m, pp, nb, SHIFT);                                                    \
        ck_##NAME##_rows(x, rows, yb, y_stride, pp, m, out, out_stride, nb);                                  \
    }
