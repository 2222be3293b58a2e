#ifndef MOE_FAULT_GUARD_H
#define MOE_FAULT_GUARD_H

#include <stdint.h>

// Contains SIGBUS faults from reading a memory-mapped file past its end
// (someone truncated a model file a tier has mapped): the faulting page is
// replaced by an anonymous zero page, the fault is counted, and the reading
// code goes on, on zeros, instead of the process dying. Whoever read the
// bytes checks the counters after its work and throws the result away.

// Installs the process-wide handler once; later calls do nothing.
// Returns 0, or -errno if sigaction failed.
int moe_fault_guard_install(void);

// Faults contained since the process started, anywhere.
uint64_t moe_fault_guard_count(void);

// The address of fault number `n` (0-based, < count) in `*address`:
// returns 1 if known, 0 if its handler has not recorded it yet (a fault
// still being handled on another thread), -1 if it fell out of the record
// (more than 1024 faults since).
int moe_fault_guard_address(uint64_t n, uintptr_t *address);

// Counts the faults inside [start, end) from now on, apart from all others
// (a tier's own mapping). Returns a slot, or -1 if all 256 are taken.
int moe_fault_guard_watch(uintptr_t start, uintptr_t end);

// Faults counted in `slot` since it was watched.
uint64_t moe_fault_guard_count_in(int slot);

// Frees `slot` for another range.
void moe_fault_guard_unwatch(int slot);

#endif
