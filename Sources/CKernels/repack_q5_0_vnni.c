// AVX-512 VNNI products of Q5_0 weights in the eight-row layout
// (repack_q5_0.h) with q8_0 activations.
//
// Per block of a group (eight rows × 32 values): two 64-byte loads, a mask
// and a shift-mask give the four eight-value pairs of all eight rows as
// unsigned nibbles, and one masked add each puts in the fifth bits from the
// block's hmask (a 64-bit mask register per pair), u = q + 16 in 0…31
// (ck_q50_unpack). The products on those (four vpdpbusd per activation
// row, bit-exact with moe_dot_q5_0_q8_0_ref) are shared with the Q8_0
// layout: x8_q8_0_vnni.h.
//
// Why this layout: the one-row dot on ggml's layout (a 32-value block per
// 256-bit step, its qh bits spread by shuffles) was compute-bound at one
// thread well below the read bandwidth; here a block of eight rows is about
// 24 vector operations for one activation row.

#include "repack_q5_0_x86.h"
#include "x8_q8_0_vnni.h"

// Fetched 1024 bytes ahead by hand, as the Q4_1 x8 kernels (repack_q4_1_x8.h).
CK_X8Q8_PRODUCTS(q5_0x8, moe_block_q5_0x8, ck_q50_unpack, 4, moe_gemm16_q5_0x8_vnni, 1024)
