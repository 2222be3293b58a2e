#pragma once
// Private helpers shared by the classic-quant kernel files.

#include <string.h>
#include "ckernels.h"

// Layout checks: these structs are read in place from GGUF tensor data.
_Static_assert(sizeof(moe_block_q4_0) == 18, "block_q4_0 must be 18 bytes");
_Static_assert(sizeof(moe_block_q4_1) == 20, "block_q4_1 must be 20 bytes");
_Static_assert(sizeof(moe_block_q5_0) == 22, "block_q5_0 must be 22 bytes");
_Static_assert(sizeof(moe_block_q5_1) == 24, "block_q5_1 must be 24 bytes");
_Static_assert(sizeof(moe_block_q8_0) == 34, "block_q8_0 must be 34 bytes");
_Static_assert(sizeof(moe_block_q8_1) == 36, "block_q8_1 must be 36 bytes");

static inline uint32_t ck_float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float ck_bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// binary16 -> binary32 in integer bits: exact, and needs no F16C.
static inline float ck_half(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0) {
        // zero or subnormal: mantissa * 2^-24 is exact in float
        float magnitude = (float)mantissa * 5.9604644775390625e-8f;
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) return ck_bits_float(sign | 0x7f800000u | (mantissa << 13));
    return ck_bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// The 5th bit of value j (0..31) of a Q5 block, as stored in qh (little endian).
static inline uint32_t ck_qh_bits(const uint8_t qh[4]) {
    uint32_t bits; memcpy(&bits, qh, 4); return bits;
}

// The calling thread's working buffer of at least `bytes` (64-byte aligned,
// kept for its later calls; thread_scratch.c), or NULL when it cannot be had.
void *ck_thread_scratch(size_t bytes);
