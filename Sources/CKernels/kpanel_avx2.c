// The AVX2 K-quant prompt panels (kpanel_avx2.h): the fills and the entry
// points. Q4_K, Q5_K and Q6_K fill from their x8 layouts (decoding at
// AVX2 reads them too); Q5_K and Q6_K matrices still in ggml's layout (a
// matrix before its copy is made, or rows not a multiple of eight) from
// eight rows in ggml's layout (gemm_rows8): that fill unpacks each row's
// 256 values into a row-major scratch and turns that into pieces with an
// 8 × 8 transpose of 32-bit lanes per 32 values.

#include "kpanel_avx2.h"
#include "kquants_internal.h"
#include "kx8_scales.h"
#include "repack_q4_K.h"
#include "repack_q5_K.h"
#include "repack_q6_K.h"

// Pieces 8g…8g+7 of the panel from 32 values (bytes 32g…) of each of the
// eight unpacked rows.
CK_PANEL2 static inline void ck_panel2_transpose(const uint8_t tmp[8][256], int g, ck_kpanel2 *pn) {
    __m256i r[8], t[8], u[8];
    for (int e = 0; e < 8; e++) r[e] = _mm256_load_si256((const __m256i *)(tmp[e] + 32 * g));
    for (int e = 0; e < 8; e += 2) {
        t[e] = _mm256_unpacklo_epi32(r[e], r[e + 1]);
        t[e + 1] = _mm256_unpackhi_epi32(r[e], r[e + 1]);
    }
    for (int h = 0; h < 8; h += 4) {
        u[h] = _mm256_unpacklo_epi64(t[h], t[h + 2]);
        u[h + 1] = _mm256_unpackhi_epi64(t[h], t[h + 2]);
        u[h + 2] = _mm256_unpacklo_epi64(t[h + 1], t[h + 3]);
        u[h + 3] = _mm256_unpackhi_epi64(t[h + 1], t[h + 3]);
    }
    // u[e] (e < 4) holds element e (low 128 bits) and 4 + e (high) of rows 0–3; u[4 + e] rows 4–7
    for (int e = 0; e < 4; e++) {
        _mm256_store_si256((__m256i *)pn->q[8 * g + e], _mm256_permute2x128_si256(u[e], u[e + 4], 0x20));
        _mm256_store_si256((__m256i *)pn->q[8 * g + 4 + e], _mm256_permute2x128_si256(u[e], u[e + 4], 0x31));
    }
}

CK_PANEL2 static void ck_q4x8_fill2(const void *x, size_t row_bytes, int64_t i, ck_kpanel2 *pn) {
    (void)row_bytes;
    const moe_block_q4_Kx8 *b = (const moe_block_q4_Kx8 *)x + i;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int c = 0; c < 4; c++)
        for (int p = 0; p < 8; p++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));
            _mm256_store_si256((__m256i *)pn->q[16 * c + p], _mm256_and_si256(w, m4));
            _mm256_store_si256((__m256i *)pn->q[16 * c + 8 + p], _mm256_and_si256(_mm256_srli_epi16(w, 4), m4));
        }
    uint8_t sm[128];
    ck_kx8_scales(b->lo4, b->hi2, sm);
    for (int s = 0; s < 8; s++)
        for (int r = 0; r < 8; r++) {
            pn->sc[s][2 * r] = pn->sc[s][2 * r + 1] = sm[8 * s + r];
            pn->mn[s][2 * r] = pn->mn[s][2 * r + 1] = sm[64 + 8 * s + r];
        }
    _mm256_store_ps(pn->d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d)));
    _mm256_store_ps(pn->dmin, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin)));
}

CK_PANEL2 static void ck_q5_fill2(const void *x, size_t row_bytes, int64_t i, ck_kpanel2 *pn) {
    uint8_t tmp[8][256] __attribute__((aligned(32)));
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    for (int r = 0; r < 8; r++) {
        const moe_block_q5_K *b = (const moe_block_q5_K *)((const uint8_t *)x + (size_t)r * row_bytes) + i;
        __m256i qh = _mm256_loadu_si256((const __m256i *)b->qh);
        for (int c = 0; c < 4; c++) {
            const __m256i ql = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * c));
            // bit 2c of qh is value 64c + l's fifth bit, bit 2c + 1 value 64c + 32 + l's
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(qh, one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4);
            _mm256_store_si256((__m256i *)(tmp[r] + 64 * c), _mm256_or_si256(_mm256_and_si256(ql, m4), h0));
            _mm256_store_si256((__m256i *)(tmp[r] + 64 * c + 32),
                               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql, 4), m4), h1));
            qh = _mm256_srli_epi16(qh, 2);
        }
        uint8_t s8[8], m8[8];
        moe_kq_unpack_scales_mins(b->scales, s8, m8);
        for (int s = 0; s < 8; s++) {
            pn->sc[s][2 * r] = pn->sc[s][2 * r + 1] = s8[s];
            pn->mn[s][2 * r] = pn->mn[s][2 * r + 1] = m8[s];
        }
        pn->d[r] = moe_kq_half_to_float(b->d);
        pn->dmin[r] = moe_kq_half_to_float(b->dmin);
    }
    for (int g = 0; g < 8; g++) ck_panel2_transpose(tmp, g, pn);
}

