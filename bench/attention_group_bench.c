// Microbenchmark: decode attention over an F16 cache, every query head of a
// layer, head by head (moe_attend_head_kv, the path before) against by GQA
// group (moe_attend_group_f16), one thread, at the best level this CPU has.
// Shapes: SmolLM2 (3 KV heads × 3), the 0.3B bench model (4 × 4), Qwen 0.5B
// (2 × 7), heads of 64; 80, 256 and 1024 cached rows. With `flush` as the
// first argument an 8 MiB buffer is walked before each call, as a decode
// step's weights evict the cache. Best and median of 201 calls in µs.
// Checks first that the group's results are the per-head kernel's bit for bit.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include -ISources/CKernels \
//         Sources/CKernels/*.c bench/attention_group_bench.c -o /tmp/attention_group_bench -lm \
//     && /tmp/attention_group_bench [flush]
#include "ckernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { REPEATS = 201 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float noise(void) { return (float)rand() / (float)RAND_MAX - 0.5f; }

// One layer's heads over `length` rows of `kv` KV heads, groups of `group`.
static void run(int kv, int group, int length, int flush) {
    const int size = 64, values = kv * size;
    const size_t stride = (size_t)values * 2;
    uint8_t *keys = malloc(stride * length), *vals = malloc(stride * length);
    float *row = malloc(sizeof(float) * values), *q = malloc(sizeof(float) * kv * group * size);
    float *scores = malloc(sizeof(float) * group * length);
    float *a = malloc(sizeof(float) * kv * group * size), *b = malloc(sizeof(float) * kv * group * size);
    for (int j = 0; j < length; j++) {
        for (int i = 0; i < values; i++) row[i] = noise();
        moe_kv_store(MOE_KV_F16, row, keys + j * stride, values);
        for (int i = 0; i < values; i++) row[i] = 3 * noise();
        moe_kv_store(MOE_KV_F16, row, vals + j * stride, values);
    }
    for (int i = 0; i < kv * group * size; i++) q[i] = 2 * noise();
    const size_t flushBytes = (size_t)8 << 20;
    volatile uint8_t *evict = calloc(flushBytes, 1);
    double times[2][REPEATS];
    for (int rep = 0; rep < REPEATS; rep++) {
        for (int way = 0; way < 2; way++) {
            if (flush)
                for (size_t i = 0; i < flushBytes; i += 64) evict[i]++;
            const double start = now();
            for (int h = 0; h < kv; h++) {
                const uint8_t *k = keys + h * size * 2, *v = vals + h * size * 2;
                float *qh = q + h * group * size;
                if (way == 0)
                    for (int g = 0; g < group; g++)
                        moe_attend_head_kv(MOE_KV_F16, qh + g * size, k, v, stride, length, size, 0.125f, scores,
                                           a + (h * group + g) * size);
                else
                    moe_attend_group_f16(qh, group, k, v, stride, length, size, 0.125f, scores, b + h * group * size,
                                         NULL, NULL);
            }
            times[way][rep] = now() - start;
        }
    }
    if (memcmp(a, b, sizeof(float) * kv * group * size) != 0) printf("MISMATCH: ");
    qsort(times[0], REPEATS, sizeof(double), by_value);
    qsort(times[1], REPEATS, sizeof(double), by_value);
    printf("%d KV heads × %d, %4d rows: per head %7.1f (best %7.1f) µs, by group %7.1f (best %7.1f) µs, %.2f×\n", kv,
           group, length, times[0][REPEATS / 2] * 1e6, times[0][0] * 1e6, times[1][REPEATS / 2] * 1e6,
           times[1][0] * 1e6, times[0][REPEATS / 2] / times[1][REPEATS / 2]);
    free(keys), free(vals), free(row), free(q), free(scores), free(a), free(b), free((void *)evict);
}

int main(int argc, char **argv) {
    const int flush = argc > 1 && strcmp(argv[1], "flush") == 0;
    printf("level %d, %s\n", (int)moe_isa_best(), flush ? "8 MiB walked before each call" : "cache warm");
    const int shapes[][2] = {{3, 3}, {4, 4}, {2, 7}}, lengths[] = {80, 256, 1024};
    for (int s = 0; s < 3; s++)
        for (int l = 0; l < 3; l++) run(shapes[s][0], shapes[s][1], lengths[l], flush);
    return 0;
}
