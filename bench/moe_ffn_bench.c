// Microbenchmark: the feed-forward products of a decode step of the
// 64-expert top-8 Q4_K_M file (bench/models.sh: embedding 1024, expert
// width 512, 16 layers) against its dense twin (width 4096 = 8 × 512), the
// kernels alone, one thread, from memory, at the avx2 level with Q4_K and
// Q6_K in the x8 layout (-DQ6_GGML: Q6_K in ggml's, decoded by the one-row
// dots; -DVNNI: the avx512vnni products). Each matrix has its own anonymous
// mapping, as the repacked copies do (InterleavedWeights.swift); a layer's
// eight experts are drawn at random per step. The MoE's products are cut
// into the expert pass's items of about 64 KiB (ExpertPlan.appendItems)
// and called item by item, as `expertProducts` does at one thread.
//
// Prints the median GB/s (bytes read ÷ the thread's CPU time) of the
// gate/up and down products and of the whole step, dense and MoE
// alternating in runs of 16 steps, and the ratio MoE ÷ dense. Variants 1–3
// fetch the next matrix's first 8 / 24 / 64 KiB into L2 during the current
// one's items; `cache` times each shape in cache instead.
//
//   clang -O2 -fno-math-errno -ISources/CKernels/include Sources/CKernels/*.c \
//         bench/moe_ffn_bench.c -o /tmp/moe_ffn_bench -lm && /tmp/moe_ffn_bench [VARIANTS] [cache]
#include "ckernels.h"
#include "kquants.h"
#include "repack_q4_K.h"
#include "repack_q6_K.h"
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { LAYERS = 16, EXPERTS = 64, USED = 8, D = 1024, F = 512, QK = 256, RUN = 16, RUNS = 15 };
enum { Q4 = 144, Q6 = 210, ACT = 292 };  // bytes per 256 values (q8_K activation: 292)

#if defined(VNNI)
#define Q6_X8 1
#define GEMM_Q4 moe_gemm_q4_Kx8_q8_K_vnni
#define GEMM_Q6 moe_gemm_q6_Kx8_q8_K_vnni
#elif defined(Q6_GGML)
#define Q6_X8 0
#define GEMM_Q4 moe_gemm_q4_Kx8_q8_K_avx2
#else
#define Q6_X8 1
#define GEMM_Q4 moe_gemm_q4_Kx8_q8_K_avx2
#define GEMM_Q6 moe_gemm_q6_Kx8_q8_K_avx2
#endif

// The thread's CPU time: the machine is shared, and wall time counts the others' turns.
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

// Q4_K_M's rule for ffn_down (llama.cpp's use_more_bits): Q6_K on the first
// and last eighth of the layers and every third one between.
static int down_is_q6(int l) { return l < LAYERS / 8 || l >= 7 * LAYERS / 8 || (l - LAYERS / 8) % 3 == 2; }

typedef struct { void *w; int rows, n, q6; size_t bytes; } matrix;

// Random weights with sane scales (the d fields set): Q4_K in the x8
// layout, Q6_K too unless Q6_GGML (then ggml's, d last).
static matrix make(int rows, int n, int q6) {
    matrix m = {0, rows, n, q6, (size_t)rows * (n / QK) * (q6 ? Q6 : Q4)};
    m.w = mmap(NULL, m.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m.w == MAP_FAILED) { perror("mmap"); exit(1); }
    uint64_t *p = m.w;
    for (size_t i = 0; i < m.bytes / 8; i++) p[i] = next();
    const uint16_t d = moe_fp32_to_fp16(0.001f);
    if (q6 && !Q6_X8) {
        for (size_t o = 0; o < m.bytes; o += Q6) memcpy((uint8_t *)m.w + o + 208, &d, 2);
        return m;
    }
    const size_t block = q6 ? sizeof(moe_block_q6_Kx8) : sizeof(moe_block_q4_Kx8);
    for (size_t o = 0; o < m.bytes; o += block)
        for (int r = 0; r < (q6 ? 8 : 16); r++) memcpy((uint8_t *)m.w + o + 2 * r, &d, 2);
    return m;
}

