/* mapguard.h — survives a model file that is truncated on disk while natter runs.
 *
 * The engine reads the weights through read-only file mappings (nt_model_mapping). When the
 * file shrinks under them (a download resumed over it, a copy to the same path), reading a
 * page past the new end raises SIGBUS, which kills the process. The guard watches the
 * mappings: its SIGBUS handler, for a fault inside one, maps anonymous zero pages over the
 * whole range (the same addresses stay valid, so the computation that faulted finishes on
 * zeros), marks the model as changed and returns. The worker asks mapguard_tripped after each
 * step and ends the answer with "the model file changed on disk", keeping the conversation
 * and offering to reload; the engine never learns of it and never prints or exits. A fault
 * anywhere else is a real crash: the handler that was there before (the terminal's: restore,
 * then die of the signal) takes it.
 *
 * Async-signal-safety: the handler reads a fixed table and calls only mmap, sigaction and
 * raise; the table is filled before a model runs and emptied after it stopped. */
#ifndef NATTER_MAPGUARD_H
#define NATTER_MAPGUARD_H

#include "natter.h"

#include <stdbool.h>

#define MAPGUARD_MAX 64 /* mappings watched at once (a split model has one per file) */

/* Installs the SIGBUS handler, keeping the one there now as the fallback for faults outside
 * the watched ranges. Idempotent; call again after something else installed its own handler
 * (term_init does) so the guard stays first. */
void mapguard_install(void);
/* Watches m's mappings (installs the handler when needed). false when the table is full
 * (the model then runs unguarded, as before). */
bool mapguard_watch(const nt_model *m);
/* Stops watching m; call before nt_model_free. */
void mapguard_unwatch(const nt_model *m);
/* True once a read of one of m's mappings faulted: its weights are zeros from then on and
 * the model must be loaded again. */
bool mapguard_tripped(const nt_model *m);

/* The message an answer ends with when its model's file changed (no trailing newline). */
#define MAPGUARD_MESSAGE "the model file changed on disk (truncated or overwritten while natter " \
                         "ran): this answer is cut short and the model must be loaded again " \
                         "(/model PATH in the chat)"

#endif
