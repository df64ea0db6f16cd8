/* mapguard.c — SIGBUS on a truncated model file becomes a message. See mapguard.h. */
#include "mapguard.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct mapguard_range {
    _Atomic(const void *) owner; /* the nt_model, or NULL for a free slot */
    uintptr_t lo, hi;            /* [lo, hi): whole pages */
    atomic_bool tripped;
} mapguard_range;

static mapguard_range mg_ranges[MAPGUARD_MAX];
static struct sigaction mg_prev; /* the handler faults outside the ranges go to */
static atomic_bool mg_have_prev;

static void mapguard_on_bus(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; i < MAPGUARD_MAX; i++) {
        mapguard_range *r = &mg_ranges[i];
        if (!atomic_load(&r->owner) || a < r->lo || a >= r->hi) continue;
        /* Zero pages over the whole file's range: every later read succeeds, the faulting
         * instruction runs again on a zero. */
        if (mmap((void *)r->lo, r->hi - r->lo, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS,
                 -1, 0) != MAP_FAILED) {
            atomic_store(&r->tripped, true);
            return;
        }
        break;
    }
    /* Not ours (or the remap failed): the previous disposition, as if we were not here. */
    if (atomic_load(&mg_have_prev) && (mg_prev.sa_flags & SA_SIGINFO) && mg_prev.sa_sigaction) {
        mg_prev.sa_sigaction(sig, si, uc);
        return;
    }
    if (atomic_load(&mg_have_prev) && mg_prev.sa_handler != SIG_DFL &&
        mg_prev.sa_handler != SIG_IGN) {
        mg_prev.sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void mapguard_install(void)
{
    struct sigaction sa, cur;
    if (sigaction(SIGBUS, NULL, &cur) != 0) return;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == mapguard_on_bus) return;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = mapguard_on_bus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER; /* several threads may fault at once */
    mg_prev = cur;
    atomic_store(&mg_have_prev, true);
    sigaction(SIGBUS, &sa, NULL);
}

bool mapguard_watch(const nt_model *m)
{
    mapguard_install();
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const void *base;
    size_t size;
    bool ok = true;
    for (int p = 0; nt_model_mapping(m, p, &base, &size); p++) {
        int i = 0;
        while (i < MAPGUARD_MAX && atomic_load(&mg_ranges[i].owner)) i++;
        if (i == MAPGUARD_MAX) {
            ok = false;
            break;
        }
        mapguard_range *r = &mg_ranges[i];
        r->lo = (uintptr_t)base;
        r->hi = ((uintptr_t)base + size + page - 1) / page * page;
        atomic_store(&r->tripped, false);
        atomic_store(&r->owner, (const void *)m); /* last: the handler sees a whole entry */
    }
    return ok;
}

void mapguard_unwatch(const nt_model *m)
{
    for (int i = 0; i < MAPGUARD_MAX; i++)
        if (atomic_load(&mg_ranges[i].owner) == (const void *)m)
            atomic_store(&mg_ranges[i].owner, NULL);
}

bool mapguard_tripped(const nt_model *m)
{
    for (int i = 0; i < MAPGUARD_MAX; i++)
        if (atomic_load(&mg_ranges[i].owner) == (const void *)m && atomic_load(&mg_ranges[i].tripped))
            return true;
    return false;
}
