#pragma once
// Sixteen weight rows per microkernel pass for the K-quant prompt panel
// (kpanel_vnni.h): two groups' panels merged into one of 512-bit pieces,
// so each activation broadcast feeds one vpdpbusd of 64 products instead
// of 32.
//
// Why: the eight-row kernel issues one 4-byte broadcast load per 256-bit
// vpdpbusd plus a weight load per eight, about 1.1 loads per 32 products;
// in cache it ran at 145–154 multiply-adds per ns against a register-only
// vpdpbusd peak of ~230, the loads (not the multiply-adds) being the bound.
// Here a broadcast serves 64 products and the weights the same eight
// activation rows, half the loads per product; the sub-block scales' vpmulld
// and the mins' vpdpwssd also cover sixteen rows each. On Zen 4 a 512-bit
// vpdpbusd takes the two 256-bit pipes for one cycle, so the product rate
// per instruction doubles without new port pressure.
//
// Exactness: the same integer sums per row as the eight-row kernel (the
// bounds in kpanel_vnni.h hold per lane), the same float epilogue.

#include "kpanel_vnni.h"

#define CK_PANEL16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

typedef struct {
    uint8_t q[64][64];   // piece t: rows 0–7 of the first group, then 8–15 of the second (4 bytes each)
    int32_t sc[16][16];  // sub-block s's scale of row r
    int16_t mn[8][32];   // the mins' pairs of row r at 2r and 2r + 1 (SUBS = 8: four, see ck_panel16_merge)
    float d[16], dmin[16];
    int32_t bias[16];    // SUBS = 16: row r's 128·Σ_s sc_s·Σ(q − 32) (see ck_panel16_signed)
} ck_kpanel16;

// SUBS = 8 (Q4_K, Q5_K): the eight-row panel pairs each 32-value sub-block's
// min with itself against the activation's two 16-value bsums, eight
// vpdpwssd per block and activation row. Here the pair is the mins of
// sub-blocks 2v and 2v + 1 against the activation's sums over those two
// 32-value sub-blocks (ck_panel16_sums32, once per call), four vpdpwssd: the
// same integer (|sum32| ≤ 32·128 fits i16; the eight terms < 2^22), and the
// vpdpwssd compete with the vpdpbusd for the same two pipes.
enum { CK_PANEL16_MINS8 = 4 };

CK_PANEL16 static inline __m512i ck_panel16_join(const void *lo, const void *hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_load_si256((const __m256i *)lo)),
                              _mm256_load_si256((const __m256i *)hi), 1);
}

// SUBS = 16 (Q6_K): the eight-row panel stores q (0…63) with mins of
// −32·sc, which took eight vpdpwssd per block and activation row (one per
// eight vpdpbusd, on the same two pipes). Here the weights become signed
// (q − 32) and the activations unsigned (y + 128, ck_panel16_unsigned, once
// per call), so vpdpbusd gives Σ(q − 32)(y + 128) per sub-block, and
//   Σ_s sc_s·Σ(q − 32)·y = Σ_s sc_s·Σ(q − 32)(y + 128) − 128·Σ_s sc_s·Σ(q − 32),
// whose last term depends on the weights alone: one constant per row and
// block, made here. The same integer as before, so the same floats.
// Bounds: |Σ(q − 32)(y + 128)| ≤ 16·32·255 per sub-block, × |sc| ≤ 128,
// sixteen sub-blocks: < 2^28; the bias ≤ 128·16·128·16·32 < 2^28.
CK_PANEL16 static inline void ck_panel16_signed(ck_kpanel16 *pn) {
    const __m512i k32 = _mm512_set1_epi8(32), ones = _mm512_set1_epi8(1);
    __m512i bias = _mm512_setzero_si512();
    for (int s = 0; s < 16; s++) {
        __m512i sum = _mm512_setzero_si512();
        for (int t = 4 * s; t < 4 * s + 4; t++) {
            const __m512i w = _mm512_sub_epi8(_mm512_load_si512(pn->q[t]), k32);
            _mm512_store_si512(pn->q[t], w);
            sum = _mm512_dpbusd_epi32(sum, ones, w);
        }
        bias = _mm512_add_epi32(bias, _mm512_mullo_epi32(sum, _mm512_load_si512(pn->sc[s])));
    }
    _mm512_store_si512(pn->bias, _mm512_slli_epi32(bias, 7));
}

