// The buffer of merged sixteen-row panels (kpanel16_vnni.h): one pair of
// groups' panels across a row's blocks, then the call's activation records
// (ck_panel16_prepare: each block's 256 values, 32-value sums and scale,
// 276 bytes per row and block), in the thread's working buffer
// (thread_scratch.c; at 8960 columns and 512 rows 290 KiB + 4.9 MiB).
#include "ck_internal.h"
#include "kpanel16_vnni.h"

ck_kpanel16 *ck_panel16_panels(int64_t nb, int64_t m, size_t prep_bytes) {
    return ck_thread_scratch(sizeof(ck_kpanel16) * (size_t)nb + prep_bytes * (size_t)nb * (size_t)m);
}
