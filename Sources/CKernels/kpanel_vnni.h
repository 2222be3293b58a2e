#pragma once
// Prompt processing of K-quant weights in an x8 layout (Q4_K, Q5_K, Q6_K)
// at the avx512vnni level: each block of a group of eight rows is unpacked
// once into a panel of unsigned bytes (plus its scales widened), then every
// activation row of the call runs over that panel, eight at a time (then
// four, then one for the tail).
//
// Why: the x8 kernels that read the packed block directly (for decode)
// redo the unpacking — nibble masks, the fifth or sixth bits, the scales —
// for every four activation rows; at 32 rows a call that work, not the
// vpdpbusd, was the bound (Q5_K's unpack is three times Q4_K's). Here it
// is paid once per block per call, and the inner loop is one load of eight
// rows' four values for eight vpdpbusd, each against four activation bytes
// broadcast (folded into the instruction). In cache (512 × 1536 weights,
// 32 activation rows, one thread, AMD EPYC Zen 4): Q4_K 154, Q5_K 150,
// Q6_K 145 multiply-adds per ns against 113 for Q4_K's direct kernel and a
// vpdpbusd peak of about 230; the panel fills cost under 2 %.
//
// The panel is in value order: piece t holds values 4t…4t+3 of row r at
// 4r, so sub-block s (of 256 / SUBS values) is pieces s·64/SUBS onwards.
// Every type is written as Σ_s sc_s·(q·y)_s − Σ_u mn_u·bsum_u with q ≥ 0:
// Q4_K and Q5_K with their scales and mins (dmin), Q6_K with its stored
// q (the value + 32), its signed scales and mn = −32·sc, dmin = −d (the
// same product; kpanel16_vnni.h then folds the mins into the scale sums). The
// mins are paired per 16 values (mn[u] holds sub-blocks 2u and 2u+1 of
// row r at 2r and 2r + 1) for one vpdpwssd against the activation's bsums
// pair.
//
// Bounds: a Q6_K sub-block's lane sums 16 products ≤ 63·127, × |sc| ≤ 128,
// sixteen sub-blocks: < 2^28; Q5_K's 32 products ≤ 31·127, × 63, eight:
// < 2^26; the mins' eight pairs ≤ 16·4096·2032 < 2^28. Exact in i32, as
// ggml's.

#include "kquants.h"
#include "kx8_scales.h"
#include <immintrin.h>
#include <string.h>

#define CK_PANEL __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

typedef struct {
    uint8_t q[64][32];
    int32_t sc[16][8];  // sub-block s's scale of row r (SUBS of them)
    int16_t mn[8][16];
    float d[8], dmin[8];
} ck_kpanel;

// Fills a panel from one block of an x8 layout.
typedef void (*ck_kpanel_fill)(const void *block, ck_kpanel *panel);

// Activation rows per pass over the output accumulators (the call's rows
// beyond it start another pass, unpacking again).
enum { CK_PANEL_ROWS = 64 };

