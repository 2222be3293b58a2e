// One working buffer per thread for kernels that unpack or prepare more
// than fits their stack (the K-quant sixteen-row panels, kpanel16_vnni.h;
// the Q5_0 x8 prompt path's activation preparation, repack_q5_0_vnni.c).
// Grown as needed and kept for the thread's later calls: a fresh buffer per
// call would fault its pages in every time. A call uses it for its own
// duration only and never calls another user of it, so one buffer serves
// them all.
#include "ck_internal.h"
#include <stdlib.h>

static _Thread_local void *ck_scratch_buffer;
static _Thread_local size_t ck_scratch_capacity;

void *ck_thread_scratch(size_t bytes) {
    if (bytes > ck_scratch_capacity) {
        free(ck_scratch_buffer);
        ck_scratch_buffer = aligned_alloc(64, (bytes + 63) / 64 * 64);
        ck_scratch_capacity = ck_scratch_buffer ? bytes : 0;
    }
    return ck_scratch_buffer;
}