// Two eight-row panels (groups k and k + 1) side by side.
CK_PANEL16 static inline void ck_panel16_merge(const ck_kpanel *a, const ck_kpanel *b, int subs, ck_kpanel16 *pn) {
    for (int t = 0; t < 64; t++) _mm512_store_si512(pn->q[t], ck_panel16_join(a->q[t], b->q[t]));
    for (int s = 0; s < subs; s++) _mm512_store_si512(pn->sc[s], ck_panel16_join(a->sc[s], b->sc[s]));
    if (subs == 16) {
        ck_panel16_signed(pn);  // the mins go into the bias
    } else {
        for (int v = 0; v < CK_PANEL16_MINS8; v++) {  // (m_2v, m_2v) and (m_2v+1, m_2v+1) → (m_2v, m_2v+1)
            const __m256i lo = _mm256_blend_epi16(_mm256_load_si256((const __m256i *)a->mn[2 * v]),
                                                  _mm256_load_si256((const __m256i *)a->mn[2 * v + 1]), 0xAA);
            const __m256i hi = _mm256_blend_epi16(_mm256_load_si256((const __m256i *)b->mn[2 * v]),
                                                  _mm256_load_si256((const __m256i *)b->mn[2 * v + 1]), 0xAA);
            _mm512_store_si512(pn->mn[v], _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
        }
    }
    _mm512_store_ps(pn->d, _mm512_castsi512_ps(ck_panel16_join(a->d, b->d)));
    _mm512_store_ps(pn->dmin, _mm512_castsi512_ps(ck_panel16_join(a->dmin, b->dmin)));
}

CK_PANEL16 static inline __m512i ck_panel16_y4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// sums[(j·nb + i)·8 + s]: activation row j's sum over block i's 32-value
// sub-block s (its two 16-value bsums added), for SUBS = 8.
CK_PANEL16 static inline void ck_panel16_sums32(const void *y, size_t y_stride, int64_t m, int64_t nb, int16_t *sums) {
    for (int64_t j = 0; j < m; j++) {
        const moe_block_q8_K *row = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)j * y_stride);
        for (int64_t i = 0; i < nb; i++) {
            const __m128i lo = _mm_loadu_si128((const __m128i *)row[i].bsums);
            const __m128i hi = _mm_loadu_si128((const __m128i *)(row[i].bsums + 8));
            _mm_storeu_si128((__m128i *)(sums + (size_t)(j * nb + i) * 8), _mm_hadd_epi16(lo, hi));
        }
    }
}

// The activation rows' values as unsigned bytes (y + 128, i.e. y ^ 0x80):
// u[(j·nb + i)·256 + t], for SUBS = 16.
CK_PANEL16 static inline void ck_panel16_unsigned(const void *y, size_t y_stride, int64_t m, int64_t nb, uint8_t *u) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int64_t j = 0; j < m; j++) {
        const moe_block_q8_K *row = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)j * y_stride);
        for (int64_t i = 0; i < nb; i++)
            for (int t = 0; t < 4; t++)
                _mm512_store_si512(u + (size_t)(j * nb + i) * 256 + 64 * t,
                                   _mm512_xor_si512(_mm512_loadu_si512(row[i].qs + 64 * t), flip));
    }
}

