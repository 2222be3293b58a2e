#pragma once
// Private helpers shared by the kquants*.c files (not part of the module's
// public headers).

#include <stdint.h>
#include <string.h>
#include "kquants.h"

// Layout checks: these structs are read in place from GGUF tensor data.
_Static_assert(sizeof(moe_block_q2_K) == 84, "block_q2_K must be 84 bytes");
_Static_assert(sizeof(moe_block_q3_K) == 110, "block_q3_K must be 110 bytes");
_Static_assert(sizeof(moe_block_q4_K) == 144, "block_q4_K must be 144 bytes");
_Static_assert(sizeof(moe_block_q5_K) == 176, "block_q5_K must be 176 bytes");
_Static_assert(sizeof(moe_block_q6_K) == 210, "block_q6_K must be 210 bytes");
_Static_assert(sizeof(moe_block_q8_K) == 292, "block_q8_K must be 292 bytes");

// binary16 -> binary32. Every half is exactly representable as a float, so
// this is exact whatever method is used; done in integer bits so it needs no
// F16C and behaves the same in every translation unit.
static inline float moe_kq_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in float.
        float magnitude = (float)mantissa * 5.9604644775390625e-8f;
        return sign ? -magnitude : magnitude;
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Q4_K / Q5_K pack 8 six-bit scales and 8 six-bit mins into 12 bytes:
// bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7;
// bytes 4-7 the same for mins; bytes 8-11 the low 4 bits of scale/min 4-7.
static inline void moe_kq_unpack_scales_mins(const uint8_t packed[12],
                                             uint8_t scales[8], uint8_t mins[8]) {
    for (int j = 0; j < 4; j++) {
        scales[j] = packed[j] & 63;
        mins[j] = packed[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        scales[j] = (uint8_t)((packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4));
        mins[j] = (uint8_t)((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
    }
}
