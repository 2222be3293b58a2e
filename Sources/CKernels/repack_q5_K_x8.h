// Body of the Q5_K x8 direct products (include/repack_q5_K.h) for one to
// eight activation rows, four a pass, included by repack_q5_K_vnni.c and
// repack_q5_K_avx2.c. Before including, define CK_Q5X8 (the function
// attribute) and, optionally, CK_KX8_AHEAD_FROM and CK_KX8_SPREAD
// (kx8_prefetch.h; CK_KX8_SPREAD needs CK_Q5X8_SUMS16),
// CK_Q5X8_SUMS16 (the i16 sums below, where there is no vpdpbusd) and
// CK_Q5X8_SCALAR_ORDER (the float step as the scalar dot's, below).
// Notes on the method: repack_q5_K_vnni.c (VNNI), repack_q5_K_avx2.c.

#include "repack_q5_K.h"
#include "kquants.h"
#include "kx8_scales.h"
#include "kx8_prefetch.h"
#if defined(CK_KX8_SPREAD) && !defined(CK_Q5X8_SUMS16)
// only the CK_Q5X8_SUMS16 body fetches its slices: without it one row would fetch nothing
#error "CK_KX8_SPREAD needs CK_Q5X8_SUMS16"
#endif
#include <immintrin.h>
#include <string.h>

CK_Q5X8 static inline __m256i ck_q5x8_y4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Bit `bit` of every byte of h moved to bit 4, the rest masked off (a
// 16-bit shift: bit 4 of each byte comes from within the same byte for
// shifts of at most four left or three right).
CK_Q5X8 static inline __m256i ck_q5x8_fifth(__m256i h, int bit) {
    const __m256i moved = bit <= 4 ? _mm256_sll_epi16(h, _mm_cvtsi32_si128(4 - bit))
                                   : _mm256_srl_epi16(h, _mm_cvtsi32_si128(bit - 4));
    return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

// Piece p of chunk c as two vectors of five-bit values: values 64c + 4p…
// (low nibbles) and 64c + 32 + 4p… (high nibbles) of the eight rows.
CK_Q5X8 static inline void ck_q5x8_values(const moe_block_q5_Kx8 *b, int c, int p, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));
    const __m256i h = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * p));
    *lo = _mm256_or_si256(_mm256_and_si256(w, m4), ck_q5x8_fifth(h, 2 * c));
    *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), ck_q5x8_fifth(h, 2 * c + 1));
}

