// Body of the Q4_K x8 products (include/repack_q4_K.h), included by
// repack_q4_K_vnni.c and repack_q4_K_avx2.c. Before including, define
// CK_KX8 (the function attribute), CK_KX8_DOT(acc, u8, s8) (acc + the
// four-byte dot of each i32 lane; not used with CK_KX8_SUMS16), CK_KX8_DOT16(acc, a, b) (acc + the
// two-i16 dot of each i32 lane), CK_KX8_ENTRY (the exported name) and,
// optionally, CK_KX8_AHEAD_FROM and CK_KX8_SPREAD (kx8_prefetch.h) and
// CK_KX8_SUMS16 (the i16 sums below, where the dot would be built of
// maddubs; CK_KX8_SPREAD needs them).
// Notes on the method: repack_q4_K_vnni.c.

#include "repack_q4_K.h"
#include "kquants.h"
#include "kx8_scales.h"
#include "kx8_prefetch.h"
#if defined(CK_KX8_SPREAD) && !defined(CK_KX8_SUMS16)
// only the CK_KX8_SUMS16 body fetches its slices: without it one row would fetch nothing
#error "CK_KX8_SPREAD needs CK_KX8_SUMS16"
#endif
#include <immintrin.h>
#include <string.h>


CK_KX8 static inline __m256i ck_kx8_bytes_i32(const uint8_t *p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

CK_KX8 static inline __m256i ck_kx8_y4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Sub-block s's eight mins, each in both i16 halves of its row's lane, so
// one two-i16 dot against the activation's bsums pair (bsums[2s],
// bsums[2s + 1], one i32 broadcast from memory) gives mn · (their sum).
// Before: per row and sub-block a scalar add, a broadcast from a general
// register and a vpmulld; this is one instruction per row and sub-block.
// Bounds: mn ≤ 63, |bsum| ≤ 16 · 128, exact in i32 as before.
CK_KX8 static inline __m256i ck_kx8_mins16(const uint8_t *p) {
    const __m256i mn = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    return _mm256_or_si256(mn, _mm256_slli_epi32(mn, 16));
}

CK_KX8 static inline __m256i ck_kx8_bsum_pair(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Σ mn·bsum of a block's eight sub-blocks for R activation rows (R a
// constant where inlined), added to msum.
CK_KX8 static inline __attribute__((always_inline)) void ck_kx8_min_sums(const uint8_t sm[128],
                                                                         const moe_block_q8_K *const a[], const int R,
                                                                         __m256i msum[]) {
    for (int s = 0; s < 8; s++) {
        const __m256i mn = ck_kx8_mins16(sm + 64 + 8 * s);
        for (int j = 0; j < R; j++) msum[j] = CK_KX8_DOT16(msum[j], mn, ck_kx8_bsum_pair(a[j]->bsums + 2 * s));
    }
}

// The opening both block bodies below share: the signature (Σ sc·(q·y)
// into isum, Σ mn·bsum into msum, for R activation rows), the nibble mask
// and the zeroed sums.
#define CK_KX8_BLOCK_OPEN(R)                                                                       \
    CK_KX8 static inline void ck_kx8_block##R(const moe_block_q4_Kx8 *b, const uint8_t sm[128],     \
                                              const moe_block_q8_K *const a[R], __m256i isum[R],    \
                                              __m256i msum[R], const void *spread) {                \
        const __m256i m4 = _mm256_set1_epi8(0x0f);                                                  \
        (void)spread;                                                                               \
        for (int j = 0; j < (R); j++) isum[j] = msum[j] = _mm256_setzero_si256();

#ifdef CK_KX8_SUMS16
// Without vpdpbusd (AVX2): a piece's maddubs lanes are two products of a
// nibble and an activation, at most 2 · 15 · 128 = 3840, so a sub-block's
// eight pieces add up in i16 (≤ 30720 < 32767, no saturation) and one madd
// by the sub-block's scale, in both i16 halves of its row's lane (≤ 63),
// gives the row's i32 sum: per 32 products a maddubs and an i16 add, where
// the dot of the VNNI body (maddubs, madd with ones, add) took three, and
// no mullo per sub-block. The integers are the same, so the floats are.
// Sub-block halves one after the other (each piece loaded twice, from L1)
// keep four rows' sums in registers: AVX2 has 16. In L2 (CPU time, 2048
// values, Zen 3 EPYC at avx2) this took a block-row from 4.8, 4.0, 3.7 and
// 3.5 ns per activation row at one to four rows to 4.4, 3.2, 2.9 and 2.9.
CK_KX8 static inline __m256i ck_kx8_scales16(const uint8_t *p) { return ck_kx8_mins16(p); }

// Four rows' pieces two at a time: unrolled whole, clang interleaves the
// eight pieces and runs out of registers (four rows then cost 5.7 ns, not
// 2.9, in the figure above).
#define CK_KX8_UNROLL(R) CK_KX8_UNROLL_##R
#define CK_KX8_UNROLL_1
#define CK_KX8_UNROLL_2
#define CK_KX8_UNROLL_3
#define CK_KX8_UNROLL_4 _Pragma("clang loop unroll_count(2)")
// One row fetches ahead inside the block (kx8_prefetch.h), whose parts are
// constants only with the sub-block halves unrolled; unrolled, two to four
// rows were 5–9 % slower (and fetch the block ahead whole, as before).
#define CK_KX8_UNROLL_HALVES(R) CK_KX8_UNROLL_HALVES_##R
#define CK_KX8_UNROLL_HALVES_1 _Pragma("clang loop unroll(full)")
#define CK_KX8_UNROLL_HALVES_2
#define CK_KX8_UNROLL_HALVES_3
#define CK_KX8_UNROLL_HALVES_4

#define CK_KX8_BLOCK(R)                                                                            \
    CK_KX8_BLOCK_OPEN(R)                                                                           \
        CK_KX8_UNROLL_HALVES(R)                                                                     \
        for (int c = 0; c < 4; c++)                                                                 \
            CK_KX8_UNROLL_HALVES(R)                                                                 \
            for (int h = 0; h < 2; h++) {                                                           \
                ck_kx8_fetch_slice(spread, sizeof *b, 2 * c + h, 8);                                \
                __m256i s16[R];                                                                     \
                for (int j = 0; j < (R); j++) s16[j] = _mm256_setzero_si256();                      \
                CK_KX8_UNROLL(R)                                                                    \
                for (int p = 0; p < 8; p++) {                                                       \
                    const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p))); \
                    const __m256i u = _mm256_and_si256(h ? _mm256_srli_epi16(w, 4) : w, m4);        \
                    for (int j = 0; j < (R); j++)                                                   \
                        s16[j] = _mm256_add_epi16(s16[j], _mm256_maddubs_epi16(                     \
                                                              u, ck_kx8_y4(a[j]->qs + 64 * c + 32 * h + 4 * p))); \
                }                                                                                   \
                const __m256i sc = ck_kx8_scales16(sm + 16 * c + 8 * h);                            \
                for (int j = 0; j < (R); j++) isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(s16[j], sc)); \
            }                                                                                       \
        ck_kx8_min_sums(sm, a, (R), msum);                                                          \
    }
