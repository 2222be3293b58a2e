#pragma once
// Prompt processing of K-quant weights (Q4_K, Q5_K, Q6_K) at the AVX2
// level: eight weight rows' block unpacked once into a panel of unsigned
// bytes in value order (piece t: values 4t…4t+3 of row r at 4r, as
// kpanel_vnni.h), then four activation rows at a time run over it.
//
// Why: the AVX2 products before this unpacked each weight block again for
// every four activation rows (Q5_K/Q6_K gemm4 on ggml's layout: one weight
// row against four activation rows, its nibbles, fifth/sixth bits and
// scales redone per four; Q4_K's x8 kernel the same per four), and per 32
// products spent maddubs + madd + add. Here, per piece and activation row:
// one broadcast load, one maddubs (u8 weight × s8 activation, pairs to
// i16) and one i16 add; the i16 sums of a few pieces then take the
// sub-block scale in one madd (i16 scale pair per i32 lane), so neither a
// madd with ones nor a mullo per sub-block remains.
//
// Bounds (|y| ≤ 128): a maddubs lane is two products, ≤ 2·q·128; Q4_K
// (q ≤ 15) adds eight pieces per i16 (30720), Q5_K (q ≤ 31) four (31744),
// Q6_K (stored q + 32 ≤ 63) two (32256): below 32767, so no saturation and
// the integers are exactly those of the scalar kernels. Their sums with the
// scales as in kpanel_vnni.h: < 2^28 in i32.
//
// Registers: four rows' i16 sums, four i32 sums, the weight piece and the
// broadcast: 10 of 16 ymm.

#include "kquants.h"
#include <immintrin.h>
#include <string.h>

#define CK_PANEL2 __attribute__((target("avx2,fma,f16c")))

typedef struct {
    uint8_t q[64][32];
    int16_t sc[16][16];  // sub-block s's scale of row r at 2r and 2r + 1 (SUBS of them)
    int16_t mn[8][16];   // pair u: row r's mins against bsums 2u, 2u + 1 at 2r, 2r + 1
    float d[8], dmin[8];
} ck_kpanel2;

// Fills a panel from block i of eight weight rows at x (x8 layouts: the
// group, row_bytes unused; ggml's: row r at x + r·row_bytes).
typedef void (*ck_kpanel2_fill)(const void *x, size_t row_bytes, int64_t i, ck_kpanel2 *panel);

// 128 rows a pass: half the fills of 64 for gemm_rows8's calls (all of a
// prompt's rows), whose ggml fill transposes (Q5_K gate/down 83.6–83.8 /
// 78.6–78.8 → 87.4 / 81.0–83.8 MAC/ns with the tiles, bench/kpanel2_bench.c);
// the x8 entries' callers hand over at most 64 rows.
enum { CK_PANEL2_ROWS = 128, CK_PANEL2_TILE_BYTES = 65536 };

CK_PANEL2 static inline __m256i ck_panel2_y4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// A block's float step, v += d·dy·isum − dmin·dy·msum: FUSED as the x8
// direct kernels of Q4_K and Q6_K take it (so their panels give their
// outputs bit for bit), SCALAR as moe_dot_q5_K_q8_K_ref rounds it (d·dy
// times the sum, the two products subtracted, then added; Q5_K's direct
// kernel does the same, so both equal the reference bit for bit).
#define CK_PANEL2_FINISH_FUSED(v, d8, dmin8, dy, isum, msum)                                               \
    v = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum), v);                                \
    v = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum), v);
#define CK_PANEL2_FINISH_SCALAR(v, d8, dmin8, dy, isum, msum)                                              \
    v = _mm256_add_ps(v, _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum)),      \
                                       _mm256_mul_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum))));