// Rows `first..<first+rows` of m against one activation row.
static void product(const matrix *m, int first, int rows, const void *act, float *out) {
    const size_t row_bytes = m->bytes / m->rows;
    const uint8_t *w = (const uint8_t *)m->w + (size_t)first * row_bytes;
#if Q6_X8
    if (m->q6) { GEMM_Q6(w, rows, act, 0, 1, out + first, 0, m->n); return; }
#else
    if (m->q6) { moe_dot_rows_q6_K_avx2(w, row_bytes, rows, act, out + first, m->n); return; }
#endif
    GEMM_Q4(w, rows, act, 0, 1, out + first, 0, m->n);
}

// The expert pass's items: about 64 KiB of whole groups of eight rows (of
// four rows in ggml's layout). With `ahead` bytes, each item first fetches
// its share of the next matrix's first `ahead` bytes into L2.
static void itemised(const matrix *m, const void *act, float *out, const matrix *next_m, size_t ahead) {
    const int row_bytes = (int)(m->bytes / m->rows), group = m->q6 && !Q6_X8 ? 4 : 8;
    int tile = 65536 / row_bytes / group * group;
    if (tile < group) tile = group;
    const int items = (m->rows + tile - 1) / tile;
    const size_t share = next_m && ahead ? (ahead / items + 63) / 64 * 64 : 0;
    for (int r = 0, i = 0; r < m->rows; r += tile, i++) {
        for (size_t o = share * i; o < share * (i + 1) && o < next_m->bytes; o += 64)
            _mm_prefetch((const char *)next_m->w + o, _MM_HINT_T1);
        product(m, r, r + tile <= m->rows ? tile : m->rows - r, act, out);
    }
}

static matrix dense[LAYERS][3], moe[LAYERS][EXPERTS][3];
static uint8_t act_d[D / QK * ACT], act_f[USED][F / QK * ACT], act_h[4096 / QK * ACT];
static float out[USED][4096];
// Time and bytes of the gate/up products and of the down products, per step.
static double part_time[2], part_bytes[2];

static double dense_step(void) {
    double bytes = 0;
    part_time[0] = part_time[1] = part_bytes[0] = part_bytes[1] = 0;
    for (int l = 0; l < LAYERS; l++) {
        const double t0 = now();
        product(&dense[l][0], 0, 4096, act_d, out[0]);
        product(&dense[l][1], 0, 4096, act_d, out[1]);
        const double t1 = now();
        product(&dense[l][2], 0, D, act_h, out[2]);
        part_time[0] += t1 - t0;
        part_time[1] += now() - t1;
        part_bytes[0] += dense[l][0].bytes + dense[l][1].bytes;
        part_bytes[1] += dense[l][2].bytes;
        bytes += dense[l][0].bytes + dense[l][1].bytes + dense[l][2].bytes;
    }
    return bytes;
}

static double moe_step(int variant) {
    const size_t ahead = variant == 0 ? 0 : variant == 1 ? 8192 : variant == 2 ? 24576 : 65536;
    double bytes = 0;
    part_time[0] = part_time[1] = part_bytes[0] = part_bytes[1] = 0;
    for (int l = 0; l < LAYERS; l++) {
        int chosen[USED], n = 0;
        while (n < USED) {
            const int e = (int)(next() % EXPERTS);
            int seen = 0;
            for (int i = 0; i < n; i++) seen |= chosen[i] == e;
            if (!seen) chosen[n++] = e;
        }
        const double t0 = now();
        for (int i = 0; i < USED; i++) {
            matrix *x = moe[l][chosen[i]];
            itemised(&x[0], act_d, out[i], &x[1], ahead);
            itemised(&x[1], act_d, out[i] + F, i + 1 < USED ? &moe[l][chosen[i + 1]][0] : &moe[l][chosen[0]][2], ahead);
            bytes += x[0].bytes + x[1].bytes;
            part_bytes[0] += x[0].bytes + x[1].bytes;
        }
        const double t1 = now();
        for (int i = 0; i < USED; i++) {
            matrix *x = moe[l][chosen[i]];
            itemised(&x[2], act_f[i], out[i], i + 1 < USED ? &moe[l][chosen[i + 1]][2] : NULL, ahead);
            bytes += x[2].bytes;
            part_bytes[1] += x[2].bytes;
        }
        part_time[0] += t1 - t0;
        part_time[1] += now() - t1;
    }
    return bytes;
}

