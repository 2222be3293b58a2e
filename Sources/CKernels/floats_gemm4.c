// Prompt processing on float weights (F32, F16, BF16): one weight row against
// four activation rows, so each weight vector is loaded and widened once and
// feeds four FMAs. The activation rows are widened to f32 and interleaved
// once per product (moe_act_scales4_<type>, MatmulContext's "scales"): per
// chunk of 16 values, row 0's 16 floats, then rows 1, 2, 3 (64 floats); a
// last chunk of t < 16 values keeps rows t floats apart. That is 4 floats
// per value, so a four-row group of an n-wide product takes 16·n bytes.
//
// Conversions from f16 and bf16 are exact, so these kernels multiply the
// same values as the one-row dots and differ only in the order of additions.
//
// With AVX-512 BF16 (vdpbf16ps), BF16 weights keep their activations in bf16
// (moe_act_scales4_bf16_pairs: chunks of 32 values, rows 64 bytes apart) and
// one instruction multiplies and adds 32 pairs. Its products are exact (8-bit
// significands), the sums are rounded to nearest even as FMA's are; it
// treats bf16 subnormals (below 1.2e-38) as zero.

#include "ck_x86.h"

#define CK_AVX512F __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
#define CK_AVX512BF16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16")))

enum { CK_FC = 16, CK_BC = 32 };  // values per chunk: f32 prep, bf16 prep

#define CK_YROW(T, j) ((const T *)((const uint8_t *)y + (size_t)(j) * y_stride))

// ---- the prepared activations ---------------------------------------------------

// Row j's values [c, c + len) to prep at stride len; `WIDEN8` converts 8.
#define CK_PREP_F32(T, WIDEN8, WIDEN1)                                                            \
    for (int64_t c = 0; c < n; c += CK_FC) {                                                      \
        const int64_t len = n - c < CK_FC ? n - c : CK_FC;                                        \
        float *chunk = scales + 4 * c;                                                            \
        for (int j = 0; j < 4; j++) {                                                             \
            const T *row = CK_YROW(T, j) + c;                                                     \
            float *dst = chunk + j * len;                                                         \
            int64_t k = 0;                                                                        \
            for (; k + 8 <= len; k += 8) _mm256_storeu_ps(dst + k, WIDEN8(row + k));              \
            for (; k < len; k++) dst[k] = WIDEN1(row[k]);                                         \
        }                                                                                         \
    }

CK_AVX2 static inline __m256 ck_load_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline float ck_same(float v) { return v; }

CK_AVX2 void moe_act_scales4_f32(const void *y, size_t y_stride, float *scales, int64_t n) {
    CK_PREP_F32(float, ck_load_f32, ck_same)
}
CK_AVX2 void moe_act_scales4_f16(const void *y, size_t y_stride, float *scales, int64_t n) {
    CK_PREP_F32(uint16_t, ck_load_f16, ck_half_f16c)
}
CK_AVX2 void moe_act_scales4_bf16(const void *y, size_t y_stride, float *scales, int64_t n) {
    CK_PREP_F32(uint16_t, ck_load_bf16, moe_bf16_to_fp32)
}

// bf16 kept as bf16, chunks of 32 values (2 floats' room per value).
void moe_act_scales4_bf16_pairs(const void *y, size_t y_stride, float *scales, int64_t n) {
    uint16_t *prep = (uint16_t *)scales;
    for (int64_t c = 0; c < n; c += CK_BC) {
        const int64_t len = n - c < CK_BC ? n - c : CK_BC;
        for (int j = 0; j < 4; j++) memcpy(prep + 4 * c + j * len, CK_YROW(uint16_t, j) + c, (size_t)len * 2);
    }
}

// ---- kernels ----------------------------------------------------------------------

// The scalar tail of a last chunk of len < chunk values at c.
#define CK_TAIL(WIDEN1, PREP1)                                                                    \
    for (int64_t k = 0; k < len; k++) {                                                           \
        const float w = WIDEN1(a[c + k]);                                                         \
        for (int j = 0; j < 4; j++) tail[j] += w * PREP1(chunk[j * len + k]);                     \
    }

