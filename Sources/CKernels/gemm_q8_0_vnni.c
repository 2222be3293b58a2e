// Q8_0, Q5_0 and Q4_0 weights against q8_0 activation rows, sixteen weight
// rows per 512-bit register (gemm_q8_0.h), AVX-512 VNNI.
//
// vpdpbusd multiplies unsigned bytes by signed ones. The weights are made
// unsigned (u = q + 2^k: q8_0 q ^ 0x80, q4_0 and q5_0 their stored values)
// and the activations stay signed, so their four values broadcast from
// memory are the signed operand, read in place from the q8_0 block:
// Σ q·y = Σ u·y − 2^k·Σy, and −2^k·Σy (one per activation block, prepared
// once per product) starts the sums. All integer sums are exact.
//
// Panel of one block (576 bytes): group g (values 4g…4g+3 of the block) of
// row r at byte 64g + 4r, then the sixteen rows' d as floats. One register
// load gives group g of all sixteen rows; one broadcast gives the same
// group of one activation row; one vpdpbusd does 64 products.

#include "ck_x86.h"
#include "gemm_q8_0.h"
#include "repack_q5_0_x86.h"

#define CK_G16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

// Measured (bench/gemm_q8_0_bench.c, Zen 4, 2048 × 2048 × 256): four
// activation rows a pass and 64-block panels beat 8 rows and 16 or 32
// blocks by 3–15 %; -D overrides are for that benchmark.
#ifndef G16_JN_DEF
#define G16_JN_DEF 4
#endif
#ifndef G16_KC_DEF
#define G16_KC_DEF 64
#endif
enum {
    G16_ROWS = 16,  // weight rows per panel (one register's int32 lanes)
    G16_KC = G16_KC_DEF,  // blocks per panel (36 KB): the panel stays in L1/L2 while every activation row passes
    G16_JN = G16_JN_DEF,  // activation rows per pass over the panel (accumulators)
};

typedef struct { uint32_t u[8][G16_ROWS]; float d[G16_ROWS]; } g16_block;

// One weight block as 32 unsigned bytes in value order.
CK_G16 static inline __m256i g16_u_q8_0(const moe_block_q8_0 *b) {
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs), _mm256_set1_epi8((char)0x80));
}
CK_G16 static inline __m256i g16_u_q4_0(const moe_block_q4_0 *b) { return ck_nibbles(b->qs); }
CK_G16 static inline __m256i g16_u_q5_0(const moe_block_q5_0 *b) {
    const __m256i fifth = _mm256_and_si256(ck_bits_to_bytes(ck_qh_bits(b->qh)), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(ck_nibbles(b->qs), fifth);
}

// Sixteen rows' blocks (eight dwords each) transposed into the panel's
// eight groups of sixteen dwords: rows r and r+8 share a register, two
// rounds of unpacks transpose each 128-bit lane's 4 × 4 dwords, and one
// two-source permute per group puts the four lanes' rows in order. 32
// shuffles per block, where dword by dword it took ~400 instructions and
// cost up to a third of a 32-row call (bench/gemm_q8_0_bench.c).
CK_G16 static inline void g16_transpose(const __m256i v[G16_ROWS], uint32_t u[8][G16_ROWS]) {
    __m512i t[8], p[8], q[8];
    for (int r = 0; r < 8; r++) t[r] = _mm512_inserti64x4(_mm512_castsi256_si512(v[r]), v[r + 8], 1);
    for (int r = 0; r < 8; r += 2) {
        p[r] = _mm512_unpacklo_epi32(t[r], t[r + 1]);
        p[r + 1] = _mm512_unpackhi_epi32(t[r], t[r + 1]);
    }
    // q[0]: groups 0 and 4 of rows 0-3 (and 8-11); q[1]: groups 1 and 5; q[2], q[3]: 2/6, 3/7; q[4…7] rows 4-7
    for (int h = 0; h < 2; h++) {
        const __m512i a = p[4 * h], b = p[4 * h + 1], c = p[4 * h + 2], d = p[4 * h + 3];
        q[4 * h + 0] = _mm512_unpacklo_epi64(a, c);
        q[4 * h + 1] = _mm512_unpackhi_epi64(a, c);
        q[4 * h + 2] = _mm512_unpacklo_epi64(b, d);
        q[4 * h + 3] = _mm512_unpackhi_epi64(b, d);
    }
    const __m512i low = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);   // lanes 0 and 2 of each
    const __m512i high = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2); // lanes 1 and 3 of each
    for (int g = 0; g < 4; g++) {
        _mm512_store_si512(u[g], _mm512_permutex2var_epi64(q[g], low, q[g + 4]));
        _mm512_store_si512(u[g + 4], _mm512_permutex2var_epi64(q[g], high, q[g + 4]));
    }
}

