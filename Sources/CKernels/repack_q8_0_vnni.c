// AVX-512 VNNI products of Q8_0 weights in the eight-row layout
// (repack_q8_0.h) with q8_0 activations.
//
// The layout stores the weights already unsigned and in the order the
// shared decode product wants (x8_q8_0_vnni.h), so a block of eight rows is
// four 64-byte loads and no unpacking; each activation row then costs four
// vpdpbusd and a fold per block, where ggml's layout takes a one-row dot
// per weight row (a 32-byte block per step, signs moved by vpsignb) and a
// four-activation-row product that measured ~1.9× the one-row one.

#include "x8_q8_0_vnni.h"

// The four chunks of a block: u[p] holds values 8p…8p+7, row r in bytes 8r…8r+7.
CK_X8Q8 static inline __attribute__((always_inline)) void ck_q80_load(const moe_block_q8_0x8 *blk, __m512i u[4]) {
    for (int p = 0; p < 4; p++) u[p] = _mm512_loadu_si512((const void *)(blk->qs + 64 * p));
}

// No prefetching by hand: in the 0.3B Q8_0 model's decode (moebench, one
// thread, three alternations at load 5) steps per CPU second were 67–88
// without, 63–80 fetching 1024 bytes ahead, 56–73 at 2048, against 58–64
// on ggml's layout. Four 64-byte loads a block already keep enough misses
// in flight for the hardware prefetcher to follow.
CK_X8Q8_PRODUCTS(q8_0x8, moe_block_q8_0x8, ck_q80_load, 7, moe_gemm16_q8_0x8_vnni, 0)
