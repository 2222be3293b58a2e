// AVX-512 VNNI (256-bit, VL) product of Q5_K weights in the x8 layout
// (include/repack_q5_K.h) with q8_K activation rows.
//
// More than eight activation rows (prompt tiles) go through the panel
// (kpanel16_vnni.h): each block's five-bit values are made once per call.
// Up to eight (decoding one or several streams) read the block directly
// as Q4_K's x8 kernel does (repack_q4_K_x8.h), with each piece's fifth
// bits moved to bit 4 from the qh piece that serves the four chunks: the
// scales weighted in i32, one conversion per block; two to four rows share
// each piece's values (ck_q5x8_block2/3/4), as Q4_K's do.

#include "repack_q5_K.h"
#include "kpanel16_vnni.h"
#include "kx8_prefetch.h"

// Bit `bit` of every byte of h moved to bit 4, the rest masked off (a
// 16-bit shift: bit 4 of each byte comes from within the same byte for
// shifts of at most four left or three right).
CK_PANEL static inline __m256i ck_q5x8_fifth(__m256i h, int bit) {
    const __m256i moved = bit <= 4 ? _mm256_sll_epi16(h, _mm_cvtsi32_si128(4 - bit))
                                   : _mm256_srl_epi16(h, _mm_cvtsi32_si128(bit - 4));
    return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

// Piece p of chunk c as two vectors of five-bit values: values 64c + 4p…
// (low nibbles) and 64c + 32 + 4p… (high nibbles) of the eight rows.
CK_PANEL static inline void ck_q5x8_values(const moe_block_q5_Kx8 *b, int c, int p, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));
    const __m256i h = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * p));
    *lo = _mm256_or_si256(_mm256_and_si256(w, m4), ck_q5x8_fifth(h, 2 * c));
    *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), ck_q5x8_fifth(h, 2 * c + 1));
}

CK_PANEL static void ck_q5x8_fill(const void *block, ck_kpanel *pn) {
    const moe_block_q5_Kx8 *b = block;
    for (int c = 0; c < 4; c++)
        for (int p = 0; p < 8; p++) {
            __m256i lo, hi;
            ck_q5x8_values(b, c, p, &lo, &hi);
            _mm256_store_si256((__m256i *)pn->q[16 * c + p], lo);
            _mm256_store_si256((__m256i *)pn->q[16 * c + 8 + p], hi);
        }
    ck_panel_kx8_scales(b->lo4, b->hi2, pn);
    _mm256_store_ps(pn->d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d)));
    _mm256_store_ps(pn->dmin, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin)));
}

CK_PANEL static inline __m256i ck_q5x8_bytes_i32(const uint8_t *p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

// Sub-block mins in both i16 halves of each lane, for one vpdpwssd against
// a bsums pair (as repack_q4_K_x8.h's ck_kx8_mins16).
CK_PANEL static inline __m256i ck_q5x8_mins16(const uint8_t *p) {
    const __m256i mn = ck_q5x8_bytes_i32(p);
    return _mm256_or_si256(mn, _mm256_slli_epi32(mn, 16));
}

// One block against one activation row: Σ sc·(q·y) and Σ mn·bsum of the
// eight rows.
CK_PANEL static inline void ck_q5x8_block1(const moe_block_q5_Kx8 *b, const uint8_t sm[128], const moe_block_q8_K *a,
                                           __m256i *isum_out, __m256i *msum_out) {
    __m256i isum = _mm256_setzero_si256(), msum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        __m256i lo0 = _mm256_setzero_si256(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
        for (int p = 0; p < 8; p += 2) {
            __m256i l0, h0, l1, h1;
            ck_q5x8_values(b, c, p, &l0, &h0);
            ck_q5x8_values(b, c, p + 1, &l1, &h1);
            const int8_t *y = a->qs + 64 * c + 4 * p;
            lo0 = _mm256_dpbusd_epi32(lo0, l0, ck_panel_y4(y));
            hi0 = _mm256_dpbusd_epi32(hi0, h0, ck_panel_y4(y + 32));
            lo1 = _mm256_dpbusd_epi32(lo1, l1, ck_panel_y4(y + 4));
            hi1 = _mm256_dpbusd_epi32(hi1, h1, ck_panel_y4(y + 36));
        }
        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_add_epi32(lo0, lo1), ck_q5x8_bytes_i32(sm + 16 * c)));
        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_add_epi32(hi0, hi1), ck_q5x8_bytes_i32(sm + 16 * c + 8)));
    }
    __m256i msum1 = _mm256_setzero_si256();  // two chains, as Q4_K's
    for (int s = 0; s < 8; s += 2) {
        msum = _mm256_dpwssd_epi32(msum, ck_q5x8_mins16(sm + 64 + 8 * s), ck_panel_y4(a->bsums + 2 * s));
        msum1 = _mm256_dpwssd_epi32(msum1, ck_q5x8_mins16(sm + 72 + 8 * s), ck_panel_y4(a->bsums + 2 * s + 2));
    }
    msum = _mm256_add_epi32(msum, msum1);
    *isum_out = isum;
    *msum_out = msum;
}

