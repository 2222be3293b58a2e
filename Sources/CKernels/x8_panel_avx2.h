#pragma once
// AVX2 prompt panel for the eight-row layouts of 32-value blocks with one
// scale a block (Q8_0 today, item 42 of docs/performance.md). The product
// code is generic over how a block becomes values: a type brings a fill
// that writes block i of its group as 16-bit integers (below), any values
// in −32768…32767 whose pair products fit i32 (|q|, |y| ≤ 128 here).
//
// Why: the direct x8 kernel (repack_q8_0_avx2.c, ck_q80a_pass) ran at
// ~15.5 multiply-adds a cycle (49–50 GMAC/s at 64 activation rows, this
// 3.2 GHz Zen 3), where its core mix (sign, maddubs, madd with ones, add
// per 32) runs at 25 in a loop of nothing else. Around it, it spent per
// 32-byte piece an xor and an abs, and per block and row a hadd (its
// pieces hold four rows × eight values) and an F16C splat of the row's
// scale. Here those happen once per call and segment (fill, scratch), and
// a pass runs two groups against four activation rows: per value pair,
// two weight loads and four broadcasts feed eight vpmaddwd + vpaddd (that
// mix alone: 25.6 a cycle, the sign trick's peak), then per block and
// cell a convert, two multiplies and an add. Measured 55–61 GMAC/s at 576,
// 1536 and 8960 columns (docs/performance.md, item 42). 16 bits rather
// than the sign trick on a transposed byte panel (q and |q| filled once,
// one group a pass: 51–57): the same peak, and the widened values need no
// sign step, so a second group costs only its load.

// Panel block: piece s (0…15) holds values 2s, 2s+1 of each row as an i16
// pair in one i32 lane, lanes in row order 0, 2, 4, 6, 1, 3, 5, 7 (what an
// 8 × 4 dword transpose by unpacks gives); d in that order too, and the
// output permuted back. An activation block is its 32 values as i16 in
// order, so dword s broadcast meets piece s.
//
// Exactness: a block's integer sum is exact in i32 whatever the order
// (pairs ≤ 2·128·128, a block ≤ 32·128·128), and the float step is the
// scalar dot's, (float)sumi · (dx · dy) added in block order without FMA,
// so each output equals moe_dot_q8_0_q8_0_ref's. A segment's sums go
// through out and come back for the next: the same additions in order.

#include "ck_x86.h"

#define CK_X8P __attribute__((target("avx2,fma,f16c")))

typedef struct {
    int16_t w[16][16];
    float d[8];
} ck_x8p_block;

typedef void (*ck_x8p_fill)(const void *group, int64_t i, ck_x8p_block *out);

// Blocks per segment: two groups' panels 17 KiB and a pass's four
// activation rows 4 KiB, in L1; the chunk's widened activations (64 KiB at
// 64 rows) in L2, widened once for all of the call's groups.
enum { CK_X8P_SEG = 16, CK_X8P_ROWS = 64 };

// Per activation row and segment block in the scratch: 32 i16 values.
typedef struct {
    int16_t v[32];
} ck_x8p_act;

// lane ℓ of the accumulators holds row CK_X8P_TO_LANES[ℓ]; TO_ROWS undoes it
#define CK_X8P_TO_LANES _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)
#define CK_X8P_TO_ROWS _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)

// R activation rows (scratch rows act + j·CK_X8P_SEG) against G groups'
// panels (pn + g·CK_X8P_SEG) of a segment, nb blocks; dy[j·CK_X8P_SEG + i]
// the rows' scales; out (group g at out + 8g) starts from `first` ? 0 :
// what it holds. A broadcast activation pair serves G weight pieces.
CK_X8P static inline __attribute__((always_inline)) void ck_x8p_pass(const ck_x8p_block *pn, const int G, int64_t nb,
                                                                     const ck_x8p_act *act, const float *dy,
                                                                     const int R, int first, float *out,
                                                                     size_t out_stride) {
    __m256 acc[4][2];
    for (int j = 0; j < R; j++)
        for (int g = 0; g < G; g++)
            acc[j][g] = first ? _mm256_setzero_ps()
                              : _mm256_permutevar8x32_ps(_mm256_loadu_ps(out + (size_t)j * out_stride + 8 * g),
                                                         CK_X8P_TO_LANES);
    for (int64_t i = 0; i < nb; i++) {
        __m256i isum[4][2];
        for (int s = 0; s < 16; s++) {
            __m256i w[2];
            for (int g = 0; g < G; g++) w[g] = _mm256_load_si256((const __m256i *)pn[g * CK_X8P_SEG + i].w[s]);
            for (int j = 0; j < R; j++) {
                const int32_t *y = (const int32_t *)act[j * CK_X8P_SEG + i].v;
                const __m256i b = _mm256_set1_epi32(y[s]);
                for (int g = 0; g < G; g++) {
                    const __m256i p = _mm256_madd_epi16(w[g], b);
                    isum[j][g] = s == 0 ? p : _mm256_add_epi32(isum[j][g], p);
                }
            }
        }
        for (int g = 0; g < G; g++) {
            const __m256 dx = _mm256_load_ps(pn[g * CK_X8P_SEG + i].d);
            for (int j = 0; j < R; j++) {
                const __m256 scale = _mm256_mul_ps(dx, _mm256_broadcast_ss(&dy[j * CK_X8P_SEG + i]));
                acc[j][g] = _mm256_add_ps(acc[j][g], _mm256_mul_ps(_mm256_cvtepi32_ps(isum[j][g]), scale));
            }
        }
    }
    for (int j = 0; j < R; j++)
        for (int g = 0; g < G; g++)
            _mm256_storeu_ps(out + (size_t)j * out_stride + 8 * g, _mm256_permutevar8x32_ps(acc[j][g], CK_X8P_TO_ROWS));
}

