// The per-thread buffer of merged sixteen-row panels (kpanel16_vnni.h):
// one pair of groups' panels across a row's blocks, grown as needed and
// kept for the thread's later calls (a fresh buffer per call would fault
// in its pages every time; at 8192 columns it is 266 KiB a thread).
#include "kpanel16_vnni.h"
#include <stdlib.h>

static _Thread_local ck_kpanel16 *ck_panel16_buffer;
static _Thread_local int64_t ck_panel16_capacity;

ck_kpanel16 *ck_panel16_panels(int64_t nb) {
    if (nb > ck_panel16_capacity) {
        free(ck_panel16_buffer);
        ck_panel16_buffer = aligned_alloc(64, sizeof(ck_kpanel16) * (size_t)nb);
        ck_panel16_capacity = ck_panel16_buffer ? nb : 0;
    }
    return ck_panel16_buffer;
}
