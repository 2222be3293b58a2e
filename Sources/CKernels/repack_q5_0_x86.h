#pragma once
// The AVX-512 unpacking of a Q5_0 x8 block (repack_q5_0.h), shared by its
// decode kernel (repack_q5_0_vnni.c) and the sixteen-row panel fill for
// prompts (gemm_q8_0_vnni.c).

#include "ck_x86.h"

#define CK_Q50 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

// The four unsigned eight-value pairs of a block's eight rows: u[p] holds
// values 8p…8p+7, row r in bytes 8r…8r+7.
CK_Q50 static inline __attribute__((always_inline)) void ck_q50_unpack(const moe_block_q5_0x8 *blk, __m512i u[4]) {
    const __m512i low = _mm512_set1_epi8(0x0f), fifth = _mm512_set1_epi8(0x10);
    for (int h = 0; h < 2; h++) {
        const __m512i raw = _mm512_loadu_si512((const void *)(blk->qs + 64 * h));
        const __m512i lo = _mm512_and_si512(raw, low);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
        u[h] = _mm512_mask_add_epi8(lo, _cvtu64_mask64(blk->hmask[h]), lo, fifth);
        u[2 + h] = _mm512_mask_add_epi8(hi, _cvtu64_mask64(blk->hmask[2 + h]), hi, fifth);
    }
}
