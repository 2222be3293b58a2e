#ifndef MOE_FAULT_GUARD_H
#define MOE_FAULT_GUARD_H

#include <stdint.h>

// Contains SIGBUS faults from reading a memory-mapped file past its end
// (someone truncated a model file a tier has mapped): the faulting page is
// replaced by an anonymous zero page, the fault is counted, and the reading
// code goes on, on zeros, instead of the process dying. Whoever read the
// bytes checks the counter after its work and throws the result away.

// Installs the process-wide handler once; later calls do nothing.
// Returns 0, or -errno if sigaction failed.
int moe_fault_guard_install(void);

// Faults contained since the process started.
uint64_t moe_fault_guard_count(void);

// The address of fault number `n` (0-based, < count) in `*address`:
// returns 1 if known, 0 if its handler has not recorded it yet (a fault
// still being handled on another thread), -1 if it fell out of the record
// (too many faults since).
int moe_fault_guard_address(uint64_t n, uintptr_t *address);

#endif
