// AVX-512 VNNI products of Q5_0 weights in the eight-row layout
// (repack_q5_0.h) with q8_0 activations.
//
// Per block of a group (eight rows × 32 values): two 64-byte loads, a mask
// and a shift-mask give the four eight-value pairs of all eight rows as
// unsigned nibbles, and one masked add each puts in the fifth bits from the
// block's hmask (a 64-bit mask register per pair), u = q + 16 in 0…31.
// Each activation row then takes four vpdpbusd against its values
// broadcast by qwords straight from its q8_0 block, a fold of the dword
// pairs into eight row sums, Σq·y = Σu·y − 16·Σy with Σy from the
// activation preparation (moe_gemm16_prep_q8_0), and the float step of
// moe_dot_q5_0_q8_0_ref (scale product, then add, no FMA), so the result
// equals the scalar dot's bit for bit. Unpacked weights serve up to four
// activation rows per pass over a group.
//
// Why this layout: the one-row dot on ggml's layout (a 32-value block per
// 256-bit step, its qh bits spread by shuffles) was compute-bound at one
// thread well below the read bandwidth; here a block of eight rows is about
// 24 vector operations for one activation row.

#include "repack_q5_0_x86.h"
#include "gemm_q8_0.h"

// Prefetch distance in bytes: as the Q4_1 x8 kernels (repack_q4_1_x8.h), a
// group is one sequential stream, fetched ahead by hand.
#define CK_Q50_PF 1024

// Σu·y of the eight rows against one activation block, as eight dwords.
CK_Q50 static inline __attribute__((always_inline)) __m256i ck_q50_sums(const __m512i u[4], const moe_block_q8_0 *b) {
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
CK_Q50 static inline int32_t ck_q50_neg_sum(const moe_block_q8_0 *b) {
    const __m256i biased = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs), _mm256_set1_epi8((char)0x80));
    const __m256i sad = _mm256_sad_epu8(biased, _mm256_setzero_si256());
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
    return 32 * 128 - (int32_t)(_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
}

// One group of eight weight rows (nb blocks) against M ≤ 4 activation
// rows; prep (per row nb pairs: d as float, −Σy as int bits) or NULL.
CK_Q50 static inline __attribute__((always_inline)) void
ck_q50_group(const moe_block_q5_0x8 *a, int64_t nb, const uint8_t *y, size_t y_stride, const float *prep,
             const int M, float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q5_0x8 *blk = &a[i];
        _mm_prefetch((const char *)blk + CK_Q50_PF, _MM_HINT_T0);
        _mm_prefetch((const char *)blk + CK_Q50_PF + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)blk + CK_Q50_PF + 128, _MM_HINT_T0);
        __m512i u[4];
        ck_q50_unpack(blk, u);
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)blk->d));
        for (int j = 0; j < M; j++) {
            const moe_block_q8_0 *b = (const moe_block_q8_0 *)(y + (size_t)j * y_stride) + i;
            float dy;
            int32_t neg;
            if (prep) {
                dy = prep[2 * (j * nb + i)];
                memcpy(&neg, prep + 2 * (j * nb + i) + 1, 4);
            } else {
                dy = _cvtsh_ss(b->d);
                neg = ck_q50_neg_sum(b);
            }
            const __m256i sumi = _mm256_add_epi32(ck_q50_sums(u, b), _mm256_set1_epi32(16 * neg));
            const __m256 scale = _mm256_mul_ps(d8, _mm256_set1_ps(dy));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(scale, _mm256_cvtepi32_ps(sumi)));
        }
    }
    for (int j = 0; j < M; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

// Floats of activation preparation a call keeps on its stack (16 KB).
#define CK_Q50_PREP 4096

// Every group against m rows, four rows at a time (then the 1–3 left).
CK_Q50 static void ck_q50_rows(const moe_block_q5_0x8 *a, int64_t rows, const uint8_t *y, size_t y_stride,
                               const float *prep, int64_t m, float *out, size_t out_stride, int64_t nb) {
    for (int64_t k = 0; k < rows / 8; k++) {
        const moe_block_q5_0x8 *g = a + k * nb;
        float *o = out + 8 * k;
        int64_t j = 0;
        for (; j + 4 <= m; j += 4)
            ck_q50_group(g, nb, y + (size_t)j * y_stride, y_stride, prep ? prep + 2 * nb * j : NULL, 4,
                         o + (size_t)j * out_stride, out_stride);
        const uint8_t *yj = y + (size_t)j * y_stride;
        const float *pj = prep ? prep + 2 * nb * j : NULL;
        float *oj = o + (size_t)j * out_stride;
        switch (m - j) {
        case 3: ck_q50_group(g, nb, yj, y_stride, pj, 3, oj, out_stride); break;
        case 2: ck_q50_group(g, nb, yj, y_stride, pj, 2, oj, out_stride); break;
        case 1: ck_q50_group(g, nb, yj, y_stride, pj, 1, oj, out_stride); break;
        default: break;
        }
    }
}

// Prompts (CK_Q50_PANEL_ROWS activation rows or more) take the sixteen-row
// panel kernel (gemm_q8_0_vnni.c) filled from this layout, which runs four
// activation rows per pass over a panel that serves every row of the call,
// where ck_q50_group unpacks a block per four rows. Its results equal the
// scalar dot's to rounding (FMA), not bit for bit as decoding's do.
#define CK_Q50_PANEL_ROWS 8

// Decoding (fewer than CK_Q50_PANEL_ROWS rows): activation rows in chunks
// whose preparation fits on the stack (a multiple of four rows where it
// can); rows too long for even one row's preparation (over 65536 values)
// compute it per block instead.
CK_Q50 void moe_gemm_q5_0x8_q8_0_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const uint8_t *yb = y;
    if (nb == 0) return;
    if (m >= CK_Q50_PANEL_ROWS) {
        float *prep = ck_thread_scratch(sizeof(float) * MOE_GEMM16_PREP_PER_BLOCK * (size_t)nb * (size_t)m);
        if (prep) {
            moe_gemm16_prep_q8_0(yb, y_stride, m, prep, n);
            moe_gemm16_q5_0x8_vnni(x, (size_t)nb * sizeof(moe_block_q5_0), rows, yb, y_stride, prep, m, out,
                                   out_stride, n);
            return;
        }
    }
    const int64_t fit = CK_Q50_PREP / (MOE_GEMM16_PREP_PER_BLOCK * nb);
    if (fit == 0) {
        ck_q50_rows(x, rows, yb, y_stride, NULL, m, out, out_stride, nb);
        return;
    }
    float prep[CK_Q50_PREP];
    const int64_t chunk = fit >= 4 ? fit / 4 * 4 : fit;
    for (int64_t c = 0; c < m; c += chunk) {
        const int64_t mc = m - c > chunk ? chunk : m - c;
        moe_gemm16_prep_q8_0(yb + (size_t)c * y_stride, y_stride, mc, prep, n);
        ck_q50_rows(x, rows, yb + (size_t)c * y_stride, y_stride, prep, mc, out + (size_t)c * out_stride,
                    out_stride, nb);
    }
}
