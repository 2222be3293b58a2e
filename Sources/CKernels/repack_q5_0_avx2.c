// AVX2 product of Q5_0 weights in the eight-row layout (repack_q5_0.h)
// with q8_0 activation rows (item 41 of docs/performance.md).
//
// A 32-byte load of a qs chunk holds four rows (one per qword): its low
// nibbles are values 8h…8h+7 of each, its high nibbles 16+8h…, so a block of
// eight rows is eight such pieces, each meeting one activation qword
// broadcast (as in the Q8_0 layout, repack_q8_0_avx2.c). The fifth bits are
// hmask[p]'s bytes for the piece's four rows, spread by one shuffle (byte r
// to the eight bytes of qword r) and a test of bit t in byte t.
//
// The values stay unsigned, u = q + 16 (0…31), so maddubs takes them as
// they are: pairs at most 2 · 31 · 127 = 7874, and the four pieces of a row
// half (values 0…31 of four rows) add up in i16 (≤ 31496 < 2^15) before
// one madd. Σq·y = Σu·y − 16·Σy, the activation's block sums made once per
// call. No sign trick (abs and sign of each piece) and one madd per four
// pieces: a decode block is about 70 vector operations for eight rows.
//
// The float step is the scalar dot's, as in the Q8_0 kernel: the two halves
// merged by one hadd into lanes [0, 1, 4, 5 | 2, 3, 6, 7], the rows' d
// permuted to match, (float)sumi · (dx · dy) added in block order without
// FMA, so each output equals moe_dot_q5_0_q8_0_ref's bit for bit.

#include "ck_x86.h"
#include "repack_q5_0.h"

#define CK_Q50A __attribute__((target("avx2,fma,f16c")))

// Block sums (activation rows × blocks a row) kept on the stack, 8 KB; more
// go to the thread's scratch buffer (a prompt tile's 64 rows of 896 columns
// are 1792).
enum { CK_Q50A_STACK_SUMS = 2048 };
// Bytes fetched ahead of the block in hand, into L2, as the VNNI kernel
// does (repack_q5_0_vnni.c), about twelve blocks: 2048 bytes decoded Qwen
// 1.07× faster than 1024 per CPU second, 4096 no faster (item 41).
enum { CK_Q50A_AHEAD = 2048 };

// The eight unsigned pieces of a block: u[p][q] holds values 8p…8p+7 of
// rows 4q…4q+3, one row per qword.
CK_Q50A static inline __attribute__((always_inline)) void ck_q50a_unpack(const moe_block_q5_0x8 *b, __m256i u[4][2]) {
    const __m256i low = _mm256_set1_epi8(0x0f), fifth = _mm256_set1_epi8(0x10);
    const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201ULL);
    // byte r of the broadcast hmask qword into qword r (r = 4q…4q+3)
    const __m256i spread[2] = {
        _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL),
        _mm256_setr_epi64x(0x0404040404040404LL, 0x0505050505050505LL, 0x0606060606060606LL,
                           0x0707070707070707LL)};
    for (int h = 0; h < 2; h++)
        for (int q = 0; q < 2; q++) {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(b->qs + 64 * h + 32 * q));
            u[h][q] = _mm256_and_si256(raw, low);
            u[2 + h][q] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
        }
    for (int p = 0; p < 4; p++) {
        int64_t mask;
        memcpy(&mask, &b->hmask[p], 8);
        const __m256i all = _mm256_set1_epi64x(mask);
        for (int q = 0; q < 2; q++) {
            const __m256i bits = _mm256_and_si256(_mm256_shuffle_epi8(all, spread[q]), bit);
            const __m256i set = _mm256_cmpeq_epi8(bits, bit);
            u[p][q] = _mm256_or_si256(u[p][q], _mm256_and_si256(set, fifth));
        }
    }
}