// R activation blocks against the sixteen-row panel, added to the sixteen
// outputs of each in acc[j]: one chain per row (R = 8 keeps eight in
// flight; R < 8 serves only a call's last rows). SUBS = 8 (Q4_K, Q5_K).
#define CK_PANEL16_DOT(R, SUBS)                                                                              \
    CK_PANEL16 static inline void ck_panel16_dot##R##_##SUBS(const ck_kpanel16 *pn,                        \
                                                             const moe_block_q8_K *const a[R],             \
                                                             const int16_t *const b[R],                    \
                                                             float (*const acc[R])[16]) {                  \
        __m512i isum[R], msum[R];                                                                            \
        for (int j = 0; j < (R); j++) isum[j] = msum[j] = _mm512_setzero_si512();                            \
        for (int s = 0; s < (SUBS); s++) {                                                                   \
            __m512i c[R];                                                                                    \
            for (int j = 0; j < (R); j++) c[j] = _mm512_setzero_si512();                                     \
            _Pragma("clang loop unroll(full)")                                                               \
            for (int t = 64 / (SUBS) * s; t < 64 / (SUBS) * (s + 1); t++) {                                  \
                const __m512i w = _mm512_load_si512(pn->q[t]);                                               \
                for (int j = 0; j < (R); j++) c[j] = _mm512_dpbusd_epi32(c[j], w, ck_panel16_y4(a[j]->qs + 4 * t)); \
            }                                                                                                \
            const __m512i sc = _mm512_load_si512(pn->sc[s]);                                                 \
            for (int j = 0; j < (R); j++) isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(c[j], sc)); \
        }                                                                                                    \
        for (int u = 0; u < CK_PANEL16_MINS8; u++) {                                                       \
            const __m512i mn = _mm512_load_si512(pn->mn[u]);                                                 \
            for (int j = 0; j < (R); j++) msum[j] = _mm512_dpwssd_epi32(msum[j], mn, ck_panel16_y4(b[j] + 2 * u)); \
        }                                                                                                    \
        const __m512 d16 = _mm512_load_ps(pn->d), dmin16 = _mm512_load_ps(pn->dmin);                       \
        for (int j = 0; j < (R); j++) {                                                                      \
            const __m512 dy = _mm512_set1_ps(a[j]->d);                                                       \
            __m512 v = _mm512_load_ps(*acc[j]);                                                              \
            v = _mm512_fmadd_ps(_mm512_mul_ps(d16, dy), _mm512_cvtepi32_ps(isum[j]), v);                     \
            v = _mm512_fnmadd_ps(_mm512_mul_ps(dmin16, dy), _mm512_cvtepi32_ps(msum[j]), v);                 \
            _mm512_store_ps(*acc[j], v);                                                                     \
        }                                                                                                    \
    }
CK_PANEL16_DOT(8, 8)
CK_PANEL16_DOT(4, 8)
CK_PANEL16_DOT(1, 8)

// The same for Q6_K's signed panel (ck_panel16_signed) against the unsigned
// activation values u[j] (ck_panel16_unsigned): no mins, the bias taken off
// the scale sums before the one conversion and FMA. vpdpbusd's broadcast
// operand from memory is its signed one, so the activations are broadcast
// into registers first (a load either way).
#define CK_PANEL16_DOT_Q6(R)                                                                                 \
    CK_PANEL16 static inline void ck_panel16_dot##R##_16(const ck_kpanel16 *pn, const moe_block_q8_K *const a[R], \
                                                         const uint8_t *const u[R], float (*const acc[R])[16]) { \
        __m512i isum[R];                                                                                     \
        for (int j = 0; j < (R); j++) isum[j] = _mm512_setzero_si512();                                      \
        for (int s = 0; s < 16; s++) {                                                                       \
            __m512i c[R];                                                                                    \
            for (int j = 0; j < (R); j++) c[j] = _mm512_setzero_si512();                                     \
            _Pragma("clang loop unroll(full)")                                                               \
            for (int t = 4 * s; t < 4 * s + 4; t++) {                                                        \
                const __m512i w = _mm512_load_si512(pn->q[t]);                                               \
                for (int j = 0; j < (R); j++) c[j] = _mm512_dpbusd_epi32(c[j], ck_panel16_y4(u[j] + 4 * t), w); \
            }                                                                                                \
            const __m512i sc = _mm512_load_si512(pn->sc[s]);                                                 \
            for (int j = 0; j < (R); j++) isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(c[j], sc)); \
        }                                                                                                    \
        const __m512i bias = _mm512_load_si512(pn->bias);                                                    \
        const __m512 d16 = _mm512_load_ps(pn->d);                                                            \
        for (int j = 0; j < (R); j++) {                                                                      \
            const __m512 dy = _mm512_set1_ps(a[j]->d);                                                       \
            __m512 v = _mm512_load_ps(*acc[j]);                                                              \
            v = _mm512_fmadd_ps(_mm512_mul_ps(d16, dy), _mm512_cvtepi32_ps(_mm512_sub_epi32(isum[j], bias)), v); \
            _mm512_store_ps(*acc[j], v);                                                                     \
        }                                                                                                    \
    }