// The same for R activation rows at once: each piece's values are made
// once for all R (several streams decoding).
#define CK_Q5X8_BLOCK(R)                                                                                     \
    CK_PANEL static inline void ck_q5x8_block##R(const moe_block_q5_Kx8 *b, const uint8_t sm[128],              \
                                                 const moe_block_q8_K *const a[R], __m256i isum[R], __m256i msum[R]) { \
        for (int j = 0; j < (R); j++) isum[j] = msum[j] = _mm256_setzero_si256();                             \
        for (int c = 0; c < 4; c++) {                                                                         \
            __m256i lo[R], hi[R];                                                                             \
            for (int j = 0; j < (R); j++) lo[j] = hi[j] = _mm256_setzero_si256();                             \
            for (int p = 0; p < 8; p++) {                                                                     \
                __m256i wl, wh;                                                                               \
                ck_q5x8_values(b, c, p, &wl, &wh);                                                            \
                for (int j = 0; j < (R); j++) {                                                               \
                    const int8_t *y = a[j]->qs + 64 * c + 4 * p;                                              \
                    lo[j] = _mm256_dpbusd_epi32(lo[j], wl, ck_panel_y4(y));                                   \
                    hi[j] = _mm256_dpbusd_epi32(hi[j], wh, ck_panel_y4(y + 32));                              \
                }                                                                                             \
            }                                                                                                 \
            const __m256i sl = ck_q5x8_bytes_i32(sm + 16 * c), sh = ck_q5x8_bytes_i32(sm + 16 * c + 8);       \
            for (int j = 0; j < (R); j++)                                                                     \
                isum[j] = _mm256_add_epi32(isum[j], _mm256_add_epi32(_mm256_mullo_epi32(lo[j], sl),          \
                                                                     _mm256_mullo_epi32(hi[j], sh)));         \
        }                                                                                                     \
        for (int s = 0; s < 8; s++) {                                                                         \
            const __m256i mn = ck_q5x8_mins16(sm + 64 + 8 * s);                                               \
            for (int j = 0; j < (R); j++)                                                                     \
                msum[j] = _mm256_dpwssd_epi32(msum[j], mn, ck_panel_y4(a[j]->bsums + 2 * s)); \
        }                                                                                                     \
    }
CK_Q5X8_BLOCK(2)
CK_Q5X8_BLOCK(3)
CK_Q5X8_BLOCK(4)