// Q6_K as q = value + 32 (0…63), its signed scales, and mins −32·sc with
// dmin = −d: d·Σ sc·q·y − (−d)·Σ(−32·sc)·bsum = d·Σ sc·(q − 32)·y.
CK_PANEL2 static void ck_q6_fill2(const void *x, size_t row_bytes, int64_t i, ck_kpanel2 *pn) {
    uint8_t tmp[8][256] __attribute__((aligned(32)));
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    for (int r = 0; r < 8; r++) {
        const moe_block_q6_K *b = (const moe_block_q6_K *)((const uint8_t *)x + (size_t)r * row_bytes) + i;
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
#define CK_HI(shift) _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, shift), m3), 4)
            uint8_t *o = tmp[r] + 128 * h;
            _mm256_store_si256((__m256i *)o, _mm256_or_si256(_mm256_and_si256(l0, m4), CK_HI(0)));
            _mm256_store_si256((__m256i *)(o + 32), _mm256_or_si256(_mm256_and_si256(l1, m4), CK_HI(2)));
            _mm256_store_si256((__m256i *)(o + 64), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), CK_HI(4)));
            _mm256_store_si256((__m256i *)(o + 96), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), CK_HI(6)));
#undef CK_HI
        }
        for (int s = 0; s < 16; s++) pn->sc[s][2 * r] = pn->sc[s][2 * r + 1] = b->scales[s];
        for (int u = 0; u < 8; u++) {
            pn->mn[u][2 * r] = (int16_t)(-32 * b->scales[2 * u]);
            pn->mn[u][2 * r + 1] = (int16_t)(-32 * b->scales[2 * u + 1]);
        }
        pn->d[r] = moe_kq_half_to_float(b->d);
        pn->dmin[r] = -pn->d[r];
    }
    for (int g = 0; g < 8; g++) ck_panel2_transpose(tmp, g, pn);
}

CK_PANEL2_GEMM(ck_panel2_gemm_q4, 8, 8, FUSED)
CK_PANEL2_GEMM(ck_panel2_gemm_q5, 8, 4, SCALAR)
CK_PANEL2_GEMM(ck_panel2_gemm_q6, 16, 2, FUSED)

CK_PANEL2 void moe_gemm_panel_q4_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                               float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    ck_panel2_gemm_q4(ck_q4x8_fill2, x, sizeof(moe_block_q4_Kx8) * (size_t)nb, 0, rows / 8, nb, y, y_stride, m, out,
                      out_stride);
}

// Q5_K's x8 layout (repack_q5_K_avx2.c decodes from it at avx2) straight
// into the panel: qs piece 8c + p already holds row r's four bytes at 4r,
// so its low nibbles are panel piece 16c + p (values 64c + 4p…) and its
// high ones 16c + 8 + p (64c + 32 + 4p…), as Q4_K's fill; the fifth bits
// come from qh piece p (bit 2c for the low nibbles, 2c + 1 for the high).
// No ggml blocks on the stack and no transpose, as ck_q5_fill2 needs.
CK_PANEL2 static inline __m256i ck_q5x8_bit4(__m256i h, int bit) {
    // a 16-bit shift of at most four left or three right: bit 4 of each
    // byte comes from the same byte
    const __m256i moved = bit <= 4 ? _mm256_slli_epi16(h, 4 - bit) : _mm256_srli_epi16(h, bit - 4);
    return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

CK_PANEL2 static void ck_q5x8_fill2(const void *x, size_t row_bytes, int64_t i, ck_kpanel2 *pn) {
    (void)row_bytes;
    const moe_block_q5_Kx8 *b = (const moe_block_q5_Kx8 *)x + i;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int p = 0; p < 8; p++) {
        const __m256i h = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * p));
        for (int c = 0; c < 4; c++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));
            _mm256_store_si256((__m256i *)pn->q[16 * c + p], _mm256_or_si256(_mm256_and_si256(w, m4), ck_q5x8_bit4(h, 2 * c)));
            _mm256_store_si256((__m256i *)pn->q[16 * c + 8 + p],
                               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), ck_q5x8_bit4(h, 2 * c + 1)));
        }
    }
    // sub-block s's eight scales (bytes 8s…) and mins (64 + 8s…), each
    // widened to its row's lane and doubled into both i16 halves
    uint8_t sm[128];
    ck_kx8_scales(b->lo4, b->hi2, sm);
    for (int s = 0; s < 8; s++) {
        const __m256i sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(sm + 8 * s)));
        const __m256i mn = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(sm + 64 + 8 * s)));
        _mm256_store_si256((__m256i *)pn->sc[s], _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16)));
        _mm256_store_si256((__m256i *)pn->mn[s], _mm256_or_si256(mn, _mm256_slli_epi32(mn, 16)));
    }
    _mm256_store_ps(pn->d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d)));
    _mm256_store_ps(pn->dmin, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin)));
}