// One group of eight weight rows against R activation rows (R a constant
// where inlined); sums[j * nb + i] is 16 · Σy of row j's block i.
CK_Q50A static inline __attribute__((always_inline)) void ck_q50a_pass(const moe_block_q5_0x8 *g, int64_t nb,
                                                                       const uint8_t *y, size_t y_stride,
                                                                       const int32_t *sums, const int R, float *out,
                                                                       size_t out_stride) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < nb; i++) {
        const moe_block_q5_0x8 *b = &g[i];
        // three lines from each block's start cover its 176 bytes, blocks being contiguous
        for (int line = 0; line < 3; line++) _mm_prefetch((const char *)b + CK_Q50A_AHEAD + 64 * line, _MM_HINT_T1);
        __m256i u[4][2];
        ck_q50a_unpack(b, u);
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->d));
        // rows 0, 1, 4, 5, 2, 3, 6, 7: the hadd's order
        const __m256 dp = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(d8), _MM_SHUFFLE(3, 1, 2, 0)));
        for (int j = 0; j < R; j++) {
            const moe_block_q8_0 *a = (const moe_block_q8_0 *)(y + (size_t)j * y_stride) + i;
            __m256i s16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
            for (int p = 0; p < 4; p++) {
                int64_t yq;
                memcpy(&yq, a->qs + 8 * p, 8);
                const __m256i yb = _mm256_set1_epi64x(yq);
                for (int q = 0; q < 2; q++) s16[q] = _mm256_add_epi16(s16[q], _mm256_maddubs_epi16(u[p][q], yb));
            }
            const __m256i isum = _mm256_sub_epi32(
                _mm256_hadd_epi32(_mm256_madd_epi16(s16[0], ones), _mm256_madd_epi16(s16[1], ones)),
                _mm256_set1_epi32(sums[(size_t)j * (size_t)nb + (size_t)i]));
            const __m256 scale = _mm256_mul_ps(dp, ck_half_splat(a->d));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scale));
        }
    }
    // the same permutation undoes itself
    for (int j = 0; j < R; j++)
        _mm256_storeu_ps(out + (size_t)j * out_stride,
                         _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(acc[j]), _MM_SHUFFLE(3, 1, 2, 0))));
}

// 16 · Σy of each block of m activation rows, row after row.
CK_Q50A static void ck_q50a_sums(const uint8_t *y, size_t y_stride, int64_t m, int64_t nb, int32_t *sums) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t j = 0; j < m; j++) {
        const moe_block_q8_0 *a = (const moe_block_q8_0 *)(y + (size_t)j * y_stride);
        for (int64_t i = 0; i < nb; i++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)a[i].qs);
            const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v), ones16);
            __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
            t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
            sums[j * nb + i] = 16 * _mm_cvtsi128_si32(t);
        }
    }
}

// Any number of activation rows, four a pass: a group's blocks come from
// L1 after the first pass.
CK_Q50A void moe_gemm_q5_0x8_q8_0_avx2(const void *x, int64_t rows, const void *y, size_t y_stride, int64_t m,
                                      float *out, size_t out_stride, int64_t n) {
    const int64_t nb = n / MOE_QK;
    int32_t stack[CK_Q50A_STACK_SUMS];
    int32_t *sums = (size_t)(m * nb) <= CK_Q50A_STACK_SUMS
                        ? stack : ck_thread_scratch((size_t)(m * nb) * sizeof(int32_t));
    if (sums == NULL) {  // no memory for the sums: the reference gives the same outputs
        moe_gemm_q5_0x8_q8_0_ref(x, rows, y, y_stride, m, out, out_stride, n);
        return;
    }
    ck_q50a_sums(y, y_stride, m, nb, sums);
    const moe_block_q5_0x8 *xb = x;
    for (int64_t k = 0; k < rows / 8; k++)
        for (int64_t j0 = 0; j0 < m; j0 += 4) {
            const uint8_t *yj = (const uint8_t *)y + (size_t)j0 * y_stride;
            const int32_t *sj = sums + j0 * nb;
            float *o = out + (size_t)j0 * out_stride + 8 * k;
            switch (m - j0 < 4 ? m - j0 : 4) {
            case 4: ck_q50a_pass(xb + k * nb, nb, yj, y_stride, sj, 4, o, out_stride); break;
            case 3: ck_q50a_pass(xb + k * nb, nb, yj, y_stride, sj, 3, o, out_stride); break;
            case 2: ck_q50a_pass(xb + k * nb, nb, yj, y_stride, sj, 2, o, out_stride); break;
            default: ck_q50a_pass(xb + k * nb, nb, yj, y_stride, sj, 1, o, out_stride); break;
            }
        }
}