// Blocks i0…i0+kc-1 of `live` rows into the panel; rows past `live` are
// zero (weight 0, scale 0), so they add nothing and are never stored.
#define G16_FILL(q, WTYPE)                                                                          \
    CK_G16 static void g16_fill_##q(const void *x, size_t x_stride, int live, int64_t i0, int64_t kc, \
                                   g16_block *panel) {                                              \
        for (int64_t i = 0; i < kc; i++) {                                                          \
            __m256i v[G16_ROWS];                                                                    \
            uint16_t d[G16_ROWS];                                                                   \
            for (int r = 0; r < G16_ROWS; r++) {                                                    \
                if (r < live) {                                                                     \
                    const WTYPE *b = (const WTYPE *)((const uint8_t *)x + (size_t)r * x_stride) + i0 + i; \
                    v[r] = g16_u_##q(b);                                                            \
                    d[r] = b->d;                                                                    \
                } else {                                                                            \
                    v[r] = _mm256_setzero_si256();                                                  \
                    d[r] = 0;                                                                       \
                }                                                                                   \
            }                                                                                       \
            g16_transpose(v, panel[i].u);                                                           \
            _mm512_store_ps(panel[i].d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d)));   \
        }                                                                                           \
    }
G16_FILL(q8_0, moe_block_q8_0)
G16_FILL(q4_0, moe_block_q4_0)
G16_FILL(q5_0, moe_block_q5_0)

// Weights in an x8 layout whose blocks unpack to four pairs (Q5_0:
// repack_q5_0.h, ck_q50_unpack; Q8_0: repack_q8_0.h, four plain loads):
// `x` is the first of two groups of eight rows, the second x_stride · 8
// bytes on (group k starts where row 8k starts in ggml's layout), `live` 8
// or 16. A group's unpacked pair p holds, in dwords 2r and 2r + 1, values
// 8p…8p+3 and 8p+4…8p+7 of row r (panel groups 2p and 2p + 1), so one
// two-source permute per panel group takes the even or odd dwords of both
// groups: eight permutes a block instead of the sixteen row loads,
// expansions and the transpose above.
#define G16_FILL_X8(q, BLOCK, UNPACK)                                                                  \
    CK_G16 static void g16_fill_##q(const void *x, size_t x_stride, int live, int64_t i0, int64_t kc,    \
                                   g16_block *panel) {                                                 \
        const BLOCK *a = (const BLOCK *)x + i0;                                                        \
        const BLOCK *b = (const BLOCK *)((const uint8_t *)x + 8 * x_stride) + i0;                      \
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0); \
        const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1); \
        for (int64_t i = 0; i < kc; i++) {                                                             \
            __m512i ua[4], ub[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), \
                                    _mm512_setzero_si512()};                                           \
            UNPACK(a + i, ua);                                                                         \
            __m128i db = _mm_setzero_si128();                                                          \
            if (live > 8) {                                                                            \
                UNPACK(b + i, ub);                                                                     \
                db = _mm_loadu_si128((const __m128i *)b[i].d);                                         \
            }                                                                                          \
            for (int p = 0; p < 4; p++) {                                                              \
                _mm512_store_si512(panel[i].u[2 * p], _mm512_permutex2var_epi32(ua[p], even, ub[p]));  \
                _mm512_store_si512(panel[i].u[2 * p + 1], _mm512_permutex2var_epi32(ua[p], odd, ub[p])); \
            }                                                                                          \
            const __m256i d = _mm256_inserti128_si256(                                                 \
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a[i].d)), db, 1);              \
            _mm512_store_ps(panel[i].d, _mm512_cvtph_ps(d));                                           \
        }                                                                                              \
    }
CK_G16 static inline __attribute__((always_inline)) void g16_load_q8_0x8(const moe_block_q8_0x8 *blk, __m512i u[4]) {
    for (int p = 0; p < 4; p++) u[p] = _mm512_loadu_si512((const void *)(blk->qs + 64 * p));
}
G16_FILL_X8(q5_0x8, moe_block_q5_0x8, ck_q50_unpack)
G16_FILL_X8(q8_0x8, moe_block_q8_0x8, g16_load_q8_0x8)

#define G16_BCAST(a, g) _mm512_set1_epi32(*(const int32_t *)((a) + 4 * (g)))

