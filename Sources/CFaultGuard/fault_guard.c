#define _GNU_SOURCE
#include "fault_guard.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

// The last faults' addresses, for a load to tell whether a fault during it
// was in its own file. Slot n % size holds fault n; `sequence` is n + 1
// once `address` is written.
enum { record_size = 1024 };
static struct {
    _Atomic uintptr_t address;
    _Atomic uint64_t sequence;
} record[record_size];

// Watched ranges, each with its own count: a truncated file can fault on
// thousands of pages in one step, and another tier must still be able to
// tell that none of them were in its file. `state`: 0 free, 1 being set
// up, 2 watched.
enum { watch_slots = 256 };
static struct {
    _Atomic int state;
    _Atomic uintptr_t start, end;
    _Atomic uint64_t count;
} watched[watch_slots];

static _Atomic uint64_t fault_count;
static struct sigaction previous;
// Read in the handler, where sysconf is not async-signal-safe.
static uintptr_t page_size;
static atomic_flag installed = ATOMIC_FLAG_INIT;

static void count_fault(uintptr_t address) {
    uint64_t n = atomic_fetch_add(&fault_count, 1);
    atomic_store(&record[n % record_size].address, address);
    atomic_store_explicit(&record[n % record_size].sequence, n + 1, memory_order_release);
    for (int slot = 0; slot < watch_slots; slot++) {
        if (atomic_load_explicit(&watched[slot].state, memory_order_acquire) == 2
            && atomic_load(&watched[slot].start) <= address && address < atomic_load(&watched[slot].end)) {
            atomic_fetch_add(&watched[slot].count, 1);
        }
    }
}

static void on_sigbus(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    // BUS_ADRERR: a mapped file has no bytes behind this page any more.
    if (info->si_code == BUS_ADRERR && info->si_addr != NULL) {
        uintptr_t page = (uintptr_t)info->si_addr & ~(page_size - 1);
        // PROT_READ: model weights are only read; a write to such a page
        // faults again as SIGSEGV and ends the process as before.
        void *zeros = mmap((void *)page, page_size, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (zeros != MAP_FAILED) {
            count_fault((uintptr_t)info->si_addr);
            return;  // the faulting read runs again, on the zero page
        }
    }
    // Not a fault we can contain: give it to whoever handled SIGBUS before
    // (the default action, or the Swift runtime's backtracer). A fault
    // raised by the hardware repeats when we return; one sent by kill is
    // sent again (it stays blocked until this handler returns).
    sigaction(signal_number, &previous, NULL);
    if (info->si_code <= 0) raise(signal_number);
}

int moe_fault_guard_install(void) {
    if (atomic_flag_test_and_set(&installed)) return 0;
    long size = sysconf(_SC_PAGESIZE);
    page_size = size > 0 ? (uintptr_t)size : 4096;
    struct sigaction action = {0};
    action.sa_sigaction = on_sigbus;
    // SA_ONSTACK: use a thread's alternate stack where one exists.
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous) != 0) {
        int error = errno;
        atomic_flag_clear(&installed);
        return -error;
    }
    return 0;
}

uint64_t moe_fault_guard_count(void) {
    return atomic_load(&fault_count);
}

int moe_fault_guard_address(uint64_t n, uintptr_t *address) {
    uint64_t sequence = atomic_load_explicit(&record[n % record_size].sequence, memory_order_acquire);
    if (sequence == n + 1) {
        *address = atomic_load(&record[n % record_size].address);
        // Overwritten by fault n + record_size between the two loads?
        return atomic_load(&record[n % record_size].sequence) == n + 1 ? 1 : -1;
    }
    return sequence < n + 1 ? 0 : -1;
}

int moe_fault_guard_watch(uintptr_t start, uintptr_t end) {
    for (int slot = 0; slot < watch_slots; slot++) {
        int free_state = 0;
        if (!atomic_compare_exchange_strong(&watched[slot].state, &free_state, 1)) continue;
        atomic_store(&watched[slot].start, start);
        atomic_store(&watched[slot].end, end);
        atomic_store(&watched[slot].count, 0);
        atomic_store_explicit(&watched[slot].state, 2, memory_order_release);
        return slot;
    }
    return -1;
}

uint64_t moe_fault_guard_count_in(int slot) {
    if (slot < 0 || slot >= watch_slots) return 0;
    return atomic_load(&watched[slot].count);
}

void moe_fault_guard_unwatch(int slot) {
    if (slot < 0 || slot >= watch_slots) return;
    atomic_store(&watched[slot].state, 0);
}