// ns per 256-value block-row of each shape, one matrix repeated in cache.
static void in_cache(void) {
    const matrix *ms[4] = {&moe[0][0][0], &dense[0][0], &moe[0][0][2], &dense[0][2]};
    const char *names[4] = {"q4_K 512x1024", "q4_K 4096x1024", "q6_K 1024x512", "q6_K 1024x4096"};
    for (int k = 0; k < 4; k++) {
        const void *a = ms[k]->n == D ? (const void *)act_d : ms[k]->n == F ? (const void *)act_f[0] : (const void *)act_h;
        const int reps = ms[k]->bytes > 1000000 ? 20 : 200;
        double best = 1e9;
        for (int t = 0; t < 15; t++) {
            const double t0 = now();
            for (int r = 0; r < reps; r++) product(ms[k], 0, ms[k]->rows, a, out[0]);
            const double dt = (now() - t0) / reps;
            if (dt < best) best = dt;
        }
        printf("%s: %.2f ns per block-row, %.1f GB/s (best of 15)\n", names[k],
               best * 1e9 / ((double)ms[k]->rows * ms[k]->n / QK), ms[k]->bytes / best / 1e9);
    }
}

int main(int argc, char **argv) {
    int variants = argc > 1 ? atoi(argv[1]) : 1;
    if (variants < 1) variants = 1;
    if (variants > 4) variants = 4;
    for (int l = 0; l < LAYERS; l++) {
        dense[l][0] = make(4096, D, 0);
        dense[l][1] = make(4096, D, 0);
        dense[l][2] = make(D, 4096, down_is_q6(l));
        for (int e = 0; e < EXPERTS; e++) {
            moe[l][e][0] = make(F, D, 0);
            moe[l][e][1] = make(F, D, 0);
            moe[l][e][2] = make(D, F, down_is_q6(l));
#ifdef JOINED
            // gate and up in one mapping, up right after gate: one stream
            matrix both = make(2 * F, D, 0);
            munmap(moe[l][e][0].w, moe[l][e][0].bytes);
            munmap(moe[l][e][1].w, moe[l][e][1].bytes);
            moe[l][e][0].w = both.w;
            moe[l][e][1].w = (uint8_t *)both.w + both.bytes / 2;
#endif
        }
    }
    static float x[4096];
    for (int i = 0; i < 4096; i++) x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
    moe_quantize_q8_K(x, act_d, D);
    moe_quantize_q8_K(x, act_h, 4096);
    for (int i = 0; i < USED; i++) moe_quantize_q8_K(x + 512 * (i % 8), act_f[i], F);
    if (argc > 2) { in_cache(); return 0; }
    static double gbps[5][RUNS * RUN], parts[5][2][RUNS * RUN];
    for (int run = 0; run < RUNS; run++)
        for (int v = 0; v <= variants; v++) {
            const int which = (v + run) % (variants + 1);  // 0 dense, then the MoE variants
            for (int s = 0; s < RUN; s++) {
                const double t0 = now();
                const double bytes = which == 0 ? dense_step() : moe_step(which - 1);
                gbps[which][run * RUN + s] = bytes / (now() - t0) / 1e9;
                for (int p = 0; p < 2; p++) parts[which][p][run * RUN + s] = part_bytes[p] / part_time[p] / 1e9;
            }
        }
    const int mid = RUNS * RUN / 2;
    for (int v = 0; v <= variants; v++) {
        qsort(gbps[v], RUNS * RUN, sizeof(double), cmp);
        for (int p = 0; p < 2; p++) qsort(parts[v][p], RUNS * RUN, sizeof(double), cmp);
        if (v == 0) printf("dense:");
        else printf("moe variant %d:", v - 1);
        printf(" step %.2f GB/s (gate/up %.2f, down %.2f)", gbps[v][mid], parts[v][0][mid], parts[v][1][mid]);
        if (v > 0) printf("  ×dense %.3f", gbps[v][mid] / gbps[0][mid]);
        printf("\n");
    }
    return 0;
}