// JN activation rows (from y, prep at the panel's first block) against kc
// panel blocks; acc[j] gets the sixteen rows' sums of row j.
CK_G16 static inline __attribute__((always_inline)) void
g16_pass(const g16_block *panel, int64_t kc, const uint8_t *y, size_t y_stride, const float *prep,
         size_t prep_stride, int jn, int shift, __m512 acc[G16_JN]) {
    for (int j = 0; j < jn; j++) acc[j] = _mm512_setzero_ps();
    for (int64_t i = 0; i < kc; i++) {
        const g16_block *p = panel + i;
        const __m512i w0 = _mm512_load_si512(p->u[0]), w1 = _mm512_load_si512(p->u[1]);
        const __m512i w2 = _mm512_load_si512(p->u[2]), w3 = _mm512_load_si512(p->u[3]);
        const __m512i w4 = _mm512_load_si512(p->u[4]), w5 = _mm512_load_si512(p->u[5]);
        const __m512i w6 = _mm512_load_si512(p->u[6]), w7 = _mm512_load_si512(p->u[7]);
        const __m512 dw = _mm512_load_ps(p->d);
        for (int j = 0; j < jn; j++) {
            const uint8_t *a = y + j * y_stride + sizeof(moe_block_q8_0) * (size_t)i + 2;
            const float *pr = prep + j * prep_stride + 2 * i;
            int32_t neg_sum;
            memcpy(&neg_sum, pr + 1, 4);
            // two chains of four, so dependent vpdpbusd overlap
            __m512i s0 = _mm512_set1_epi32(neg_sum * (1 << shift));
            __m512i s1 = _mm512_setzero_si512();
            s0 = _mm512_dpbusd_epi32(s0, w0, G16_BCAST(a, 0));
            s1 = _mm512_dpbusd_epi32(s1, w1, G16_BCAST(a, 1));
            s0 = _mm512_dpbusd_epi32(s0, w2, G16_BCAST(a, 2));
            s1 = _mm512_dpbusd_epi32(s1, w3, G16_BCAST(a, 3));
            s0 = _mm512_dpbusd_epi32(s0, w4, G16_BCAST(a, 4));
            s1 = _mm512_dpbusd_epi32(s1, w5, G16_BCAST(a, 5));
            s0 = _mm512_dpbusd_epi32(s0, w6, G16_BCAST(a, 6));
            s1 = _mm512_dpbusd_epi32(s1, w7, G16_BCAST(a, 7));
            const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(pr[0]));
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), scale, acc[j]);
        }
    }
}

// acc[j] into out row j: stored on the first chunk of blocks, added after.
CK_G16 static inline void g16_store(float *out, size_t out_stride, int jn, __mmask16 live, int first,
                                    const __m512 acc[G16_JN]) {
    for (int j = 0; j < jn; j++) {
        float *o = out + (size_t)j * out_stride;
        const __m512 v = first ? acc[j] : _mm512_add_ps(acc[j], _mm512_maskz_loadu_ps(live, o));
        _mm512_mask_storeu_ps(o, live, v);
    }
}

#define G16_KERNEL(q, WTYPE, SHIFT)                                                                  \
    CK_G16 void moe_gemm16_##q##_vnni(MOE_GEMM16_ARGS) {                                            \
        const int64_t nb = n / MOE_QK;                                                              \
        const size_t prep_stride = MOE_GEMM16_PREP_PER_BLOCK * (size_t)nb;                          \
        g16_block panel[G16_KC] __attribute__((aligned(64)));                                       \
        __m512 acc[G16_JN];                                                                         \
        for (int64_t r0 = 0; r0 < rows; r0 += G16_ROWS) {                                           \
            const int live = rows - r0 < G16_ROWS ? (int)(rows - r0) : G16_ROWS;                    \
            const __mmask16 mask = (__mmask16)((1u << live) - 1);                                   \
            const uint8_t *xr = (const uint8_t *)x + (size_t)r0 * x_stride;                         \
            for (int64_t i0 = 0; i0 < nb; i0 += G16_KC) {                                           \
                const int64_t kc = nb - i0 < G16_KC ? nb - i0 : G16_KC;                             \
                g16_fill_##q(xr, x_stride, live, i0, kc, panel);                                    \
                const uint8_t *yb = (const uint8_t *)y + sizeof(moe_block_q8_0) * (size_t)i0;       \
                const float *pb = y_prep + 2 * i0;                                                  \
                int64_t j = 0;                                                                      \
                for (; j + G16_JN <= m; j += G16_JN) {                                              \
                    g16_pass(panel, kc, yb + j * y_stride, y_stride, pb + j * prep_stride, prep_stride, \
                             G16_JN, SHIFT, acc);                                                   \
                    g16_store(out + j * out_stride + r0, out_stride, G16_JN, mask, i0 == 0, acc);   \
                }                                                                                   \
                for (; j < m; j++) {                                                                \
                    g16_pass(panel, kc, yb + j * y_stride, y_stride, pb + j * prep_stride, prep_stride, \
                             1, SHIFT, acc);                                                        \
                    g16_store(out + j * out_stride + r0, out_stride, 1, mask, i0 == 0, acc);        \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

G16_KERNEL(q8_0, moe_block_q8_0, 7)
G16_KERNEL(q5_0, moe_block_q5_0, 4)
G16_KERNEL(q4_0, moe_block_q4_0, 3)
G16_KERNEL(q5_0x8, moe_block_q5_0x8, 4)
G16_KERNEL(q8_0x8, moe_block_q8_0x8, 7)
