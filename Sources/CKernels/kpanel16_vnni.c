// The buffer of merged sixteen-row panels (kpanel16_vnni.h): one pair of
// groups' panels across a row's blocks, then the activation rows' 32-value
// sums (16 bytes per row and block), in the thread's working buffer
// (thread_scratch.c; at 8192 columns and 256 rows 266 + 128 KiB).
#include "ck_internal.h"
#include "kpanel16_vnni.h"

ck_kpanel16 *ck_panel16_panels(int64_t nb, int64_t m) {
    return ck_thread_scratch(sizeof(ck_kpanel16) * (size_t)nb + 16 * (size_t)nb * (size_t)m);
}
