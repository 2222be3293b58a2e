#pragma once
// AVX2 building blocks shared by the AVX2 and AVX-512 kernel files. Each is
// compiled for AVX2 only, so it may be inlined into either.

#include "ck_internal.h"
#include <immintrin.h>

#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))

CK_AVX2 static inline float ck_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The horizontal sums of four accumulators as one vector [Σa0, Σa1, Σa2, Σa3].
CK_AVX2 static inline __m128 ck_hsum4(const __m256 acc[4]) {
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

// binary16 -> float in one instruction (exact, like ck_half); the scalar
// bit-twiddling version would cost more than the rest of a block's work.
CK_AVX2 static inline float ck_half_f16c(uint16_t h) { return _cvtsh_ss(h); }

// binary16 -> float in all eight lanes, from a broadcast, which writes the
// whole register. _cvtsh_ss may compile to vpinsrw into whatever register
// the compiler picks; where that was a kernel's accumulator, each block's
// scale waited on the previous block's FMA (the VNNI q8_0 four-row kernel
// ran at 0.81 ns a block-row instead of 0.5).
CK_AVX2 static inline __m256 ck_half_splat(uint16_t h) { return _mm256_cvtph_ps(_mm_set1_epi16((short)h)); }

// Two adjacent binary16 fields (d and m, or d and s) as [f0, f1, 0, 0].
CK_AVX2 static inline __m128 ck_half_pair(const uint16_t *pair) {
    uint32_t bits;
    memcpy(&bits, pair, 4);
    return _mm_cvtph_ps(_mm_cvtsi32_si128((int)bits));
}

// d_x · d_y broadcast to 8 lanes, with one conversion for both halves.
CK_AVX2 static inline __m256 ck_scale_product(uint16_t dx, uint16_t dy) {
    const __m128 both = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)dx | (uint32_t)dy << 16)));
    return _mm256_broadcastss_ps(_mm_mul_ss(both, _mm_movehdup_ps(both)));
}

// 16 packed bytes -> 32 values 0..15: low nibbles (values 0..15) in the low
// lane, high nibbles (values 16..31) in the high lane, matching q8 order.
// One broadcast load and a per-lane shift (0 low, 4 high) instead of two
// shifts/masks and an insert: three instructions on the hottest path.
CK_AVX2 static inline __m256i ck_nibbles(const uint8_t *qs) {
    const __m256i both = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256i shifted = _mm256_srlv_epi64(both, _mm256_set_epi64x(4, 4, 0, 0));
    return _mm256_and_si256(shifted, _mm256_set1_epi8(0x0f));
}

// Byte j = 0xff where bit j of the 32-bit mask is set, else 0.
CK_AVX2 static inline __m256i ck_bits_to_bytes(uint32_t bits) {
    const __m256i byte_of_bit = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                                  0x0101010101010101LL, 0x0000000000000000LL);
    const __m256i bit_in_byte = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), byte_of_bit);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit_in_byte), bit_in_byte);
}

// Eight int32 partial sums of u[j]*s[j] for unsigned u (< 128) and signed s.
// maddubs cannot saturate here: 2 * 127 * 128 < 32767.
CK_AVX2 static inline __m256i ck_dot_u8_i8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Signed x signed via |x| and y with x's sign moved onto it.
CK_AVX2 static inline __m256i ck_dot_i8_i8(__m256i x, __m256i y) {
    return ck_dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// q - 16 as a signed byte: the nibble when the fifth bit is set, else
// nibble - 16, which is the nibble with the top four bits set.
CK_AVX2 static inline __m256i ck_q5_0_values(const moe_block_q5_0 *blk) {
    const __m256i high_clear = _mm256_andnot_si256(ck_bits_to_bytes(ck_qh_bits(blk->qh)), _mm256_set1_epi8((char)0xf0));
    return _mm256_or_si256(ck_nibbles(blk->qs), high_clear);
}

CK_AVX2 static inline __m256 ck_load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

// bfloat16 is the top half of a float: widen and shift left by 16.
CK_AVX2 static inline __m256 ck_load_bf16(const uint16_t *p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

// q as an unsigned byte 0..31: the nibble with the fifth bit from qh.
CK_AVX2 static inline __m256i ck_q5_1_values(const moe_block_q5_1 *blk) {
    const __m256i fifth = _mm256_and_si256(ck_bits_to_bytes(ck_qh_bits(blk->qh)), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(ck_nibbles(blk->qs), fifth);
}
