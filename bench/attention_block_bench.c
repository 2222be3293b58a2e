// Prompt attention of one head over a 512-token prompt (F16 KV cache, head
// size 64 or 128): the head-by-head kernel (every query row alone) against
// the block kernel (four rows per block), the best of several runs each.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/attention_block_bench.c -o /tmp/attention_block_bench -lm
//   /tmp/attention_block_bench [tokens] [head size]

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "ckernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    const int64_t tokens = argc > 1 ? atoll(argv[1]) : 512, size = argc > 2 ? atoll(argv[2]) : 64;
    const size_t stride = (size_t)moe_kv_row_bytes(MOE_KV_F16, size);
    float *q = malloc(sizeof(float) * (size_t)(tokens * size)), *out = malloc(sizeof(float) * (size_t)(tokens * size));
    float *row = malloc(sizeof(float) * (size_t)size), *scores = malloc(sizeof(float) * (size_t)(4 * (tokens + 4)));
    unsigned char *k = malloc(stride * (size_t)tokens), *v = malloc(stride * (size_t)tokens);
    srand(1);
    for (int64_t i = 0; i < tokens * size; i++) q[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int64_t j = 0; j < tokens; j++) {
        for (int64_t d = 0; d < size; d++) row[d] = (float)rand() / RAND_MAX - 0.5f;
        moe_kv_store(MOE_KV_F16, row, k + (size_t)j * stride, size);
        moe_kv_store(MOE_KV_F16, row, v + (size_t)j * stride, size);
    }
    const float scale = 0.125f;
    const double macs = 2.0 * (double)size * (double)tokens * (double)(tokens + 1) / 2;
    for (int blocks = 0; blocks < 2; blocks++) {
        double best = 1e9;
        for (int run = 0; run < 7; run++) {
            const double t0 = now();
            if (blocks) {
                moe_attend_block_kv(MOE_KV_F16, q, (size_t)size, tokens, k, v, stride, 1, size, scale, scores, out, (size_t)size);
            } else {
                for (int64_t t = 0; t < tokens; t++)
                    moe_attend_head_kv(MOE_KV_F16, q + t * size, k, v, stride, t + 1, size, scale, scores, out + t * size);
            }
            const double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("%s: %lld tokens, head %lld: %.3f ms, %.2f GMAC/s\n", blocks ? "block x4 " : "head-by-head",
               (long long)tokens, (long long)size, best * 1e3, macs / best * 1e-9);
    }
    return 0;
}
