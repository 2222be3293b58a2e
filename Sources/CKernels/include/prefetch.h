#ifndef MOE_PREFETCH_H
#define MOE_PREFETCH_H
// Asking for weight bytes a little before a kernel reads them: the MoE
// expert passes (MatmulContext+Experts.swift) run many short matrices at
// unrelated addresses, and the first bytes of each would otherwise be
// demand misses while the hardware prefetcher finds the new stream.

#include <stdint.h>

// Brings `bytes` bytes from `p` towards L2 (prefetcht1), one line at a time.
static inline void moe_prefetch_l2(const void *p, int64_t bytes) {
    for (int64_t i = 0; i < bytes; i += 64) __builtin_prefetch((const char *)p + i, 0, 2);
}

#endif
