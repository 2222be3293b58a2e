// AVX2 product of Q8_0 weights in the eight-row layout (repack_q8_0.h)
// with q8_0 activation rows (item 40 of docs/performance.md).
//
// The layout's bytes are u = q + 128, which maddubs cannot take as they are
// (pairs of 255 · 127 overflow its i16 sums). Flipping the top bit back
// gives q, and ggml's sign trick makes it fit: |q| (unsigned) times y with
// q's sign moved onto it, pairs at most 2 · 128 · 127 < 2^15 (q8_0
// activations are −127…127). A 32-byte piece holds values 8p…8p+7 of four
// rows (one per qword), and meets the activation's qword p broadcast; its
// i32 sums are two per row, added by one hadd that also merges the two
// halves of the group: lanes [0, 1, 4, 5 | 2, 3, 6, 7]. The float step keeps
// that order (the rows' d permuted to match, once per block, the output
// once per pass) and is the scalar dot's: (float)sumi · (dx · dy), added
// in block order, no FMA, so each output equals moe_dot_q8_0_q8_0_ref's bit
// for bit. The one-row dot on ggml's layout spends a horizontal sum per
// row and a scale conversion per 34 bytes; here one |q| serves four rows.
// From twelve activation rows (prompts) the product goes through the 16-bit
// panel instead (x8_panel_avx2.h, item 42), fed by ck_q80a_fill below.

#include "ck_x86.h"
#include "repack_q8_0.h"
#include "x8_panel_avx2.h"
#include "kx8_prefetch.h"

#define CK_Q80A __attribute__((target("avx2,fma,f16c")))

// R activation rows' integer sums against one block of eight weight rows,
// in the lane order above.
CK_Q80A static inline __attribute__((always_inline)) void ck_q80a_block(const moe_block_q8_0x8 *b,
                                                                        const moe_block_q8_0 *const a[4], const int R,
                                                                        __m256i isum[4]) {
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    __m256i s[4][2];
    for (int j = 0; j < R; j++) s[j][0] = s[j][1] = _mm256_setzero_si256();
    for (int p = 0; p < 4; p++)
        for (int q = 0; q < 2; q++) {
            const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b->qs + 64 * p + 32 * q)), flip);
            const __m256i aw = _mm256_abs_epi8(w);
            for (int j = 0; j < R; j++) {
                int64_t y;
                memcpy(&y, a[j]->qs + 8 * p, 8);
                const __m256i sy = _mm256_sign_epi8(_mm256_set1_epi64x(y), w);
                s[j][q] = _mm256_add_epi32(s[j][q], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sy), ones));
            }
        }
    for (int j = 0; j < R; j++) isum[j] = _mm256_hadd_epi32(s[j][0], s[j][1]);
}

// One group of eight weight rows against R activation rows (R a constant
// where inlined).
CK_Q80A static inline __attribute__((always_inline)) void ck_q80a_pass(const moe_block_q8_0x8 *g, int64_t nb,
                                                                       const uint8_t *y, size_t y_stride, const int R,
                                                                       float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q8_0x8 *b = &g[i];
        // The hardware prefetcher alone left this stream short at any row
        // count (as the K-quant x8 products at avx2, kx8_prefetch.h): one-row
        // decode of SmolLM2 Q8_0 113 → 135 steps per CPU second, four rows
        // of SmolLM2's 49152 × 576 output 27.3 → 23.5–25.5 ns a block (item 46).
        ck_kx8_fetch_ahead(b, sizeof *b);
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        // rows 0, 1, 4, 5, 2, 3, 6, 7: the hadd's order
        const __m256 dp = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(d8), _MM_SHUFFLE(3, 1, 2, 0)));
        const moe_block_q8_0 *a[4];
        __m256i isum[4];
        for (int j = 0; j < R; j++) a[j] = (const moe_block_q8_0 *)(y + (size_t)j * y_stride) + i;
        ck_q80a_block(b, a, R, isum);
        for (int j = 0; j < R; j++) {
            const __m256 scale = _mm256_mul_ps(dp, ck_half_splat(a[j]->d));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum[j]), scale));
        }
    }
    // the same permutation undoes itself
    for (int j = 0; j < R; j++)
        _mm256_storeu_ps(out + (size_t)j * out_stride,
                         _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(acc[j]), _MM_SHUFFLE(3, 1, 2, 0))));
}

