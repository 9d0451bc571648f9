/* The GC heap as Swift sees it (gc.c). */
#ifndef KILN_GC_H
#define KILN_GC_H

#include "kiln_prelude.h"

typedef struct kiln_heap kiln_heap;

typedef struct kiln_gc_stats {
    u64 collections;
    u64 total_pause_ns;
    u64 max_pause_ns;
    u64 allocated_bytes;     /* in total, since the heap was created */
    u64 allocated_objects;
    u64 freed_bytes;
    u64 bytes_in_use;        /* objects not yet found unreachable */
    u64 heap_bytes;          /* pages and large objects held from the system */
} kiln_gc_stats;

kiln_heap *kiln_heap_create(kiln_exec *exec);
void kiln_heap_destroy(kiln_heap *heap);
/* 0: unlimited. An allocation that would pass it collects first, then traps. */
void kiln_heap_set_limit(kiln_heap *heap, u64 bytes);
kiln_gc_stats kiln_heap_stats(kiln_heap *heap);
/* An object of `bytes` (header included), zeroed, RTT set; NULL past the limit. Never collects
 * (instantiation's constant expressions, the embedding API). */
void *kiln_gc_alloc_raw(kiln_heap *heap, const kiln_rtt *rtt, u64 bytes);
/* A full collection. The Kiln stack of the calling thread is scanned when it is on one. */
void kiln_gc_collect(kiln_heap *heap);
/* Precise roots, for the store's lifetime. */
void kiln_gc_add_values(kiln_heap *heap, kiln_value *values, u64 count);
void kiln_gc_add_table(kiln_heap *heap, kiln_table *table);
void kiln_gc_add_elems(kiln_heap *heap, kiln_elem_segment *segments, u64 count);
/* Swift handles: a slot that keeps `word` alive until released. */
u32 kiln_gc_handle_new(kiln_heap *heap, void *word);
void kiln_gc_handle_release(kiln_heap *heap, u32 index);
void *kiln_gc_handle_get(kiln_heap *heap, u32 index);

/* entry.c: the top of the calling thread's Kiln stack while it runs on it, else NULL. */
char *kiln_thread_stack_top(void);

#endif
