// The buffer of merged sixteen-row panels (kpanel16_vnni.h): one pair of
// groups' panels across a row's blocks, then the activation rows' prepared
// values (Q4_K/Q5_K: 32-value sums, 16 bytes per row and block; Q6_K: the
// values as unsigned bytes, 256), in the thread's working buffer
// (thread_scratch.c; at 8192 columns and 512 rows 266 KiB + 256 KiB or 4 MiB).
#include "ck_internal.h"
#include "kpanel16_vnni.h"

ck_kpanel16 *ck_panel16_panels(int64_t nb, int64_t m, size_t prep_bytes) {
    return ck_thread_scratch(sizeof(ck_kpanel16) * (size_t)nb + prep_bytes * (size_t)nb * (size_t)m);
}