CK_KX8_BLOCK(1)
#else
// Σ over the block of sc·(q·y) for the eight rows, and Σ mn·bsum, for R
// activation blocks at once: each piece is loaded and split into nibbles
// once for all R (R = 4 uses 8 of the 32 ymm registers for sums).
#define CK_KX8_BLOCK(R)                                                                            \
    CK_KX8_BLOCK_OPEN(R)                                                                           \
        for (int c = 0; c < 4; c++) {                                                               \
            __m256i lo[R], hi[R];                                                                   \
            for (int j = 0; j < (R); j++) lo[j] = hi[j] = _mm256_setzero_si256();                   \
            for (int p = 0; p < 8; p++) {                                                           \
                const __m256i w = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));  \
                const __m256i wl = _mm256_and_si256(w, m4);                                         \
                const __m256i wh = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);                   \
                for (int j = 0; j < (R); j++) {                                                     \
                    const int8_t *y = a[j]->qs + 64 * c + 4 * p;                                    \
                    lo[j] = CK_KX8_DOT(lo[j], wl, ck_kx8_y4(y));                           \
                    hi[j] = CK_KX8_DOT(hi[j], wh, ck_kx8_y4(y + 32));                      \
                }                                                                                   \
            }                                                                                       \
            const __m256i sl = ck_kx8_bytes_i32(sm + 16 * c), sh = ck_kx8_bytes_i32(sm + 16 * c + 8); \
            for (int j = 0; j < (R); j++)                                                           \
                isum[j] = _mm256_add_epi32(isum[j], _mm256_add_epi32(_mm256_mullo_epi32(lo[j], sl), \
                                                                     _mm256_mullo_epi32(hi[j], sh))); \
        }                                                                                           \
        ck_kx8_min_sums(sm, a, (R), msum);                                                          \
    }