// AVX2: per chunk two weight vectors, eight accumulators (FMA latency 4 at
// two a cycle needs eight chains).
#define CK_GEMM4_AVX2(T, WIDEN8, WIDEN1)                                                          \
    (void)y; (void)y_stride;                                                                      \
    const T *a = x;                                                                               \
    __m256 lo[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    __m256 hi[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    float tail[4] = {0, 0, 0, 0};                                                                 \
    int64_t c = 0;                                                                                \
    for (; c + CK_FC <= n; c += CK_FC) {                                                          \
        const float *chunk = y_scales + 4 * c;                                                    \
        const __m256 w0 = WIDEN8(a + c), w1 = WIDEN8(a + c + 8);                                  \
        for (int j = 0; j < 4; j++) {                                                             \
            lo[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(chunk + 16 * j), lo[j]);                  \
            hi[j] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(chunk + 16 * j + 8), hi[j]);              \
        }                                                                                         \
    }                                                                                             \
    const int64_t len = n - c;                                                                    \
    const float *chunk = y_scales + 4 * c;                                                        \
    CK_TAIL(WIDEN1, ck_same)                                                                      \
    for (int j = 0; j < 4; j++) lo[j] = _mm256_add_ps(lo[j], hi[j]);                              \
    _mm_storeu_ps(out, _mm_add_ps(ck_hsum4(lo), _mm_loadu_ps(tail)));

CK_AVX2 void moe_gemm4_f32_f32_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_GEMM4_AVX2(float, ck_load_f32, ck_same)
}
CK_AVX2 void moe_gemm4_f16_f16_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_GEMM4_AVX2(uint16_t, ck_load_f16, ck_half_f16c)
}
CK_AVX2 void moe_gemm4_bf16_bf16_avx2(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_GEMM4_AVX2(uint16_t, ck_load_bf16, moe_bf16_to_fp32)
}

CK_AVX512F static inline __m512 ck_load16_f32(const float *p) { return _mm512_loadu_ps(p); }
CK_AVX512F static inline __m512 ck_load16_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
CK_AVX512F static inline __m512 ck_load16_bf16(const uint16_t *p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

// AVX-512: one 16-value weight vector per chunk, two chunks a step for eight
// accumulator chains.
#define CK_GEMM4_AVX512(T, WIDEN16, WIDEN1)                                                       \
    (void)y; (void)y_stride;                                                                      \
    const T *a = x;                                                                               \
    __m512 e[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}; \
    __m512 o[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()}; \
    float tail[4] = {0, 0, 0, 0};                                                                 \
    int64_t c = 0;                                                                                \
    for (; c + 2 * CK_FC <= n; c += 2 * CK_FC) {                                                  \
        const float *chunk = y_scales + 4 * c;                                                    \
        const __m512 w0 = WIDEN16(a + c), w1 = WIDEN16(a + c + CK_FC);                            \
        for (int j = 0; j < 4; j++) {                                                             \
            e[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(chunk + 16 * j), e[j]);                   \
            o[j] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(chunk + 64 + 16 * j), o[j]);               \
        }                                                                                         \
    }                                                                                             \
    if (c + CK_FC <= n) {                                                                         \
        const float *chunk = y_scales + 4 * c;                                                    \
        const __m512 w0 = WIDEN16(a + c);                                                         \
        for (int j = 0; j < 4; j++) e[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(chunk + 16 * j), e[j]); \
        c += CK_FC;                                                                               \
    }                                                                                             \
    const int64_t len = n - c;                                                                    \
    const float *chunk = y_scales + 4 * c;                                                        \
    CK_TAIL(WIDEN1, ck_same)                                                                      \
    for (int j = 0; j < 4; j++) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(e[j], o[j])) + tail[j];

CK_AVX512F void moe_gemm4_f32_f32_avx512(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_GEMM4_AVX512(float, ck_load16_f32, ck_same)
}
CK_AVX512F void moe_gemm4_f16_f16_avx512(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_GEMM4_AVX512(uint16_t, ck_load16_f16, ck_half_f16c)
}
CK_AVX512F void moe_gemm4_bf16_bf16_avx512(const void *x, const void *y, size_t y_stride, const float *y_scales, float *out, int64_t n) {
    CK_GEMM4_AVX512(uint16_t, ck_load16_bf16, moe_bf16_to_fp32)
}