CK_Q5X8 static inline __m256i ck_q5x8_bytes_i32(const uint8_t *p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

// Sub-block mins in both i16 halves of each lane, for one two-i16 dot
// against a bsums pair (as repack_q4_K_x8.h's ck_kx8_mins16).
CK_Q5X8 static inline __m256i ck_q5x8_mins16(const uint8_t *p) {
    const __m256i mn = ck_q5x8_bytes_i32(p);
    return _mm256_or_si256(mn, _mm256_slli_epi32(mn, 16));
}

#ifdef CK_Q5X8_SUMS16
// Without vpdpbusd (AVX2): a maddubs lane is two products of a five-bit
// value and an activation, at most 2 · 31 · 128 = 7936, so four pieces add
// up in i16 (≤ 31744 < 32767, no saturation) and one madd by the
// sub-block's scale, in both i16 halves of its row's lane (≤ 63), gives
// the row's i32 sum: per 32 products a maddubs and an i16 add, plus a madd
// and an add per four pieces, where vpdpbusd's stand-in (maddubs, madd
// with ones, add) took three, and no mullo per sub-block. The mins go by
// madd against the activations' bsum pairs. The integers are those of
// the VNNI body and of the scalar dot.
//
// A sub-block's low- or high-nibble half at a time (each piece's bytes and
// its qh piece loaded twice, from L1) keeps four rows' sums in registers:
// AVX2 has 16 (the order of repack_q4_K_x8.h's AVX2 body).
CK_Q5X8 static inline __m256i ck_q5x8_scales16(const uint8_t *p) { return ck_q5x8_mins16(p); }

#define CK_Q5X8_BLOCK(R)                                                                                    \
    CK_Q5X8 static inline void ck_q5x8_block##R(const moe_block_q5_Kx8 *b, const uint8_t sm[128],              \
                                                const moe_block_q8_K *const a[R], __m256i isum[R], __m256i msum[R], \
                                                const void *spread) {                                        \
        const __m256i m4 = _mm256_set1_epi8(0x0f);                                                           \
        for (int j = 0; j < (R); j++) isum[j] = msum[j] = _mm256_setzero_si256();                            \
        _Pragma("clang loop unroll(full)")                                                                   \
        for (int c = 0; c < 4; c++)                                                                          \
            _Pragma("clang loop unroll(full)")                                                               \
            for (int h = 0; h < 2; h++) { /* sub-block 2c + h */                                             \
                ck_kx8_fetch_slice(spread, sizeof *b, 2 * c + h, 8);                                         \
                const __m256i sc = ck_q5x8_scales16(sm + 16 * c + 8 * h);                                    \
                for (int p0 = 0; p0 < 8; p0 += 4) {                                                          \
                    __m256i s16[R];                                                                          \
                    for (int j = 0; j < (R); j++) s16[j] = _mm256_setzero_si256();                           \
                    for (int p = p0; p < p0 + 4; p++) {                                                      \
                        const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));   \
                        const __m256i hb = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * p));            \
                        const __m256i u = _mm256_or_si256(_mm256_and_si256(h ? _mm256_srli_epi16(w, 4) : w, m4), \
                                                          ck_q5x8_fifth(hb, 2 * c + h));                     \
                        for (int j = 0; j < (R); j++)                                                        \
                            s16[j] = _mm256_add_epi16(s16[j], _mm256_maddubs_epi16(                          \
                                                                  u, ck_q5x8_y4(a[j]->qs + 64 * c + 32 * h + 4 * p))); \
                    }                                                                                        \
                    for (int j = 0; j < (R); j++) isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(s16[j], sc)); \
                }                                                                                            \
            }                                                                                                \
        for (int s = 0; s < 8; s++) {                                                                        \
            const __m256i mn = ck_q5x8_mins16(sm + 64 + 8 * s);                                              \
            for (int j = 0; j < (R); j++)                                                                    \
                msum[j] = _mm256_add_epi32(msum[j], _mm256_madd_epi16(mn, ck_q5x8_y4(a[j]->bsums + 2 * s)));  \
        }                                                                                                    \
    }
CK_Q5X8_BLOCK(1)
#else
// One block against one activation row: Σ sc·(q·y) and Σ mn·bsum of the
// eight rows.
CK_Q5X8 static inline void ck_q5x8_block1(const moe_block_q5_Kx8 *b, const uint8_t sm[128], const moe_block_q8_K *a,
                                          __m256i *isum_out, __m256i *msum_out) {
    __m256i isum = _mm256_setzero_si256(), msum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        __m256i lo0 = _mm256_setzero_si256(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
        for (int p = 0; p < 8; p += 2) {
            __m256i l0, h0, l1, h1;
            ck_q5x8_values(b, c, p, &l0, &h0);
            ck_q5x8_values(b, c, p + 1, &l1, &h1);
            const int8_t *y = a->qs + 64 * c + 4 * p;
            lo0 = _mm256_dpbusd_epi32(lo0, l0, ck_q5x8_y4(y));
            hi0 = _mm256_dpbusd_epi32(hi0, h0, ck_q5x8_y4(y + 32));
            lo1 = _mm256_dpbusd_epi32(lo1, l1, ck_q5x8_y4(y + 4));
            hi1 = _mm256_dpbusd_epi32(hi1, h1, ck_q5x8_y4(y + 36));
        }
        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_add_epi32(lo0, lo1), ck_q5x8_bytes_i32(sm + 16 * c)));
        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_add_epi32(hi0, hi1), ck_q5x8_bytes_i32(sm + 16 * c + 8)));
    }
    __m256i msum1 = _mm256_setzero_si256();  // two chains, as Q4_K's
    for (int s = 0; s < 8; s += 2) {
        msum = _mm256_dpwssd_epi32(msum, ck_q5x8_mins16(sm + 64 + 8 * s), ck_q5x8_y4(a->bsums + 2 * s));
        msum1 = _mm256_dpwssd_epi32(msum1, ck_q5x8_mins16(sm + 72 + 8 * s), ck_q5x8_y4(a->bsums + 2 * s + 2));
    }
    msum = _mm256_add_epi32(msum, msum1);
    *isum_out = isum;
    *msum_out = msum;
}