// One activation row (decode): two chains per sub-block, so the vpdpbusd
// latency overlaps.
CK_KX8 static inline void ck_kx8_block1(const moe_block_q4_Kx8 *b, const uint8_t sm[128],
                                        const moe_block_q8_K *const a1[1], __m256i isum_out[1], __m256i msum_out[1],
                                        const void *spread) {
    (void)spread;
    const moe_block_q8_K *a = a1[0];
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256i isum = _mm256_setzero_si256(), msum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {
        __m256i lo0 = _mm256_setzero_si256(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
        for (int p = 0; p < 8; p += 2) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p)));
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * (8 * c + p + 1)));
            const int8_t *y = a->qs + 64 * c + 4 * p;
            lo0 = CK_KX8_DOT(lo0, _mm256_and_si256(w0, m4), ck_kx8_y4(y));
            hi0 = CK_KX8_DOT(hi0, _mm256_and_si256(_mm256_srli_epi16(w0, 4), m4), ck_kx8_y4(y + 32));
            lo1 = CK_KX8_DOT(lo1, _mm256_and_si256(w1, m4), ck_kx8_y4(y + 4));
            hi1 = CK_KX8_DOT(hi1, _mm256_and_si256(_mm256_srli_epi16(w1, 4), m4), ck_kx8_y4(y + 36));
        }
        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_add_epi32(lo0, lo1), ck_kx8_bytes_i32(sm + 16 * c)));
        isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_add_epi32(hi0, hi1), ck_kx8_bytes_i32(sm + 16 * c + 8)));
    }
    // two chains: one is eight dependent two-i16 dots per block
    __m256i msum1 = _mm256_setzero_si256();
    for (int s = 0; s < 8; s += 2) {
        msum = CK_KX8_DOT16(msum, ck_kx8_mins16(sm + 64 + 8 * s), ck_kx8_bsum_pair(a->bsums + 2 * s));
        msum1 = CK_KX8_DOT16(msum1, ck_kx8_mins16(sm + 72 + 8 * s), ck_kx8_bsum_pair(a->bsums + 2 * s + 2));
    }
    msum = _mm256_add_epi32(msum, msum1);
    *isum_out = isum;
    *msum_out = msum;
}
#endif

CK_KX8_BLOCK(2)
CK_KX8_BLOCK(3)
CK_KX8_BLOCK(4)

// One group of eight weight rows against R activation rows (R a constant
// where it is inlined, so the sums and accumulators stay in registers: with
// R known only at run time they lived on the stack).
CK_KX8 static inline __attribute__((always_inline)) void ck_kx8_pass(const moe_block_q4_Kx8 *g, int64_t nb,
                                                                     const uint8_t *y, size_t y_stride, const int R,
                                                                     float *out, size_t out_stride) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q4_Kx8 *b = &g[i];
        _mm_prefetch((const char *)(b + 1), _MM_HINT_T0);
        const void *spread = ck_kx8_fetch_plan(b, sizeof *b, R);  // see kx8_prefetch.h
        uint8_t sm[128];
        ck_kx8_scales(b->lo4, b->hi2, sm);
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        const __m256 dmin8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->dmin));
        const moe_block_q8_K *a[4];
        __m256i isum[4], msum[4];
        for (int j = 0; j < R; j++) a[j] = (const moe_block_q8_K *)(y + (size_t)j * y_stride) + i;
        // two to four rows: each piece loaded and split once for all
        switch (R) {
        case 4: ck_kx8_block4(b, sm, a, isum, msum, spread); break;
        case 3: ck_kx8_block3(b, sm, a, isum, msum, spread); break;
        case 2: ck_kx8_block2(b, sm, a, isum, msum, spread); break;
        default: ck_kx8_block1(b, sm, a, isum, msum, spread); break;
        }
        for (int j = 0; j < R; j++) {
            const __m256 dy = _mm256_set1_ps(a[j]->d);
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d8, dy), _mm256_cvtepi32_ps(isum[j]), acc[j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin8, dy), _mm256_cvtepi32_ps(msum[j]), acc[j]);
        }
    }
    for (int j = 0; j < R; j++) _mm256_storeu_ps(out + (size_t)j * out_stride, acc[j]);
}

CK_KX8 void CK_KX8_ENTRY(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK_K;
    const moe_block_q4_Kx8 *xb = x;
    for (int64_t k = 0; k < rows / 8; k++) {
        // activation rows four at a time: a block's scales are unpacked once
        // for them and its pieces come from L1 after the first
        for (int64_t j0 = 0; j0 < m; j0 += 4) {
            const uint8_t *yj = (const uint8_t *)y + (size_t)j0 * y_stride;
            float *o = out + (size_t)j0 * out_stride + 8 * k;
            switch (m - j0 < 4 ? m - j0 : 4) {
            case 4: ck_kx8_pass(xb + k * nb, nb, yj, y_stride, 4, o, out_stride); break;
            case 3: ck_kx8_pass(xb + k * nb, nb, yj, y_stride, 3, o, out_stride); break;
            case 2: ck_kx8_pass(xb + k * nb, nb, yj, y_stride, 2, o, out_stride); break;
            default: ck_kx8_pass(xb + k * nb, nb, yj, y_stride, 1, o, out_stride); break;
            }
        }
    }
}