// vdpbf16ps on bf16 activations prepared by moe_act_scales4_bf16_pairs: 32
// values a step per row, two steps for eight chains.
CK_AVX512BF16 void moe_gemm4_bf16_bf16_avx512bf16(const void *x, const void *y, size_t y_stride, const float *y_scales,
                                                  float *out, int64_t n) {
    (void)y; (void)y_stride;
    const uint16_t *a = x;
    const uint16_t *prep = (const uint16_t *)y_scales;
    __m512 e[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    __m512 o[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    float tail[4] = {0, 0, 0, 0};
    int64_t c = 0;
    for (; c + 2 * CK_BC <= n; c += 2 * CK_BC) {
        const uint16_t *chunk = prep + 4 * c;
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(a + c), w1 = (__m512bh)_mm512_loadu_si512(a + c + CK_BC);
        for (int j = 0; j < 4; j++) {
            e[j] = _mm512_dpbf16_ps(e[j], w0, (__m512bh)_mm512_loadu_si512(chunk + 32 * j));
            o[j] = _mm512_dpbf16_ps(o[j], w1, (__m512bh)_mm512_loadu_si512(chunk + 128 + 32 * j));
        }
    }
    if (c + CK_BC <= n) {
        const uint16_t *chunk = prep + 4 * c;
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(a + c);
        for (int j = 0; j < 4; j++) e[j] = _mm512_dpbf16_ps(e[j], w0, (__m512bh)_mm512_loadu_si512(chunk + 32 * j));
        c += CK_BC;
    }
    const int64_t len = n - c;
    const uint16_t *chunk = prep + 4 * c;
    CK_TAIL(moe_bf16_to_fp32, moe_bf16_to_fp32)
    for (int j = 0; j < 4; j++) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(e[j], o[j])) + tail[j];
}

// ---- runs of weight rows (MatmulContext's prompt tiles) ---------------------------
// One weight row at a time, the four activation rows' chunks are reloaded
// for every weight row; with n = 2048 f32 they are 32 KiB, beyond L1 beside
// the tile, and the kernel waited on L2 (f32: 1.38 ns per 32 weights·row,
// about a third of the FMA rate). Register tiles of R weight rows × 4
// activation rows load each activation vector once for R weight rows.
// out[j * out_stride + r] as moe_gemm4_rows; rows left over (rows mod R)
// take the one-row kernel.

#define CK_ROW(T, i) ((const T *)((const uint8_t *)x + (size_t)(r + (i)) * x_stride))

// The scalar tail of R weight rows, then the results.
#define CK_RUN_FINISH(T, R, WIDEN1, PREP1, CHUNKLEN, HSUM)                                        \
    {                                                                                             \
        const int64_t len = n - c;                                                                \
        for (int i = 0; i < (R); i++)                                                             \
            for (int j = 0; j < 4; j++) {                                                         \
                float t = 0;                                                                      \
                for (int64_t k = 0; k < len; k++) t += WIDEN1(CK_ROW(T, i)[c + k]) * PREP1(prep[4 * c + j * len + k]); \
                out[(size_t)j * out_stride + (size_t)(r + i)] = HSUM(acc[i][j]) + t;              \
            }                                                                                     \
    }

#define CK_RUN_REST(ONE)                                                                          \
    for (; r < rows; r++) {                                                                       \
        float four[4];                                                                            \
        ONE((const uint8_t *)x + (size_t)r * x_stride, y, y_stride, y_scales, four, n);           \
        for (int j = 0; j < 4; j++) out[(size_t)j * out_stride + (size_t)r] = four[j];            \
    }

// AVX2: two weight rows × four activation rows, eight accumulators of
// eight values (16 registers: those, four activation and two weight vectors).
#define CK_RUN_AVX2(NAME, T, WIDEN8, WIDEN1, ONE)                                                 \
    CK_AVX2 void NAME(const void *x, size_t x_stride, int64_t rows, const void *y, size_t y_stride, \
                      const float *y_scales, float *out, size_t out_stride, int64_t n) {          \
        const float *prep = y_scales;                                                             \
        int64_t r = 0;                                                                            \
        for (; r + 2 <= rows; r += 2) {                                                           \
            __m256 acc[2][4];                                                                     \
            for (int i = 0; i < 2; i++) for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps(); \
            int64_t c = 0;                                                                        \
            for (; c + CK_FC <= n; c += CK_FC)                                                    \
                for (int h = 0; h < 16; h += 8) {                                                 \
                    const __m256 w0 = WIDEN8(CK_ROW(T, 0) + c + h), w1 = WIDEN8(CK_ROW(T, 1) + c + h); \
                    for (int j = 0; j < 4; j++) {                                                 \
                        const __m256 v = _mm256_loadu_ps(prep + 4 * c + 16 * j + h);              \
                        acc[0][j] = _mm256_fmadd_ps(w0, v, acc[0][j]);                            \
                        acc[1][j] = _mm256_fmadd_ps(w1, v, acc[1][j]);                            \
                    }                                                                             \
                }                                                                                 \
            CK_RUN_FINISH(T, 2, WIDEN1, ck_same, CK_FC, ck_hsum256)                               \
        }                                                                                         \
        CK_RUN_REST(ONE)                                                                          \
    }

// AVX-512: four weight rows × four activation rows, sixteen accumulators.
#define CK_RUN_AVX512(NAME, T, WIDEN16, WIDEN1, ONE)                                              \
    CK_AVX512F void NAME(const void *x, size_t x_stride, int64_t rows, const void *y, size_t y_stride, \
                         const float *y_scales, float *out, size_t out_stride, int64_t n) {       \
        const float *prep = y_scales;                                                             \
        int64_t r = 0;                                                                            \
        for (; r + 4 <= rows; r += 4) {                                                           \
            __m512 acc[4][4];                                                                     \
            for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps(); \
            int64_t c = 0;                                                                        \
            for (; c + CK_FC <= n; c += CK_FC) {                                                  \
                __m512 v[4];                                                                      \
                for (int j = 0; j < 4; j++) v[j] = _mm512_loadu_ps(prep + 4 * c + 16 * j);        \
                for (int i = 0; i < 4; i++) {                                                     \
                    const __m512 w = WIDEN16(CK_ROW(T, i) + c);                                   \
                    for (int j = 0; j < 4; j++) acc[i][j] = _mm512_fmadd_ps(w, v[j], acc[i][j]);  \
                }                                                                                 \
            }                                                                                     \
            CK_RUN_FINISH(T, 4, WIDEN1, ck_same, CK_FC, _mm512_reduce_add_ps)                     \
        }                                                                                         \
        CK_RUN_REST(ONE)                                                                          \
    }

CK_RUN_AVX2(moe_gemm4_rows_f32_avx2, float, ck_load_f32, ck_same, moe_gemm4_f32_f32_avx2)
CK_RUN_AVX2(moe_gemm4_rows_f16_avx2, uint16_t, ck_load_f16, ck_half_f16c, moe_gemm4_f16_f16_avx2)
CK_RUN_AVX2(moe_gemm4_rows_bf16_avx2, uint16_t, ck_load_bf16, moe_bf16_to_fp32, moe_gemm4_bf16_bf16_avx2)
CK_RUN_AVX512(moe_gemm4_rows_f32_avx512, float, ck_load16_f32, ck_same, moe_gemm4_f32_f32_avx512)
CK_RUN_AVX512(moe_gemm4_rows_f16_avx512, uint16_t, ck_load16_f16, ck_half_f16c, moe_gemm4_f16_f16_avx512)
CK_RUN_AVX512(moe_gemm4_rows_bf16_avx512, uint16_t, ck_load16_bf16, moe_bf16_to_fp32, moe_gemm4_bf16_bf16_avx512)

// vdpbf16ps, four weight rows × four activation rows, 32 values a step.
CK_AVX512BF16 void moe_gemm4_rows_bf16_avx512bf16(const void *x, size_t x_stride, int64_t rows, const void *y,
                                                  size_t y_stride, const float *y_scales, float *out,
                                                  size_t out_stride, int64_t n) {
    const uint16_t *prep = (const uint16_t *)y_scales;
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        __m512 acc[4][4];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
        int64_t c = 0;
        for (; c + CK_BC <= n; c += CK_BC) {
            __m512bh v[4];
            for (int j = 0; j < 4; j++) v[j] = (__m512bh)_mm512_loadu_si512(prep + 4 * c + 32 * j);
            for (int i = 0; i < 4; i++) {
                const __m512bh w = (__m512bh)_mm512_loadu_si512(CK_ROW(uint16_t, i) + c);
                for (int j = 0; j < 4; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], w, v[j]);
            }
        }
        CK_RUN_FINISH(uint16_t, 4, moe_bf16_to_fp32, moe_bf16_to_fp32, CK_BC, _mm512_reduce_add_ps)
    }
    CK_RUN_REST(moe_gemm4_bf16_bf16_avx512bf16)
}