// Block i of a group as a panel block (x8_panel_avx2.h). Chunk p's two
// 32-byte halves hold rows 0–3 and 4–7, a qword per row; widened, each
// 128-bit half is two rows' four value pairs (dwords), and two rounds of
// unpacks turn rows × pairs into pairs × rows (lanes 0, 2, 4, 6, 1, 3, 5, 7).
CK_Q80A static void ck_q80a_fill(const void *group, int64_t i, ck_x8p_block *pn) {
    const moe_block_q8_0x8 *b = (const moe_block_q8_0x8 *)group + i;
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int p = 0; p < 4; p++) {
        const __m256i v0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b->qs + 64 * p)), flip);
        const __m256i v1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b->qs + 64 * p + 32)), flip);
        const __m256i e0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v0));       // rows 0, 1
        const __m256i e1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v0, 1));  // rows 2, 3
        const __m256i e2 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v1));       // rows 4, 5
        const __m256i e3 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v1, 1));  // rows 6, 7
        const __m256i u0 = _mm256_unpacklo_epi32(e0, e1), u1 = _mm256_unpackhi_epi32(e0, e1);
        const __m256i u2 = _mm256_unpacklo_epi32(e2, e3), u3 = _mm256_unpackhi_epi32(e2, e3);
        _mm256_store_si256((__m256i *)pn->w[4 * p], _mm256_unpacklo_epi64(u0, u2));
        _mm256_store_si256((__m256i *)pn->w[4 * p + 1], _mm256_unpackhi_epi64(u0, u2));
        _mm256_store_si256((__m256i *)pn->w[4 * p + 2], _mm256_unpacklo_epi64(u1, u3));
        _mm256_store_si256((__m256i *)pn->w[4 * p + 3], _mm256_unpackhi_epi64(u1, u3));
    }
    const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
    _mm256_store_ps(pn->d, _mm256_permutevar8x32_ps(d8, CK_X8P_TO_LANES));
}

// Below twelve activation rows (batched decoding of up to eight streams)
// each block would be filled for one or two passes: the direct kernel,
// four rows a pass, reads the layout as it is. At eight rows the panel
// measured 0.88–0.92× its speed, at twelve 1.0×, at sixteen 1.05–1.17×.
enum { CK_Q80A_PANEL_MIN_ROWS = 12 };

CK_Q80A void moe_gemm_q8_0x8_q8_0_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    const moe_block_q8_0x8 *xb = x;
    if (m >= CK_Q80A_PANEL_MIN_ROWS &&
        ck_x8p_gemm(ck_q80a_fill, x, sizeof(moe_block_q8_0x8) * (size_t)nb, rows / 8, nb, y, y_stride, m, out,
                    out_stride))
        return;
    // a group's blocks come from L1 after the first pass
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t j0 = 0; j0 < m; j0 += 4) {
            const uint8_t *yj = (const uint8_t *)y + (size_t)j0 * y_stride;
            float *o = out + (size_t)j0 * out_stride + 8 * k;
            switch (m - j0 < 4 ? m - j0 : 4) {
            case 4: ck_q80a_pass(xb + k * nb, nb, yj, y_stride, 4, o, out_stride); break;
            case 3: ck_q80a_pass(xb + k * nb, nb, yj, y_stride, 3, o, out_stride); break;
            case 2: ck_q80a_pass(xb + k * nb, nb, yj, y_stride, 2, o, out_stride); break;
            default: ck_q80a_pass(xb + k * nb, nb, yj, y_stride, 1, o, out_stride); break;
            }
        }
}