// `groups` groups of eight rows (group k's block i: fill(x + k·group_bytes, i))
// against m q8_0 activation rows: out[j·out_stride + 8k + r], nb blocks a
// row. False (nothing written) if the scratch cannot be had.
CK_X8P static inline __attribute__((always_inline)) int ck_x8p_gemm(ck_x8p_fill fill, const void *x,
                                                                    size_t group_bytes, int64_t groups, int64_t nb,
                                                                    const void *y, size_t y_stride, int64_t m,
                                                                    float *out, size_t out_stride) {
    enum { R = 4 };
    ck_x8p_act *act = ck_thread_scratch(sizeof(ck_x8p_act) * CK_X8P_ROWS * CK_X8P_SEG);
    if (!act) return 0;
    ck_x8p_block panel[2 * CK_X8P_SEG] __attribute__((aligned(64)));
    float dy[CK_X8P_ROWS * CK_X8P_SEG] __attribute__((aligned(64)));
    for (int64_t j0 = 0; j0 < m; j0 += CK_X8P_ROWS) {
        const int64_t here = m - j0 < CK_X8P_ROWS ? m - j0 : CK_X8P_ROWS;
        for (int64_t s0 = 0; s0 < nb; s0 += CK_X8P_SEG) {
            const int64_t seg = nb - s0 < CK_X8P_SEG ? nb - s0 : CK_X8P_SEG;
            for (int64_t j = 0; j < here; j++)
                for (int64_t i = 0; i < seg; i++) {
                    const moe_block_q8_0 *b = (const moe_block_q8_0 *)((const uint8_t *)y + (size_t)(j0 + j) * y_stride) + s0 + i;
                    ck_x8p_act *o = &act[j * CK_X8P_SEG + i];
                    dy[j * CK_X8P_SEG + i] = ck_half_f16c(b->d);
                    const __m256i q = _mm256_loadu_si256((const __m256i *)b->qs);
                    _mm256_store_si256((__m256i *)o->v, _mm256_cvtepi8_epi16(_mm256_castsi256_si128(q)));
                    _mm256_store_si256((__m256i *)(o->v + 16), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(q, 1)));
                }
            for (int64_t k = 0; k < groups; k += 2) {
                const int G2 = groups - k >= 2;
                for (int g = 0; g <= G2; g++)
                    for (int64_t i = 0; i < seg; i++)
                        fill((const uint8_t *)x + (size_t)(k + g) * group_bytes, s0 + i, &panel[g * CK_X8P_SEG + i]);
                for (int64_t j = 0; j < here; j += R) {
                    const ck_x8p_act *aj = act + j * CK_X8P_SEG;
                    const float *dj = dy + j * CK_X8P_SEG;
                    float *o = out + (size_t)(j0 + j) * out_stride + 8 * k;
                    const int first = s0 == 0, rows = here - j < R ? (int)(here - j) : R;
                    if (G2) {
                        switch (rows) {
                        case 4: ck_x8p_pass(panel, 2, seg, aj, dj, 4, first, o, out_stride); break;
                        case 3: ck_x8p_pass(panel, 2, seg, aj, dj, 3, first, o, out_stride); break;
                        case 2: ck_x8p_pass(panel, 2, seg, aj, dj, 2, first, o, out_stride); break;
                        default: ck_x8p_pass(panel, 2, seg, aj, dj, 1, first, o, out_stride); break;
                        }
                    } else {
                        switch (rows) {
                        case 4: ck_x8p_pass(panel, 1, seg, aj, dj, 4, first, o, out_stride); break;
                        case 3: ck_x8p_pass(panel, 1, seg, aj, dj, 3, first, o, out_stride); break;
                        case 2: ck_x8p_pass(panel, 1, seg, aj, dj, 2, first, o, out_stride); break;
                        default: ck_x8p_pass(panel, 1, seg, aj, dj, 1, first, o, out_stride); break;
                        }
                    }
                }
            }
        }
    }
    return 1;
}
