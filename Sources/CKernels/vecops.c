// Float vector helpers the model needs between matrix products. Each checks
// the CPU (a cached load) and takes the AVX2 path when it can; the scalar
// path is the same arithmetic in a plainer order.

#include "ck_x86.h"
#include <math.h>

static inline int ck_has_avx2(void) { return moe_isa_best() >= MOE_ISA_AVX2; }

float moe_vec_dot_f32(const float *x, const float *y, int64_t n) {
    if (ck_has_avx2()) return moe_dot_f32_f32_avx2(x, y, n);
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += x[i] * y[i];
    return sum;
}

CK_AVX2 static void ck_axpy_avx2(float a, const float *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

void moe_vec_axpy_f32(float a, const float *x, float *y, int64_t n) {
    if (ck_has_avx2()) { ck_axpy_avx2(a, x, y, n); return; }
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

CK_AVX2 static void ck_mul_avx2(const float *x, const float *y, float *z, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(z + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) z[i] = x[i] * y[i];
}

void moe_vec_mul_f32(const float *x, const float *y, float *z, int64_t n) {
    if (ck_has_avx2()) { ck_mul_avx2(x, y, z, n); return; }
    for (int64_t i = 0; i < n; i++) z[i] = x[i] * y[i];
}

CK_AVX2 static void ck_add_avx2(const float *x, const float *y, float *z, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(z + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) z[i] = x[i] + y[i];
}

void moe_vec_add_f32(const float *x, const float *y, float *z, int64_t n) {
    if (ck_has_avx2()) { ck_add_avx2(x, y, z, n); return; }
    for (int64_t i = 0; i < n; i++) z[i] = x[i] + y[i];
}

void moe_vec_scale_f32(float a, float *x, int64_t n) {
    // the compiler vectorises this for SSE; it is never a bottleneck
    for (int64_t i = 0; i < n; i++) x[i] *= a;
}

// Sum of squares in double, as ggml's rms_norm does, so F32 models agree.
CK_AVX2 static double ck_sum_squares_avx2(const float *x, int64_t n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_fmadd_pd(lo, lo, s0);
        s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) sum += (double)x[i] * (double)x[i];
    return sum;
}

void moe_vec_rms_norm_f32(const float *x, const float *w, float *y, int64_t n, float eps) {
    if (n <= 0) return;
    double sum = 0.0;
    if (ck_has_avx2()) {
        sum = ck_sum_squares_avx2(x, n);
    } else {
        for (int64_t i = 0; i < n; i++) sum += (double)x[i] * (double)x[i];
    }
    const float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;  // ggml scales first, then applies w
    if (w != NULL) moe_vec_mul_f32(y, w, y, n);
}

// exp(x) for 8 floats, within about 2 ulp of expf: x = k·ln2 + r with
// |r| <= ln2/2 (ln2 split in two so r is exact), e^r from Cephes' degree-7
// polynomial, 2^k built in the exponent bits. Inputs below -87.3 give 0 and
// above 88.3 give about 2.4e38 (callers here never need more).
CK_AVX2 static inline __m256 ck_exp256(__m256 x) {
    const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i two_k = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(two_k)));
}

CK_AVX2 static void ck_silu_mul_avx2(const float *g, const float *u, float *z, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = ck_exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
        const __m256 silu = _mm256_div_ps(x, _mm256_add_ps(one, e));
        _mm256_storeu_ps(z + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) z[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void moe_vec_silu_mul_f32(const float *g, const float *u, float *z, int64_t n) {
    if (ck_has_avx2()) { ck_silu_mul_avx2(g, u, z, n); return; }
    for (int64_t i = 0; i < n; i++) z[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

// x = exp(x - max) in place; returns the sum in double.
CK_AVX2 static double ck_exp_shifted_avx2(float *x, int64_t n, float max) {
    const __m256 shift = _mm256_set1_ps(max);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = ck_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift));
        _mm256_storeu_ps(x + i, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    return sum;
}

float moe_vec_softmax_f32(float *x, int64_t n) {
    if (n <= 0) return 0.0f;
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = fmaxf(max, x[i]);
    double sum = 0.0;
    if (ck_has_avx2()) {
        sum = ck_exp_shifted_avx2(x, n, max);
    } else {
        for (int64_t i = 0; i < n; i++) {
            x[i] = expf(x[i] - max);
            sum += x[i];
        }
    }
    moe_vec_scale_f32((float)(1.0 / sum), x, n);
    return (float)sum;
}