// The same for R activation rows at once: each piece's values are made
// once for all R (several streams decoding).
#define CK_Q5X8_BLOCK(R)                                                                                     \
    CK_Q5X8 static inline void ck_q5x8_block##R(const moe_block_q5_Kx8 *b, const uint8_t sm[128],              \
                                                const moe_block_q8_K *const a[R], __m256i isum[R], __m256i msum[R], \
                                                const void *spread) {                                         \
        (void)spread;                                                                                         \
        for (int j = 0; j < (R); j++) isum[j] = msum[j] = _mm256_setzero_si256();                             \
        for (int c = 0; c < 4; c++) {                                                                         \
            __m256i lo[R], hi[R];                                                                             \
            for (int j = 0; j < (R); j++) lo[j] = hi[j] = _mm256_setzero_si256();                             \
            for (int p = 0; p < 8; p++) {                                                                     \
                __m256i wl, wh;                                                                               \
                ck_q5x8_values(b, c, p, &wl, &wh);                                                            \
                for (int j = 0; j < (R); j++) {                                                               \
                    const int8_t *y = a[j]->qs + 64 * c + 4 * p;                                              \
                    lo[j] = _mm256_dpbusd_epi32(lo[j], wl, ck_q5x8_y4(y));                                    \
                    hi[j] = _mm256_dpbusd_epi32(hi[j], wh, ck_q5x8_y4(y + 32));                               \
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
                msum[j] = _mm256_dpwssd_epi32(msum[j], mn, ck_q5x8_y4(a[j]->bsums + 2 * s));                  \
        }                                                                                                     \
    }
#endif
CK_Q5X8_BLOCK(2)
CK_Q5X8_BLOCK(3)
CK_Q5X8_BLOCK(4)

// One group against R activation rows, R a constant where it is inlined,
// so the sums and accumulators stay in registers (with R known only at run
// time they lived on the stack).
CK_Q5X8 static inline __attribute__((always_inline)) void ck_q5x8_pass(const moe_block_q5_Kx8 *g, int64_t nb,
                                                                       const uint8_t *y, size_t y_stride, const int R,
                                                                       float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q5_Kx8 *b = &g[i];
        _mm_prefetch((const char *)(b + 1), _MM_HINT_T0);
        const void *spread = ck_kx8_fetch_plan(b, sizeof *b, R);  // see kx8_prefetch.h
        uint8_t sm[128];
        ck_kx8_scales(b->lo4, b->hi2, sm);
        const moe_block_q8_K *a[4];
        __m256i isum[4], msum[4];
        for (int j = 0; j < R; j++) a[j] = (const moe_block_q8_K *)(y + (size_t)j * y_stride) + i;
        switch (R) {
        case 4: ck_q5x8_block4(b, sm, a, isum, msum, spread); break;
        case 3: ck_q5x8_block3(b, sm, a, isum, msum, spread); break;
        case 2: ck_q5x8_block2(b, sm, a, isum, msum, spread); break;
#ifdef CK_Q5X8_SUMS16
        default: ck_q5x8_block1(b, sm, a, isum, msum, spread); break;
#else
        default: ck_q5x8_block1(b, sm, a[0], &isum[0], &msum[0]); break;  // a fifth row
#endif
        }
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        const __m256 dmin8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        for (int j = 0; j < R; j++) {
            const __m256 dy = _mm256_set1_ps(a[j]->d);
#ifdef CK_Q5X8_SCALAR_ORDER
            // sum += d·(float)scaled − dmin·(float)mins, d = d_x·d_y, as
            // moe_dot_q5_K_q8_K_ref rounds it (no fused step): bit for bit
            const __m256 t = _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum[j])),
                                           _mm256_mul_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum[j])));
            acc[j] = _mm256_add_ps(acc[j], t);
#else
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum[j]), acc[j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum[j]), acc[j]);
#endif
        }
    }
    for (int j = 0; j < R; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

// Up to eight activation rows, four a pass over each group's blocks (the
// later passes read them from L1/L2).
CK_Q5X8 static void ck_q5x8_direct(const moe_block_q5_Kx8 *xb, int64_t groups, int64_t nb, const void *y, size_t y_stride,
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
