/* Support for the optimized tier (tiering.c): the identity of this Kiln build, and a sampling
 * profiler that tells which functions run hot. */
#ifndef KILN_TIERING_H
#define KILN_TIERING_H

#include <stdint.h>

/* The linker's build id of the executable or library holding Kiln (ELF NT_GNU_BUILD_ID, Mach-O
 * LC_UUID): copies up to `capacity` bytes to `out` and returns the id's length, or 0 when the
 * image has none. */
uint32_t kiln_build_id(uint8_t *out, uint32_t capacity);

/* The path of that image (for hashing when it has no build id); NULL if unknown. */
const char *kiln_build_image_path(void);

/* A process-wide sampling profiler: every `interval_us` of process CPU time (ITIMER_PROF) the
 * thread that used it records its program counter in a ring buffer. Start and stop nest (a
 * count): the timer runs while any user has started it. Returns 0 on success. */
int kiln_sampler_start(uint32_t interval_us);
void kiln_sampler_stop(void);

/* Moves the samples recorded since the last drain (at most `capacity`, the most recent) to
 * `out`; returns how many. With several drainers (modules), each gets a share of the samples. */
uint32_t kiln_sampler_drain(uintptr_t *out, uint32_t capacity);

#endif
