// Fetching ahead for the K-quant x8 products of several activation rows
// (repack_q4_K_x8.h, repack_q6_K_x8.h): a group's blocks are one
// sequential stream from memory, and with one activation row the hardware
// prefetcher keeps up with it. With two to four rows on long rows (ffn_down:
// 4096–8192 values) it did not: the rows' activation blocks (4 × 292 bytes a
// block, 22 KiB at 4864 values) no longer stay in L1 next to the weights,
// and their L2 reloads between the weights' misses left the stream fetched
// late. Four rows of Q4_K at 4864 values cost 2× what they cost at 1024–2048
// from memory (130 against 63 ns per block of eight weight rows) and the
// same in L2 (53.7 ns). Every line of the block CK_KX8_AHEAD blocks on,
// into L2, brings them to 61–65 (Q6_K 160–200 → 78–82), with no change at
// 1024 values; at one row it was no faster, so one row is left to the
// hardware (bench/kx8_rows_bench.c, docs/performance.md) at avx512vnni.
// The AVX2 products fetch ahead from one row: on an AMD EPYC VM of the
// Zen 3 family (family 25 model 1, no AVX-512, one thread, from memory)
// one-row decode of the 64-expert and dense Q4_K_M shapes read 13.0–13.7
// GB/s by hand-off to the hardware and 15.2–15.3 with the fetch
// (bench/moe_ffn_bench.c, docs/performance.md item 37).
#ifndef CK_KX8_PREFETCH_H
#define CK_KX8_PREFETCH_H
#include <immintrin.h>
#include <stddef.h>

#ifndef CK_KX8_AHEAD
#define CK_KX8_AHEAD 6
#endif
// The fewest activation rows a product fetches ahead for (a kernel file
// may set it before including; see above).
#ifndef CK_KX8_AHEAD_FROM
#define CK_KX8_AHEAD_FROM 2
#endif

// The block `ahead` blocks of `bytes` each after `block`, into L2 (a
// prefetch past the matrix's end is dropped by the hardware, never faults).
static inline __attribute__((always_inline)) void ck_kx8_fetch_ahead(const void *block, size_t bytes) {
    const char *p = (const char *)block + CK_KX8_AHEAD * bytes;
    for (size_t line = 0; line < bytes; line += 64) _mm_prefetch(p + line, _MM_HINT_T1);
}

// How a pass of `rows` activation rows fetches block `block` ahead: with
// CK_KX8_SPREAD defined (the AVX2 bodies) one row returns the block, for
// the body to fetch in slices (ck_kx8_fetch_slice); otherwise the block
// six on is fetched whole here, from CK_KX8_AHEAD_FROM rows, and null is
// returned. `rows` is a constant where this is inlined.
static inline __attribute__((always_inline)) const void *ck_kx8_fetch_plan(const void *block, size_t bytes, int rows) {
    if (rows < CK_KX8_AHEAD_FROM) return NULL;
#ifdef CK_KX8_SPREAD
    if (rows == 1) return block;
#endif
    ck_kx8_fetch_ahead(block, bytes);
    return NULL;
}

// The same fetch spread through the block's work: slice `part` of `parts`
// of the lines of the block CK_KX8_AHEAD blocks after `block` (nothing when
// `block` is null: rows that do not fetch ahead). A block body calls it once
// per part between its pieces, `part` and `parts` constants.
// Why (AVX2, AMD EPYC Zen 3 class VM, one thread, from memory, 80 Q4_K x8
// matrices of 8192 × 2048 on huge pages, each pass beside a plain AVX2 read
// of the same pages): the whole block's 18 lines fetched at its start read
// 0.69–0.83 of the plain read; two or three lines before each of its eight
// sub-block halves, 0.85–0.94, 1.13–1.16× as fast in the same passes — a
// burst of prefetches holds the core's miss buffers, and the work behind it
// waits. The distance (4–12 blocks) and the hint (T1, NTA) changed nothing.
// The parts must be constants where this is inlined (the body's loops
// unrolled): with the line range computed at run time the spread product
// was 0.75–0.93× the burst's.
static inline __attribute__((always_inline)) void ck_kx8_fetch_slice(const void *block, size_t bytes, int part,
                                                                     int parts) {
    if (!block) return;
    const char *p = (const char *)block + CK_KX8_AHEAD * bytes;
    const size_t lines = (bytes + 63) / 64;
    for (size_t line = (size_t)part * lines / (size_t)parts; line < (size_t)(part + 1) * lines / (size_t)parts; line++)
        _mm_prefetch(p + 64 * line, _MM_HINT_T1);
}
#endif