CK_PANEL16_DOT_Q6(8)
CK_PANEL16_DOT_Q6(4)
CK_PANEL16_DOT_Q6(1)

// Bytes per activation row and block of a call's prepared activations:
// the 32-value sums (SUBS = 8, ck_panel16_sums32) or the unsigned values
// (SUBS = 16, ck_panel16_unsigned).
static inline size_t ck_panel16_prep_bytes(int subs) { return subs == 8 ? 16 : 256; }

// Activation rows j0… (rows_here of them, y_stride apart) against block i
// of the merged panel, R at a time; prep: the rows' prepared activations
// (ck_panel16_prep_bytes per block, nb blocks a row).
CK_PANEL16 static inline void ck_panel16_rows(const ck_kpanel16 *pn, int subs, const void *y, size_t y_stride,
                                              const uint8_t *prep, int64_t nb, int64_t i, int64_t rows_here,
                                              float (*acc)[16]) {
    const moe_block_q8_K *a[8];
    const int16_t *b[8];
    const uint8_t *u[8];
    float (*dst[8])[16];
    int64_t j = 0;
#define CK_PANEL16_TAKE(R)                                                                              \
    for (int e = 0; e < (R); e++) {                                                                     \
        a[e] = (const moe_block_q8_K *)((const uint8_t *)y + (size_t)(j + e) * y_stride) + i;           \
        u[e] = prep + (size_t)((j + e) * nb + i) * ck_panel16_prep_bytes(subs);                         \
        b[e] = (const int16_t *)u[e];                                                                   \
        dst[e] = &acc[j + e];                                                                           \
    }
    for (; j + 8 <= rows_here; j += 8) {
        CK_PANEL16_TAKE(8)
        if (subs == 8) ck_panel16_dot8_8(pn, a, b, dst);
        else ck_panel16_dot8_16(pn, a, u, dst);
    }
    for (; j + 4 <= rows_here; j += 4) {
        CK_PANEL16_TAKE(4)
        if (subs == 8) ck_panel16_dot4_8(pn, a, b, dst);
        else ck_panel16_dot4_16(pn, a, u, dst);
    }
    for (; j < rows_here; j++) {
        CK_PANEL16_TAKE(1)
        if (subs == 8) ck_panel16_dot1_8(pn, a, b, dst);
        else ck_panel16_dot1_16(pn, a, u, dst);
    }
#undef CK_PANEL16_TAKE
}

// A thread's buffer of at least nb merged panels followed by m·nb·prep_bytes
// of prepared activations (kpanel16_vnni.c), or NULL when it cannot be had.
ck_kpanel16 *ck_panel16_panels(int64_t nb, int64_t m, size_t prep_bytes);

