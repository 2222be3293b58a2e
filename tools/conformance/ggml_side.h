// What the C comparisons against ggml share: a seeded xorshift for random
// blocks, random half-precision scales, timing, and ggml's CPU library
// opened at run time from the llama-cpp-python wheel (nothing of ggml is
// compiled in). Header-only: each tool is one translation unit.
#ifndef MOE_CONFORMANCE_GGML_SIDE_H
#define MOE_CONFORMANCE_GGML_SIDE_H
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng_state = 0x1234567;
static uint32_t next_random(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

// Random half in roughly ±[2^-10, 2^-3], sometimes subnormal or zero.
static uint16_t random_half(void) {
    uint32_t r = next_random();
    uint32_t exponent = (r % 16 == 0) ? 0 : 5 + r % 8;
    return (uint16_t)(((r >> 8) & 1) << 15 | exponent << 10 | ((r >> 12) & 0x3ff));
}

static void *load_symbol(void *lib, const char *name) {
    void *sym = dlsym(lib, name);
    if (!sym) { fprintf(stderr, "missing symbol %s\n", name); exit(1); }
    return sym;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Opens libggml-base.so (quantizers, dequantizers) and libggml-cpu.so
// (dots) from `libdir` and initialises ggml-cpu (it converts f16 scales
// through a table ggml_cpu_init fills). Returns 0, or 1 after printing why.
static int open_ggml(const char *libdir, void **base, void **cpu) {
    char path[4096];
    snprintf(path, sizeof path, "%s/libggml-base.so", libdir);
    *base = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    snprintf(path, sizeof path, "%s/libggml-cpu.so", libdir);
    *cpu = *base ? dlopen(path, RTLD_NOW | RTLD_GLOBAL) : NULL;
    if (!*cpu) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    ((void (*)(void))load_symbol(*cpu, "ggml_cpu_init"))();
    return 0;
}
#endif