CK_PANEL2 void moe_gemm_panel_q5_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                               float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    ck_panel2_gemm_q5(ck_q5x8_fill2, x, sizeof(moe_block_q5_Kx8) * (size_t)nb, 0, rows / 8, nb, y, y_stride, m, out,
                      out_stride);
}

CK_PANEL2 void moe_gemm_rows8_q5_K_q8_K_avx2(const void *x, size_t row_bytes, int64_t rows, const void *y,
                                             size_t y_stride, int64_t m, float *out, size_t out_stride, int64_t n) {
    ck_panel2_gemm_q5(ck_q5_fill2, x, 8 * row_bytes, row_bytes, rows / 8, n / MOE_QK_K, y, y_stride, m, out, out_stride);
}

// Q6_K's x8 layout (repack_q6_K_avx2.c decodes from it at avx2) straight
// into the panel: step t = 8h + p's three pieces already hold row r's four
// bytes at 4r, as the panel's pieces do, so they give pieces 32h + p +
// {0, 8, 16, 24} (values 128h + 4p + {0, 32, 64, 96}…) with no transpose.
// It replaced giving the block back as eight ggml blocks on the stack for
// ck_q6_fill2, which took 13 % of a 1.5B Q6_K prompt's CPU time (perf).
CK_PANEL2 static void ck_q6x8_fill2(const void *x, size_t row_bytes, int64_t i, ck_kpanel2 *pn) {
    (void)row_bytes;
    const moe_block_q6_Kx8 *b = (const moe_block_q6_Kx8 *)x + i;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    for (int t = 0; t < 16; t++) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)b->q[t][0]);
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)b->q[t][1]);
        const __m256i qh = _mm256_loadu_si256((const __m256i *)b->q[t][2]);
        // qh bits 2e, 2e + 1 are the sixth and fifth bits of piece e's values
        // (bits 4, 5 of the stored q); 16-bit shifts, masked to 0x30 per byte
        uint8_t (*q)[32] = pn->q + 32 * (t / 8) + t % 8;
        _mm256_store_si256((__m256i *)q[0], _mm256_or_si256(_mm256_and_si256(l0, m4),
                                                            _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)));
        _mm256_store_si256((__m256i *)q[8], _mm256_or_si256(_mm256_and_si256(l1, m4),
                                                            _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)));
        _mm256_store_si256((__m256i *)q[16], _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                                             _mm256_and_si256(qh, m30)));
        _mm256_store_si256((__m256i *)q[24], _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)));
    }
    // scales[8s + r]: sub-block s's eight rows, each doubled; the mins pair
    // sub-blocks 2u and 2u + 1 of a row, times −32 (see ck_q6_fill2)
    for (int s = 0; s < 16; s++) {
        const __m128i v = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(b->scales + 8 * s)));
        _mm256_store_si256((__m256i *)pn->sc[s], _mm256_set_m128i(_mm_unpackhi_epi16(v, v), _mm_unpacklo_epi16(v, v)));
    }
    const __m256i m32 = _mm256_set1_epi16(-32);
    for (int u = 0; u < 8; u++) {
        const __m128i a = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(b->scales + 16 * u)));
        const __m128i c = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(b->scales + 16 * u + 8)));
        const __m256i v = _mm256_set_m128i(_mm_unpackhi_epi16(a, c), _mm_unpacklo_epi16(a, c));
        _mm256_store_si256((__m256i *)pn->mn[u], _mm256_mullo_epi16(v, m32));
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
    _mm256_store_ps(pn->d, d);
    _mm256_store_ps(pn->dmin, _mm256_xor_ps(d, _mm256_set1_ps(-0.0f)));
}

CK_PANEL2 void moe_gemm_panel_q6_Kx8_q8_K_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                               float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    ck_panel2_gemm_q6(ck_q6x8_fill2, x, sizeof(moe_block_q6_Kx8) * (size_t)nb, 0, rows / 8, nb, y, y_stride, m, out,
                      out_stride);
}

CK_PANEL2 void moe_gemm_rows8_q6_K_q8_K_avx2(const void *x, size_t row_bytes, int64_t rows, const void *y,
                                             size_t y_stride, int64_t m, float *out, size_t out_stride, int64_t n) {
    ck_panel2_gemm_q6(ck_q6_fill2, x, 8 * row_bytes, row_bytes, rows / 8, n / MOE_QK_K, y, y_stride, m, out, out_stride);
}
