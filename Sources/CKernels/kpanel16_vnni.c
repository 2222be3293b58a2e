// The buffer of merged sixteen-row panels (kpanel16_vnni.h): one pair of
// groups' panels across a row's blocks, in the thread's working buffer
// (thread_scratch.c; at 8192 columns 266 KiB).
#include "ck_internal.h"
#include "kpanel16_vnni.h"

ck_kpanel16 *ck_panel16_panels(int64_t nb) { return ck_thread_scratch(sizeof(ck_kpanel16) * (size_t)nb); }
