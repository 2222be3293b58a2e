// Microbenchmark: what each instruction of the K-quant prompt panel
// (kpanel16_vnni.h) costs beside its 512-bit vpdpbusd, one thread. Eight
// independent vpdpbusd chains (the panel's eight activation rows) run alone
// and then with, per eight, one extra instruction of each kind the panel
// issues per sub-block or block: vpmulld (the sub-block scales), vpdpwssd
// (the mins), vpaddd, vcvtdq2ps, zeroing idioms and the float epilogue's
// vmulps and vfmadd231ps, and prompt attention's F16 widening (vcvtph2ps). Prints ns per eight
// vpdpbusd, best of fifteen rounds; an instruction that shares the vpdpbusd pipes adds
// one vpdpbusd's time (~0.28 ns at 3.56 GHz), one that does not adds none.
//
//   clang -O2 bench/vnni_mix_bench.c -o /tmp/vnni_mix_bench && /tmp/vnni_mix_bench
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

enum { EIGHTS = 12500000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define DPBUSD8                                                                                          \
    __asm__ volatile("vpdpbusd %[w],%[y],%[a0]\n vpdpbusd %[w],%[y],%[a1]\n vpdpbusd %[w],%[y],%[a2]\n"   \
                     "vpdpbusd %[w],%[y],%[a3]\n vpdpbusd %[w],%[y],%[a4]\n vpdpbusd %[w],%[y],%[a5]\n"   \
                     "vpdpbusd %[w],%[y],%[a6]\n vpdpbusd %[w],%[y],%[a7]\n"                              \
                     : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4),       \
                       [a5] "+v"(a5), [a6] "+v"(a6), [a7] "+v"(a7)                                        \
                     : [w] "v"(w), [y] "v"(y))

static const char *const names[] = {"vpdpbusd alone", "+ vpmulld", "+ vpdpwssd", "+ vpaddd ×2",
                                    "+ vcvtdq2ps ×2", "+ zeroing ×4", "+ vmulps",
                                    "+ vfmadd231ps", "+ vcvtph2ps"};
enum { MODES = 9 };

__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static double run(int mode) {
    __m512i a0 = _mm512_set1_epi32(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512i m0 = a0, m1 = a0;
    const __m512i w = _mm512_set1_epi32(3), y = _mm512_set1_epi32(5);
    const double t0 = now();
    for (long i = 0; i < EIGHTS; i++) {
        DPBUSD8;
        if (mode == 1) __asm__ volatile("vpmulld %[w],%[y],%[m]" : [m] "=v"(m0) : [w] "v"(w), [y] "v"(y));
        if (mode == 2) __asm__ volatile("vpdpwssd %[w],%[y],%[m]" : [m] "+v"(m0) : [w] "v"(w), [y] "v"(y));
        if (mode == 3) __asm__ volatile("vpaddd %[w],%[m0],%[m0]\n vpaddd %[w],%[m1],%[m1]" : [m0] "+v"(m0), [m1] "+v"(m1) : [w] "v"(w));
        if (mode == 4) __asm__ volatile("vcvtdq2ps %[w],%[m0]\n vcvtdq2ps %[y],%[m1]" : [m0] "=v"(m0), [m1] "=v"(m1) : [w] "v"(w), [y] "v"(y));
        if (mode == 5)
            __asm__ volatile("vpxord %%xmm20,%%xmm20,%%xmm20\n vpxord %%xmm21,%%xmm21,%%xmm21\n"
                             "vpxord %%xmm22,%%xmm22,%%xmm22\n vpxord %%xmm23,%%xmm23,%%xmm23" ::: "xmm20", "xmm21", "xmm22", "xmm23");
        if (mode == 6) __asm__ volatile("vmulps %[w],%[y],%[m]" : [m] "=v"(m0) : [w] "v"(w), [y] "v"(y));
        if (mode == 7) __asm__ volatile("vfmadd231ps %[w],%[y],%[m]" : [m] "+v"(m0) : [w] "v"(w), [y] "v"(y));
        if (mode == 8) __asm__ volatile("vcvtph2ps %t[w],%[m]" : [m] "=v"(m0) : [w] "v"(w));
    }
    const double t = now() - t0;
    volatile __m512i keep = _mm512_add_epi32(_mm512_add_epi32(a0, a7), _mm512_add_epi32(m0, m1));
    (void)keep;
    return t / EIGHTS * 1e9;
}

int main(void) {
    if (!__builtin_cpu_supports("avx512vnni")) {
        puts("skipped: no AVX-512 VNNI here");
        return 0;
    }
    double best[MODES];
    for (int mode = 0; mode < MODES; mode++) best[mode] = 1e9;
    for (int r = 0; r < 15; r++)  // modes interleaved: a loaded machine's slow moments hit them all
        for (int mode = 0; mode < MODES; mode++) {
            const double t = run(mode);
            if (t < best[mode]) best[mode] = t;
        }
    for (int mode = 0; mode < MODES; mode++) printf("%-16s %.3f ns per eight vpdpbusd\n", names[mode], best[mode]);
    return 0;
}
