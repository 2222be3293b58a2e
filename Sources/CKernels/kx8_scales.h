#pragma once
// The scale section shared by the Q4_K and Q5_K x8 layouts
// (include/repack_q4_K.h, include/repack_q5_K.h): the 64 six-bit scales and
// 64 mins of eight rows, sub-block-major (index 8s + r), their low four bits
// in lo4 (scale low, min high nibble) and top two bits in hi2 (byte q:
// scale q, min q, scale q+32, min q+32). Sixteen six-bit values a row use
// all 96 bits of ggml's 12 bytes, so the unpack gives the original bytes.

#include "kquants_internal.h"

// ggml's 12-byte packing of 8 scales and 8 mins (the inverse of
// moe_kq_unpack_scales_mins).
static inline void ck_kq_pack_scales_mins(const uint8_t sc[8], const uint8_t mn[8], uint8_t packed[12]) {
    for (int j = 0; j < 4; j++) {
        packed[j] = (uint8_t)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        packed[j + 4] = (uint8_t)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
        packed[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

// Row r's ggml scale bytes (12) into its place in lo4/hi2; call for r = 0…7
// on zeroed lo4 and hi2.
static inline void ck_kx8_put_scales(const uint8_t packed[12], int r, uint8_t lo4[64], uint8_t hi2[32]) {
    uint8_t s8[8], m8[8];
    moe_kq_unpack_scales_mins(packed, s8, m8);
    for (int s = 0; s < 8; s++) {
        const int q = 8 * s + r;
        lo4[q] = (uint8_t)((s8[s] & 15) | (m8[s] & 15) << 4);
        hi2[q & 31] |= (uint8_t)(((s8[s] >> 4) | (m8[s] >> 4) << 2) << (4 * (q >> 5)));
    }
}

// Row r's scale (or min, with `min`) of sub-block s.
static inline uint8_t ck_kx8_scale(const uint8_t lo4[64], const uint8_t hi2[32], int s, int r, int min) {
    const int q = 8 * s + r;
    const int low = min ? lo4[q] >> 4 : lo4[q] & 15;
    const int high = (hi2[q & 31] >> (2 * min + 4 * (q >> 5))) & 3;
    return (uint8_t)(low | high << 4);
}

// Row r's 12 ggml scale bytes back from lo4/hi2.
static inline void ck_kx8_get_scales(const uint8_t lo4[64], const uint8_t hi2[32], int r, uint8_t packed[12]) {
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; s++) { sc[s] = ck_kx8_scale(lo4, hi2, s, r, 0); mn[s] = ck_kx8_scale(lo4, hi2, s, r, 1); }
    ck_kq_pack_scales_mins(sc, mn, packed);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

// The eight rows' scales (bytes 0…63) and mins (64…127) of one block,
// sub-block-major, with a few AVX2 operations (inlined into the AVX2 and
// AVX-512 kernels alike).
__attribute__((target("avx2"))) static inline void ck_kx8_scales(const uint8_t lo4[64], const uint8_t hi2[32],
                                                                 uint8_t out[128]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)lo4);
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(lo4 + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i *)hi2);
#define CK_TOP(shift) _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, shift), m3), 4)
    _mm256_storeu_si256((__m256i *)out, _mm256_or_si256(_mm256_and_si256(l0, m4), CK_TOP(0)));
    _mm256_storeu_si256((__m256i *)(out + 32), _mm256_or_si256(_mm256_and_si256(l1, m4), CK_TOP(4)));
    _mm256_storeu_si256((__m256i *)(out + 64), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), CK_TOP(2)));
    _mm256_storeu_si256((__m256i *)(out + 96), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), CK_TOP(6)));
#undef CK_TOP
}
#endif