CK_PANEL static inline __m256i ck_panel_y4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// R activation blocks against the panel (SUBS sub-blocks), added to the
// eight outputs of each in acc[j]. Two chains per row so R = 1 still
// overlaps the vpdpbusd latency.
#define CK_PANEL_DOT(R, SUBS)                                                                              \
    CK_PANEL static inline void ck_panel_dot##R##_##SUBS(const ck_kpanel *pn, const moe_block_q8_K *const a[R], \
                                                         float (*const acc[R])[8]) {                       \
        __m256i isum[R], msum[R];                                                                          \
        for (int j = 0; j < (R); j++) isum[j] = msum[j] = _mm256_setzero_si256();                          \
        for (int s = 0; s < (SUBS); s++) {                                                                 \
            __m256i c0[R], c1[R];                                                                          \
            for (int j = 0; j < (R); j++) c0[j] = c1[j] = _mm256_setzero_si256();                          \
            for (int t = 64 / (SUBS) * s; t < 64 / (SUBS) * (s + 1); t += 2) {                             \
                const __m256i w0 = _mm256_load_si256((const __m256i *)pn->q[t]);                           \
                const __m256i w1 = _mm256_load_si256((const __m256i *)pn->q[t + 1]);                       \
                for (int j = 0; j < (R); j++) {                                                            \
                    c0[j] = _mm256_dpbusd_epi32(c0[j], w0, ck_panel_y4(a[j]->qs + 4 * t));                 \
                    c1[j] = _mm256_dpbusd_epi32(c1[j], w1, ck_panel_y4(a[j]->qs + 4 * t + 4));             \
                }                                                                                          \
            }                                                                                              \
            const __m256i sc = _mm256_load_si256((const __m256i *)pn->sc[s]);                              \
            for (int j = 0; j < (R); j++)                                                                  \
                isum[j] = _mm256_add_epi32(isum[j], _mm256_mullo_epi32(_mm256_add_epi32(c0[j], c1[j]), sc)); \
        }                                                                                                  \
        for (int u = 0; u < 8; u++) {                                                                      \
            const __m256i mn = _mm256_load_si256((const __m256i *)pn->mn[u]);                              \
            for (int j = 0; j < (R); j++)                                                                  \
                msum[j] = _mm256_dpwssd_epi32(msum[j], mn, ck_panel_y4(a[j]->bsums + 2 * u));             \
        }                                                                                                  \
        const __m256 d8 = _mm256_load_ps(pn->d), dmin8 = _mm256_load_ps(pn->dmin);                       \
        for (int j = 0; j < (R); j++) {                                                                    \
            const __m256 dy = _mm256_set1_ps(a[j]->d);                                                     \
            __m256 v = _mm256_load_ps(*acc[j]);                                                            \
            v = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum[j]), v);                    \
            v = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum[j]), v);                \
            _mm256_store_ps(*acc[j], v);                                                                   \
        }                                                                                                  \
    }
CK_PANEL_DOT(1, 8)
CK_PANEL_DOT(4, 8)
CK_PANEL_DOT(1, 16)
CK_PANEL_DOT(4, 16)

// Eight activation rows, one chain each (eight independent chains already
// cover the vpdpbusd latency): no chain sum per sub-block, and each weight
// load serves eight vpdpbusd.
#define CK_PANEL_DOT8(SUBS)                                                                                \
    CK_PANEL static inline void ck_panel_dot8_##SUBS(const ck_kpanel *pn, const moe_block_q8_K *const a[8],  \
                                                     float (*const acc[8])[8]) {                           \
        __m256i isum[8], msum[8];                                                                          \
        for (int j = 0; j < 8; j++) isum[j] = msum[j] = _mm256_setzero_si256();                            \
        for (int s = 0; s < (SUBS); s++) {                                                                 \
            __m256i c[8];                                                                                  \
            for (int j = 0; j < 8; j++) c[j] = _mm256_setzero_si256();                                     \
            _Pragma("clang loop unroll(full)")                                                             \
            for (int t = 64 / (SUBS) * s; t < 64 / (SUBS) * (s + 1); t++) {                                \
                const __m256i w = _mm256_load_si256((const __m256i *)pn->q[t]);                            \
                for (int j = 0; j < 8; j++) c[j] = _mm256_dpbusd_epi32(c[j], w, ck_panel_y4(a[j]->qs + 4 * t)); \
            }                                                                                              \
            const __m256i sc = _mm256_load_si256((const __m256i *)pn->sc[s]);                              \
            for (int j = 0; j < 8; j++) isum[j] = _mm256_add_epi32(isum[j], _mm256_mullo_epi32(c[j], sc)); \
        }                                                                                                  \
        for (int u = 0; u < 8; u++) {                                                                      \
            const __m256i mn = _mm256_load_si256((const __m256i *)pn->mn[u]);                              \
            for (int j = 0; j < 8; j++) msum[j] = _mm256_dpwssd_epi32(msum[j], mn, ck_panel_y4(a[j]->bsums + 2 * u)); \
        }                                                                                                  \
        const __m256 d8 = _mm256_load_ps(pn->d), dmin8 = _mm256_load_ps(pn->dmin);                       \
        for (int j = 0; j < 8; j++) {                                                                      \
            const __m256 dy = _mm256_set1_ps(a[j]->d);                                                     \
            __m256 v = _mm256_load_ps(*acc[j]);                                                            \
            v = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum[j]), v);                    \
            v = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum[j]), v);                \
            _mm256_store_ps(*acc[j], v);                                                                   \
        }                                                                                                  \
    }
