// Reads K-quant blocks from stdin and writes the dequantized float32 values
// to stdout, using moed's C kernels. Driven by kquants_vs_gguf.py.
// Usage: kquants_dequant_cli <q2_K|q3_K|q4_K|q5_K|q6_K|iq4_nl|iq4_xs>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kquants.h"
#include "kquants2.h"

typedef void (*dequant_fn)(const void *, float *, int64_t);

int main(int argc, char **argv) {
    static const struct { const char *name; size_t bytes; dequant_fn fn; int64_t values; } types[] = {
        {"q2_K", sizeof(moe_block_q2_K), moe_dequant_q2_K, MOE_QK_K},
        {"q3_K", sizeof(moe_block_q3_K), moe_dequant_q3_K, MOE_QK_K},
        {"q4_K", sizeof(moe_block_q4_K), moe_dequant_q4_K, MOE_QK_K},
        {"q5_K", sizeof(moe_block_q5_K), moe_dequant_q5_K, MOE_QK_K},
        {"q6_K", sizeof(moe_block_q6_K), moe_dequant_q6_K, MOE_QK_K},
        {"iq4_nl", sizeof(moe_block_iq4_nl), moe_dequant_iq4_nl, MOE_QK4_NL},
        {"iq4_xs", sizeof(moe_block_iq4_xs), moe_dequant_iq4_xs, MOE_QK_K},
    };
    if (argc != 2) { fprintf(stderr, "usage: %s TYPE\n", argv[0]); return 2; }
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (strcmp(argv[1], types[t].name) != 0) continue;
        size_t cap = 1 << 20, len = 0, got;
        unsigned char *buf = malloc(cap);
        while (buf && (got = fread(buf + len, 1, cap - len, stdin)) > 0) {
            len += got;
            if (len == cap) buf = realloc(buf, cap *= 2);
        }
        if (!buf || len % types[t].bytes != 0) { fprintf(stderr, "bad input length\n"); return 1; }
        int64_t n = (int64_t)(len / types[t].bytes) * types[t].values;
        float *out = malloc((size_t)n * sizeof(float));
        if (!out) return 1;
        types[t].fn(buf, out, n);
        fwrite(out, sizeof(float), (size_t)n, stdout);
        return 0;
    }
    fprintf(stderr, "unknown type %s\n", argv[1]);
    return 2;
}