// R activation blocks against the panel: SUBS sub-blocks, CHUNK pieces per
// i16 sum (see the bounds above); added to acc[j]'s eight outputs by
// CK_PANEL2_FINISH_##ORDER.
#define CK_PANEL2_DOT(R, SUBS, CHUNK, ORDER)                                                                \
    CK_PANEL2 static inline void ck_panel2_dot##R##_##SUBS##_##CHUNK(                                       \
        const ck_kpanel2 *pn, const moe_block_q8_K *const a[R], float (*const acc[R])[8]) {                  \
        __m256i isum[R], msum[R];                                                                           \
        for (int j = 0; j < (R); j++) isum[j] = msum[j] = _mm256_setzero_si256();                           \
        for (int s = 0; s < (SUBS); s++) {                                                                  \
            const __m256i sc = _mm256_load_si256((const __m256i *)pn->sc[s]);                               \
            /* unrolled: the loop's counter and branch per CHUNK pieces cost */                             \
            /* Q6_K (two pieces a pass) 15 % of the panel's time */                                          \
            _Pragma("clang loop unroll(full)")                                                              \
            for (int t0 = 64 / (SUBS) * s; t0 < 64 / (SUBS) * (s + 1); t0 += (CHUNK)) {                     \
                __m256i c[R];                                                                               \
                for (int j = 0; j < (R); j++) c[j] = _mm256_setzero_si256();                                \
                _Pragma("clang loop unroll(full)")                                                          \
                for (int t = t0; t < t0 + (CHUNK); t++) {                                                   \
                    const __m256i w = _mm256_load_si256((const __m256i *)pn->q[t]);                         \
                    for (int j = 0; j < (R); j++)                                                           \
                        c[j] = _mm256_add_epi16(c[j], _mm256_maddubs_epi16(w, ck_panel2_y4(a[j]->qs + 4 * t))); \
                }                                                                                           \
                for (int j = 0; j < (R); j++) isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(c[j], sc)); \
            }                                                                                               \
        }                                                                                                   \
        for (int u = 0; u < 8; u++) {                                                                       \
            const __m256i mn = _mm256_load_si256((const __m256i *)pn->mn[u]);                               \
            for (int j = 0; j < (R); j++)                                                                   \
                msum[j] = _mm256_add_epi32(msum[j], _mm256_madd_epi16(mn, ck_panel2_y4(a[j]->bsums + 2 * u))); \
        }                                                                                                   \
        const __m256 d8 = _mm256_load_ps(pn->d), dmin8 = _mm256_load_ps(pn->dmin);                        \
        for (int j = 0; j < (R); j++) {                                                                     \
            const __m256 dy = _mm256_set1_ps(a[j]->d);                                                      \
            __m256 v = _mm256_load_ps(*acc[j]);                                                             \
            CK_PANEL2_FINISH_##ORDER(v, d8, dmin8, dy, isum[j], msum[j])                                    \
            _mm256_store_ps(*acc[j], v);                                                                    \
        }                                                                                                   \
    }

// `groups` groups of eight rows (group k's block i: fill(x + k·group_bytes,
// row_bytes, i)) against m activation rows: out[j·out_stride + 8k + r].
// Activation rows go CK_PANEL2_ROWS at a time (their blocks stay in L2
// while the groups pass), each weight block unpacked once per such pass.
// The groups go in tiles of about CK_PANEL2_TILE_BYTES, every pass over a
// tile before the next: a call with all of a matrix's groups and 512
// rows (tiledProduct's gemm_rows8: Q5_K) otherwise read its weights from
// memory again for each of the eight passes (1.5B Q5_K gate 8960 × 1536:
// 72–74 → 83–84 MAC/ns, bench/kpanel2_bench.c). The x8 entries' callers
// already tile (interleavedTiles). Only the loop order changes.
#define CK_PANEL2_GEMM(NAME, SUBS, CHUNK, ORDER)                                                            \
    CK_PANEL2_DOT(4, SUBS, CHUNK, ORDER)                                                                    \
    CK_PANEL2_DOT(1, SUBS, CHUNK, ORDER)                                                                    \
    CK_PANEL2 static void NAME(ck_kpanel2_fill fill, const void *x, size_t group_bytes, size_t row_bytes,   \
                               int64_t groups, int64_t nb, const void *y, size_t y_stride, int64_t m,       \
                               float *out, size_t out_stride) {                                             \
        ck_kpanel2 panel __attribute__((aligned(64)));                                                      \
        float acc[CK_PANEL2_ROWS][8] __attribute__((aligned(64)));                                          \
        const int64_t tile = group_bytes >= CK_PANEL2_TILE_BYTES ? 1 : CK_PANEL2_TILE_BYTES / (int64_t)group_bytes; \
        for (int64_t k0 = 0; k0 < groups; k0 += tile)                                                       \
        for (int64_t j0 = 0; j0 < m; j0 += CK_PANEL2_ROWS) {                                                \
            const int64_t here = m - j0 < CK_PANEL2_ROWS ? m - j0 : CK_PANEL2_ROWS;                         \
            for (int64_t k = k0; k < groups && k < k0 + tile; k++) {                                        \
                memset(acc, 0, sizeof acc[0] * (size_t)here);                                               \
                for (int64_t i = 0; i < nb; i++) {                                                          \
                    fill((const uint8_t *)x + (size_t)k * group_bytes, row_bytes, i, &panel);               \
                    const moe_block_q8_K *a[4];                                                             \
                    float (*dst[4])[8];                                                                     \
                    int64_t j = 0;                                                                          \
                    for (; j + 4 <= here; j += 4) {                                                         \
                        for (int e = 0; e < 4; e++) {                                                       \
                            a[e] = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)(j0 + j + e) * y_stride) + i; \
                            dst[e] = &acc[j + e];                                                           \
                        }                                                                                   \
                        ck_panel2_dot4_##SUBS##_##CHUNK(&panel, a, dst);                                    \
                    }                                                                                       \
                    for (; j < here; j++) {                                                                 \
                        a[0] = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)(j0 + j) * y_stride) + i; \
                        dst[0] = &acc[j];                                                                   \
                        ck_panel2_dot1_##SUBS##_##CHUNK(&panel, a, dst);                                    \
                    }                                                                                       \
                }                                                                                           \
                for (int64_t j = 0; j < here; j++)                                                          \
                    memcpy(out + (size_t)(j0 + j) * out_stride + 8 * k, acc[j], sizeof acc[j]);             \
            }                                                                                               \
        }                                                                                                   \
    }