CK_PANEL_DOT8(8)
CK_PANEL_DOT8(16)

// The Q4_K/Q5_K x8 scale section (kx8_scales.h) into the panel: scales
// widened to i32, mins to i16 pairs.
CK_PANEL static inline void ck_panel_kx8_scales(const uint8_t lo4[64], const uint8_t hi2[32], ck_kpanel *pn) {
    uint8_t sm[128];
    ck_kx8_scales(lo4, hi2, sm);
    for (int s = 0; s < 8; s++) {
        _mm256_store_si256((__m256i *)pn->sc[s], _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(sm + 8 * s))));
        const __m128i m = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm + 64 + 8 * s)));
        _mm256_store_si256((__m256i *)pn->mn[s], _mm256_set_m128i(_mm_unpackhi_epi16(m, m), _mm_unpacklo_epi16(m, m)));
    }
}

// `groups` groups of eight rows (blocks of block_bytes, nb a row) against
// m activation rows: out[j * out_stride + 8k + r].
CK_PANEL static inline void ck_panel_gemm(ck_kpanel_fill fill, int subs, const void *x, size_t block_bytes,
                                          int64_t groups, int64_t nb, const void *y, size_t y_stride, int64_t m,
                                          float *out, size_t out_stride) {
    ck_kpanel panel __attribute__((aligned(64)));
    float acc[CK_PANEL_ROWS][8] __attribute__((aligned(64)));
    for (int64_t j0 = 0; j0 < m; j0 += CK_PANEL_ROWS) {
        const int64_t rows_here = m - j0 < CK_PANEL_ROWS ? m - j0 : CK_PANEL_ROWS;
        for (int64_t k = 0; k < groups; k++) {
            memset(acc, 0, sizeof acc[0] * (size_t)rows_here);
            for (int64_t i = 0; i < nb; i++) {
                fill((const uint8_t *)x + (size_t)(k * nb + i) * block_bytes, &panel);
                const moe_block_q8_K *a[8];
                float (*dst[8])[8];
                int64_t j = 0;
                for (; j + 8 <= rows_here; j += 8) {
                    for (int e = 0; e < 8; e++) {
                        a[e] = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)(j0 + j + e) * y_stride) + i;
                        dst[e] = &acc[j + e];
                    }
                    if (subs == 8) ck_panel_dot8_8(&panel, a, dst);
                    else ck_panel_dot8_16(&panel, a, dst);
                }
                for (; j + 4 <= rows_here; j += 4) {
                    for (int e = 0; e < 4; e++) {
                        a[e] = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)(j0 + j + e) * y_stride) + i;
                        dst[e] = &acc[j + e];
                    }
                    if (subs == 8) ck_panel_dot4_8(&panel, a, dst);
                    else ck_panel_dot4_16(&panel, a, dst);
                }
                for (; j < rows_here; j++) {
                    a[0] = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)(j0 + j) * y_stride) + i;
                    dst[0] = &acc[j];
                    if (subs == 8) ck_panel_dot1_8(&panel, a, dst);
                    else ck_panel_dot1_16(&panel, a, dst);
                }
            }
            for (int64_t j = 0; j < rows_here; j++) memcpy(out + (size_t)(j0 + j) * out_stride + 8 * k, acc[j], sizeof acc[j]);
        }
    }
}
