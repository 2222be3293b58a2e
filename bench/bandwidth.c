// Read-bandwidth probe for bench/run.sh: sums a 1 GiB buffer with 1 and
// with 2 threads (each thread its own half) and prints the best of several
// passes as JSON, in GB/s (1e9 bytes). Decode reads every weight once per
// token, so this is the bound decode speed is compared with.
//
//   cc -O2 -mavx2 -pthread bench/bandwidth.c -o bandwidth && ./bandwidth [MiB]
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { const __m256i *p; size_t n; long long sum; } part;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Four independent accumulators so the loads, not the adds, set the pace.
static void *sum_part(void *arg) {
    part *w = arg;
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 4 <= w->n; i += 4) {
        a = _mm256_add_epi64(a, _mm256_load_si256(w->p + i));
        b = _mm256_add_epi64(b, _mm256_load_si256(w->p + i + 1));
        c = _mm256_add_epi64(c, _mm256_load_si256(w->p + i + 2));
        d = _mm256_add_epi64(d, _mm256_load_si256(w->p + i + 3));
    }
    long long lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
    w->sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    return NULL;
}

static double best_gbps(const __m256i *buf, size_t vectors, int threads, int passes) {
    double best = 0;
    for (int pass = 0; pass < passes; pass++) {
        part parts[2];
        pthread_t ids[2];
        const size_t each = vectors / (size_t)threads;
        const double start = now();
        for (int t = 0; t < threads; t++) {
            parts[t] = (part){buf + (size_t)t * each, each, 0};
            if (t > 0) pthread_create(&ids[t], NULL, sum_part, &parts[t]);
        }
        sum_part(&parts[0]);
        for (int t = 1; t < threads; t++) pthread_join(ids[t], NULL);
        const double seconds = now() - start;
        const double gbps = (double)(each * (size_t)threads * 32) / seconds / 1e9;
        if (gbps > best) best = gbps;
        if (parts[0].sum == 42) fprintf(stderr, " ");  // keep the sum alive
    }
    return best;
}

int main(int argc, char **argv) {
    const size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024;
    const size_t bytes = mib << 20;
    __m256i *buf = aligned_alloc(64, bytes);
    if (buf == NULL) { fprintf(stderr, "cannot allocate %zu MiB\n", mib); return 1; }
    memset(buf, 1, bytes);  // fault every page in before timing
    const size_t vectors = bytes / 32;
    const double one = best_gbps(buf, vectors, 1, 5);
    const double two = best_gbps(buf, vectors, 2, 5);
    printf("{\"buffer_mib\": %zu, \"gbps_1_thread\": %.2f, \"gbps_2_threads\": %.2f}\n", mib, one, two);
    free(buf);
    return 0;
}