// One group against R activation rows, R a constant where it is inlined,
// so the sums and accumulators stay in registers (with R known only at run
// time they lived on the stack).
CK_PANEL static inline __attribute__((always_inline)) void ck_q5x8_pass(const moe_block_q5_Kx8 *g, int64_t nb,
                                                                        const uint8_t *y, size_t y_stride, const int R,
                                                                        float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q5_Kx8 *b = &g[i];
        _mm_prefetch((const char *)(b + 1), _MM_HINT_T0);
        if (R >= 2) ck_kx8_fetch_ahead(b, sizeof *b);  // see kx8_prefetch.h
        uint8_t sm[128];
        ck_kx8_scales(b->lo4, b->hi2, sm);
        const moe_block_q8_K *a[4];
        __m256i isum[4], msum[4];
        for (int j = 0; j < R; j++) a[j] = (const moe_block_q8_K *)(y + (size_t)j * y_stride) + i;
        switch (R) {
        case 4: ck_q5x8_block4(b, sm, a, isum, msum); break;
        case 3: ck_q5x8_block3(b, sm, a, isum, msum); break;
        case 2: ck_q5x8_block2(b, sm, a, isum, msum); break;
        default: ck_q5x8_block1(b, sm, a[0], &isum[0], &msum[0]); break;  // a fifth row
        }
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        const __m256 dmin8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        for (int j = 0; j < R; j++) {
            const __m256 dy = _mm256_set1_ps(a[j]->d);
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum[j]), acc[j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum[j]), acc[j]);
        }
    }
    for (int j = 0; j < R; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

// Up to eight activation rows, four a pass over each group's blocks (the
// later passes read them from L1/L2).
CK_PANEL static void ck_q5x8_direct(const moe_block_q5_Kx8 *xb, int64_t groups, int64_t nb, const void *y, size_t y_stride,
                                    int64_t m, float *out, size_t out_stride) {
    for (int64_t k = 0; k < groups; k++)
        for (int64_t j0 = 0; j0 < m; j0 += 4) {
            const uint8_t *yj = (const uint8_t *)y + (size_t)j0 * y_stride;
            float *o = out + (size_t)j0 * out_stride + 8 * k;
            switch (m - j0 < 4 ? m - j0 : 4) {
            case 4: ck_q5x8_pass(xb + k * nb, nb, yj, y_stride, 4, o, out_stride); break;
            case 3: ck_q5x8_pass(xb + k * nb, nb, yj, y_stride, 3, o, out_stride); break;
            case 2: ck_q5x8_pass(xb + k * nb, nb, yj, y_stride, 2, o, out_stride); break;
            default: ck_q5x8_pass(xb + k * nb, nb, yj, y_stride, 1, o, out_stride); break;
            }
        }
}

// One activation row (decoding one stream): the loop of the multi-row
// kernel with its row arrays and switch ran 12 % slower here (43 against
// 38.5 ns per block in L2).
CK_PANEL static void ck_q5x8_one_row(const moe_block_q5_Kx8 *xb, int64_t groups, int64_t nb, const moe_block_q8_K *a,
                                     float *out) {
    for (int64_t k = 0; k < groups; k++) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            const moe_block_q5_Kx8 *b = &xb[k * nb + i];
            _mm_prefetch((const char *)(b + 1), _MM_HINT_T0);
            uint8_t sm[128];
            ck_kx8_scales(b->lo4, b->hi2, sm);
            __m256i isum, msum;
            ck_q5x8_block1(b, sm, &a[i], &isum, &msum);
            const __m256 dy = _mm256_set1_ps(a[i].d);
            const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
            const __m256 dmin8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
            acc = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum), acc);
            acc = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum), acc);
        }
        _mm256_storeu_ps(out + 8 * k, acc);
    }
}

CK_PANEL void moe_gemm_q5_Kx8_q8_K_vnni(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                       float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    if (m > 8) ck_panel16_gemm(ck_q5x8_fill, 8, x, sizeof(moe_block_q5_Kx8), rows / 8, nb, y, y_stride, m, out, out_stride);
    else if (m == 1) ck_q5x8_one_row(x, rows / 8, nb, y, out);
    else ck_q5x8_direct(x, rows / 8, nb, y, y_stride, m, out, out_stride);
}