// One output row's sixteen sums, a whole cache line when aligned: streamed
// past the caches. Each line of a prompt product's output is written once,
// by one store, and the lines of consecutive rows lie out_stride apart
// (32 KiB at 8192 rows, all in one L1 set); written through the caches each
// first waited for its line to be read in, ~6 % of the panel's samples in a
// 1.5B Q5_K_M prompt on the stores. Calls of fewer than CK_PANEL_ROWS rows
// (small batches, whose outputs fit in L2 for the next step) store plainly.
CK_PANEL16 static inline void ck_panel16_store(float *out, const float acc[16], int stream) {
    if (stream && ((uintptr_t)out & 63) == 0) _mm512_stream_ps(out, _mm512_load_ps(acc));
    else memcpy(out, acc, 16 * sizeof(float));
}

// ck_panel_gemm's contract, sixteen rows at a time. Each pair of groups is
// unpacked once per call (every block's merged panel, nb × 8.3 KiB, stays in
// L2) and then every activation row passes over it, CK_PANEL_ROWS at a time;
// an odd last group, or no buffer, takes the eight-row panel.
CK_PANEL16 static inline void ck_panel16_gemm(ck_kpanel_fill fill, int subs, const void *x, size_t block_bytes,
                                              int64_t groups, int64_t nb, const void *y, size_t y_stride, int64_t m,
                                              float *out, size_t out_stride) {
    ck_kpanel16 *panels = ck_panel16_panels(nb, m, ck_panel16_prep_bytes(subs));
    if (!panels) {
        ck_panel_gemm(fill, subs, x, block_bytes, groups, nb, y, y_stride, m, out, out_stride);
        return;
    }
    uint8_t *prep = (uint8_t *)(panels + nb);
    const int stream = m >= CK_PANEL_ROWS;
    if (subs == 8 && groups >= 2) ck_panel16_sums32(y, y_stride, m, nb, (int16_t *)prep);
    if (subs == 16 && groups >= 2) ck_panel16_unsigned(y, y_stride, m, nb, prep);
    ck_kpanel half[2] __attribute__((aligned(64)));
    float acc[CK_PANEL_ROWS][16] __attribute__((aligned(64)));
    int64_t k = 0;
    for (; k + 2 <= groups; k += 2) {
        for (int64_t i = 0; i < nb; i++) {
            fill((const uint8_t *)x + (size_t)(k * nb + i) * block_bytes, &half[0]);
            fill((const uint8_t *)x + (size_t)((k + 1) * nb + i) * block_bytes, &half[1]);
            ck_panel16_merge(&half[0], &half[1], subs, &panels[i]);
        }
        // the next pair's weights toward L2 while this pair's rows run (its
        // unpacking otherwise waits on memory: 6 % of the product time at
        // two threads on a loaded machine). Past the call's last pair this
        // reaches the next tile's rows (or past the matrix: a prefetch is
        // only a hint and never faults).
        for (size_t o = 0; o < (size_t)(2 * nb) * block_bytes; o += 64)
            _mm_prefetch((const char *)x + (size_t)((k + 2) * nb) * block_bytes + o, _MM_HINT_T1);
        for (int64_t j0 = 0; j0 < m; j0 += CK_PANEL_ROWS) {
            const int64_t rows_here = m - j0 < CK_PANEL_ROWS ? m - j0 : CK_PANEL_ROWS;
            const uint8_t *yj = (const uint8_t *)y + (size_t)j0 * y_stride;
            memset(acc, 0, sizeof acc[0] * (size_t)rows_here);
            const uint8_t *pj = prep + (size_t)(j0 * nb) * ck_panel16_prep_bytes(subs);
            for (int64_t i = 0; i < nb; i++) ck_panel16_rows(&panels[i], subs, yj, y_stride, pj, nb, i, rows_here, acc);
            for (int64_t j = 0; j < rows_here; j++) ck_panel16_store(out + (size_t)(j0 + j) * out_stride + 8 * k, acc[j], stream);
        }
    }
    _mm_sfence();  // the streamed lines ordered before the caller's release of the outputs
    if (k < groups)
        ck_panel_gemm(fill, subs, (const uint8_t *)x + (size_t)(k * nb) * block_bytes, block_bytes, 1, nb, y, y_stride,
                      m, out + 8 * k, out_stride);
}
