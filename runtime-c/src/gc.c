/* The GC heap of a store and its collector (docs/gc-design.md).
 *
 * Non-moving mark-sweep. Small objects live in 256 KiB aligned pages of one size class each,
 * with allocation and mark bitmaps in the page header; large ones are allocated one by one.
 * Roots: the Kiln stack of the collecting thread, scanned conservatively (any word that points
 * into an allocated object keeps it alive; callee-saved registers are spilled first), and
 * precise sets registered by the store: global cells, tables, element segments, exception
 * payloads and the handle table of Swift's AnyRef handles. Marking uses an explicit stack. */
#include "kiln_runtime.h"
#include "kiln_gc.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE_BYTES (256u << 10)
#define PAGE_HEADER 4352u
#define MAX_CELLS (PAGE_BYTES / 16)
#define BITMAP_WORDS (MAX_CELLS / 64)
#define CLASS_COUNT 19
#define LARGE_HEADER 32u
static const u32 class_bytes[CLASS_COUNT] = {16, 32, 48, 64, 80, 96, 128, 160, 192, 256, 320,
                                             384, 512, 640, 768, 1024, 1280, 1536, 2048};

typedef struct gc_page {
    struct gc_page *next;
    u8 *first;
    u32 cell, cells, class_index, pad;
    u64 alloc[BITMAP_WORDS];
    u64 mark[BITMAP_WORDS];
} gc_page;

typedef struct gc_large {
    struct gc_large *next;
    u64 bytes;          /* of the object, after this header */
    u32 mark;
    u32 pad;
    u64 pad2;
} gc_large;

typedef struct gc_root { u32 kind; void *pointer; u64 count; } gc_root;
enum { ROOT_VALUES = 0, ROOT_TABLE = 1, ROOT_ELEMS = 2 };

struct kiln_heap {
    kiln_exec *exec;
    gc_page *pages;
    void *free_cells[CLASS_COUNT];        /* free lists threaded through the first word */
    gc_page **page_set;                   /* open addressing by page address */
    u64 page_set_capacity, page_count;
    gc_large *large;
    gc_large **large_sorted;              /* for interior-pointer lookup, by address */
    u64 large_count, large_sorted_capacity;
    int large_dirty;
    gc_root *roots;
    u64 root_count, root_capacity;
    pthread_mutex_t handle_lock;          /* a handle may be released on any thread */
    u64 *handles;                         /* Swift handles: words; a free slot holds 1 */
    u32 *free_handles;
    u64 handle_count, handle_capacity, free_handle_count;
    void **mark_stack;
    u64 mark_top, mark_capacity;
    u64 bytes_in_use;                     /* bytes of live-or-unswept objects */
    u64 allocated_since;                  /* bytes allocated since the last collection */
    u64 threshold;                        /* collect when allocated_since exceeds it */
    u64 limit;                            /* 0: unlimited */
    kiln_gc_stats stats;
};

static u64 now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (u64)t.tv_sec * 1000000000ull + (u64)t.tv_nsec;
}

kiln_heap *kiln_heap_create(kiln_exec *exec) {
    kiln_heap *heap = calloc(1, sizeof *heap);
    if (!heap) return 0;
    heap->exec = exec;
    heap->threshold = 16ull << 20;
    pthread_mutex_init(&heap->handle_lock, 0);
    return heap;
}

void kiln_heap_destroy(kiln_heap *heap) {
    if (!heap) return;
    for (gc_page *page = heap->pages, *next; page; page = next) {
        next = page->next;
        free(page);
    }
    for (gc_large *large = heap->large, *next; large; large = next) {
        next = large->next;
        free(large);
    }
    free(heap->page_set);
    free(heap->large_sorted);
    free(heap->roots);
    free(heap->handles);
    free(heap->free_handles);
    free(heap->mark_stack);
    pthread_mutex_destroy(&heap->handle_lock);
    free(heap);
}

void kiln_heap_set_limit(kiln_heap *heap, u64 bytes) { heap->limit = bytes; }

kiln_gc_stats kiln_heap_stats(kiln_heap *heap) {
    kiln_gc_stats stats = heap->stats;
    stats.bytes_in_use = heap->bytes_in_use;
    stats.heap_bytes = heap->page_count * PAGE_BYTES;
    for (gc_large *large = heap->large; large; large = large->next) stats.heap_bytes += large->bytes + LARGE_HEADER;
    return stats;
}

/* ---- Growable arrays ---- */

static int reserve(void **items, u64 *capacity, u64 needed, u64 size) {
    if (needed <= *capacity) return 0;
    u64 capacity2 = *capacity ? *capacity * 2 : 64;
    while (capacity2 < needed) capacity2 *= 2;
    void *grown = realloc(*items, capacity2 * size);
    if (!grown) return -1;
    *items = grown;
    *capacity = capacity2;
    return 0;
}

/* ---- The page set ---- */

static u64 page_hash(const void *page) {
    u64 x = (u64)(uintptr_t)page / PAGE_BYTES;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

static void page_set_insert(gc_page **set, u64 capacity, gc_page *page) {
    for (u64 i = page_hash(page) & (capacity - 1);; i = (i + 1) & (capacity - 1)) {
        if (!set[i]) {
            set[i] = page;
            return;
        }
    }
}

static int page_set_add(kiln_heap *heap, gc_page *page) {
    if ((heap->page_count + 1) * 2 > heap->page_set_capacity) {
        u64 capacity = heap->page_set_capacity ? heap->page_set_capacity * 2 : 64;
        gc_page **set = calloc(capacity, sizeof *set);
        if (!set) return -1;
        for (u64 i = 0; i < heap->page_set_capacity; i++)
            if (heap->page_set[i]) page_set_insert(set, capacity, heap->page_set[i]);
        free(heap->page_set);
        heap->page_set = set;
        heap->page_set_capacity = capacity;
    }
    page_set_insert(heap->page_set, heap->page_set_capacity, page);
    heap->page_count++;
    return 0;
}

static gc_page *page_of(kiln_heap *heap, u64 address) {
    if (!heap->page_set_capacity) return 0;
    gc_page *page = (gc_page *)(uintptr_t)(address & ~(u64)(PAGE_BYTES - 1));
    for (u64 i = page_hash(page) & (heap->page_set_capacity - 1);; i = (i + 1) & (heap->page_set_capacity - 1)) {
        gc_page *candidate = heap->page_set[i];
        if (!candidate) return 0;
        if (candidate == page) return page;
    }
}

/* ---- Allocation ---- */

static u32 class_of(u64 bytes) {
    for (u32 i = 0; i < CLASS_COUNT; i++)
        if (bytes <= class_bytes[i]) return i;
    return CLASS_COUNT;
}

static int add_page(kiln_heap *heap, u32 class_index) {
    void *memory = 0;
    if (posix_memalign(&memory, PAGE_BYTES, PAGE_BYTES) != 0) return -1;
    gc_page *page = memory;
    memset(page, 0, PAGE_HEADER);
    page->cell = class_bytes[class_index];
    page->first = (u8 *)page + PAGE_HEADER;
    page->cells = (PAGE_BYTES - PAGE_HEADER) / page->cell;
    page->class_index = class_index;
    if (page_set_add(heap, page) != 0) {
        free(page);
        return -1;
    }
    page->next = heap->pages;
    heap->pages = page;
    /* Thread the free list through the new cells, lowest address first. */
    void *list = heap->free_cells[class_index];
    for (u32 i = page->cells; i-- > 0;) {
        void **cell = (void **)(page->first + (u64)i * page->cell);
        *cell = list;
        list = cell;
    }
    heap->free_cells[class_index] = list;
    return 0;
}

static int over_limit(kiln_heap *heap, u64 bytes) {
    return heap->limit && heap->bytes_in_use + bytes > heap->limit;
}

/* One object of `bytes` (header included), zeroed with its RTT set, or NULL when the heap limit
 * or the system refuses. Never collects. */
void *kiln_gc_alloc_raw(kiln_heap *heap, const kiln_rtt *rtt, u64 bytes) {
    if (bytes < 16) bytes = 16;
    if (over_limit(heap, bytes)) return 0;
    u32 class_index = class_of(bytes);
    void *object;
    u64 charged;
    if (class_index < CLASS_COUNT) {
        if (!heap->free_cells[class_index] && add_page(heap, class_index) != 0) return 0;
        void **cell = heap->free_cells[class_index];
        heap->free_cells[class_index] = *cell;
        gc_page *page = (gc_page *)(uintptr_t)((u64)(uintptr_t)cell & ~(u64)(PAGE_BYTES - 1));
        u64 slot = ((u8 *)cell - page->first) / page->cell;
        page->alloc[slot / 64] |= 1ull << (slot % 64);
        charged = page->cell;
        memset(cell, 0, charged);
        object = cell;
    } else {
        if (bytes > (1ull << 40)) return 0;
        void *memory = 0;
        if (posix_memalign(&memory, 16, LARGE_HEADER + bytes) != 0) return 0;
        gc_large *large = memory;
        memset(large, 0, LARGE_HEADER + bytes);
        large->bytes = bytes;
        large->next = heap->large;
        heap->large = large;
        heap->large_count++;
        heap->large_dirty = 1;
        charged = bytes + LARGE_HEADER;
        object = (u8 *)large + LARGE_HEADER;
    }
    *(const kiln_rtt **)object = rtt;
    heap->bytes_in_use += charged;
    heap->allocated_since += charged;
    heap->stats.allocated_bytes += charged;
    heap->stats.allocated_objects++;
    return object;
}

/* From generated code: collects first when allocation pressure says so, and traps when even
 * after a collection the object does not fit under the limit. */
static void *allocate(kiln_instance *ctx, const kiln_rtt *rtt, u64 bytes) {
    kiln_heap *heap = ctx->exec->heap;
    if (heap->allocated_since >= heap->threshold || over_limit(heap, bytes)) kiln_gc_collect(heap);
    void *object = kiln_gc_alloc_raw(heap, rtt, bytes);
    if (!object) {
        kiln_gc_collect(heap);
        object = kiln_gc_alloc_raw(heap, rtt, bytes);
        if (!object) kiln_trap(ctx, KILN_TRAP_GC_HEAP_EXHAUSTED);
    }
    return object;
}

void *kiln_gc_struct_new(kiln_instance *ctx, u32 type) {
    const kiln_rtt *rtt = ctx->rtts[type];
    return allocate(ctx, rtt, rtt->size);
}

static void *new_array(kiln_instance *ctx, const kiln_rtt *rtt, u32 length) {
    u64 bytes = 16 + (u64)length * rtt->size;
    if (bytes > (1ull << 36)) kiln_trap(ctx, KILN_TRAP_GC_HEAP_EXHAUSTED);
    void *array = allocate(ctx, rtt, bytes);
    GC_LEN(array) = length;
    return array;
}

static void fill(u8 *to, u32 size, const kiln_value *value, u64 n) {
    for (u64 i = 0; i < n; i++) memcpy(to + i * size, value, size);
}

void *kiln_gc_array_new(kiln_instance *ctx, u32 type, u32 length, const kiln_value *init) {
    const kiln_rtt *rtt = ctx->rtts[type];
    /* The initial value lives in the caller's frame on the Kiln stack: a collection here keeps it. */
    void *array = new_array(ctx, rtt, length);
    if (init) fill((u8 *)array + 16, rtt->size, init, length);
    return array;
}

static u8 *element_range(kiln_instance *ctx, void *array, u32 index, u32 n) {
    if (!array) kiln_trap(ctx, KILN_TRAP_NULL_ARRAY);
    if ((u64)index + n > GC_LEN(array)) kiln_trap(ctx, KILN_TRAP_ARRAY_OOB);
    return (u8 *)array + 16 + (u64)index * GC_RTT(array)->size;
}

void kiln_gc_array_fill(kiln_instance *ctx, void *array, u32 offset, const kiln_value *value, u32 n) {
    u8 *to = element_range(ctx, array, offset, n);
    fill(to, GC_RTT(array)->size, value, n);
}

void kiln_gc_array_copy(kiln_instance *ctx, void *dst, u32 d, void *src, u32 s, u32 n) {
    if (!dst || !src) kiln_trap(ctx, KILN_TRAP_NULL_ARRAY);
    u8 *to = element_range(ctx, dst, d, n);
    u8 *from = element_range(ctx, src, s, n);
    memmove(to, from, (u64)n * GC_RTT(dst)->size);
}

/* Data segment bytes [offset, offset + length * size) or a trap. */
static const u8 *data_range(kiln_instance *ctx, u32 seg, u32 offset, u64 bytes) {
    kiln_segment *segment = &ctx->data[seg];
    if ((u64)offset + bytes > segment->length) kiln_trap(ctx, KILN_TRAP_MEMORY_OOB);
    return segment->bytes + offset;
}

static void **elem_range(kiln_instance *ctx, u32 seg, u32 offset, u32 n) {
    kiln_elem_segment *segment = &ctx->elems[seg];
    if ((u64)offset + n > segment->length) kiln_trap(ctx, KILN_TRAP_TABLE_OOB);
    return segment->refs + offset;
}

void *kiln_gc_array_new_data(kiln_instance *ctx, u32 type, u32 seg, u32 offset, u32 length) {
    const kiln_rtt *rtt = ctx->rtts[type];
    const u8 *from = data_range(ctx, seg, offset, (u64)length * rtt->size);
    void *array = new_array(ctx, rtt, length);
    memcpy((u8 *)array + 16, from, (u64)length * rtt->size);
    return array;
}

void *kiln_gc_array_new_elem(kiln_instance *ctx, u32 type, u32 seg, u32 offset, u32 length) {
    const kiln_rtt *rtt = ctx->rtts[type];
    elem_range(ctx, seg, offset, length);
    void *array = new_array(ctx, rtt, length);
    /* Read the segment after allocating: a collection does not move or free its references. */
    memcpy((u8 *)array + 16, ctx->elems[seg].refs + offset, (u64)length * sizeof(void *));
    return array;
}

void kiln_gc_array_init_data(kiln_instance *ctx, void *array, u32 seg, u32 d, u32 s, u32 n) {
    u8 *to = element_range(ctx, array, d, n);
    const u8 *from = data_range(ctx, seg, s, (u64)n * GC_RTT(array)->size);
    memcpy(to, from, (u64)n * GC_RTT(array)->size);
}

void kiln_gc_array_init_elem(kiln_instance *ctx, void *array, u32 seg, u32 d, u32 s, u32 n) {
    u8 *to = element_range(ctx, array, d, n);
    void **from = elem_range(ctx, seg, s, n);
    memcpy(to, from, (u64)n * sizeof(void *));
}

/* ---- Roots and handles ---- */

static void add_root(kiln_heap *heap, u32 kind, void *pointer, u64 count) {
    if (reserve((void **)&heap->roots, &heap->root_capacity, heap->root_count + 1, sizeof(gc_root)) != 0) abort();
    heap->roots[heap->root_count++] = (gc_root){kind, pointer, count};
}

void kiln_gc_add_values(kiln_heap *heap, kiln_value *values, u64 count) { add_root(heap, ROOT_VALUES, values, count); }
void kiln_gc_add_table(kiln_heap *heap, kiln_table *table) { add_root(heap, ROOT_TABLE, table, 1); }
void kiln_gc_add_elems(kiln_heap *heap, kiln_elem_segment *segments, u64 count) { add_root(heap, ROOT_ELEMS, segments, count); }

u32 kiln_gc_handle_new(kiln_heap *heap, void *word) {
    u32 index;
    pthread_mutex_lock(&heap->handle_lock);
    if (heap->free_handle_count) {
        index = heap->free_handles[--heap->free_handle_count];
    } else {
        u64 capacity = heap->handle_capacity;
        if (reserve((void **)&heap->handles, &heap->handle_capacity, heap->handle_count + 1, sizeof(u64)) != 0) abort();
        /* The free list never holds more than every handle. */
        if (reserve((void **)&heap->free_handles, &capacity, heap->handle_capacity, sizeof(u32)) != 0) abort();
        index = (u32)heap->handle_count++;
    }
    heap->handles[index] = (u64)(uintptr_t)word;
    pthread_mutex_unlock(&heap->handle_lock);
    return index;
}

void kiln_gc_handle_release(kiln_heap *heap, u32 index) {
    pthread_mutex_lock(&heap->handle_lock);
    heap->handles[index] = 1;
    heap->free_handles[heap->free_handle_count++] = index;
    pthread_mutex_unlock(&heap->handle_lock);
}

void *kiln_gc_handle_get(kiln_heap *heap, u32 index) {
    pthread_mutex_lock(&heap->handle_lock);
    void *word = (void *)(uintptr_t)heap->handles[index];
    pthread_mutex_unlock(&heap->handle_lock);
    return word;
}

/* ---- Marking ---- */

static int large_compare(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)*(gc_large *const *)a, y = (uintptr_t)*(gc_large *const *)b;
    return x < y ? -1 : x > y;
}

static void sort_large(kiln_heap *heap) {
    if (!heap->large_dirty) return;
    if (reserve((void **)&heap->large_sorted, &heap->large_sorted_capacity, heap->large_count, sizeof(gc_large *)) != 0) abort();
    u64 n = 0;
    for (gc_large *large = heap->large; large; large = large->next) heap->large_sorted[n++] = large;
    qsort(heap->large_sorted, n, sizeof(gc_large *), large_compare);
    heap->large_dirty = 0;
}

static gc_large *large_of(kiln_heap *heap, u64 address) {
    u64 low = 0, high = heap->large_count;
    while (low < high) {
        u64 middle = (low + high) / 2;
        if ((u64)(uintptr_t)heap->large_sorted[middle] <= address) low = middle + 1;
        else high = middle;
    }
    if (low == 0) return 0;
    gc_large *large = heap->large_sorted[low - 1];
    u64 start = (u64)(uintptr_t)large + LARGE_HEADER;
    return address >= start && address < start + large->bytes ? large : 0;
}

static void push(kiln_heap *heap, void *object) {
    if (heap->mark_top == heap->mark_capacity &&
        reserve((void **)&heap->mark_stack, &heap->mark_capacity, heap->mark_top + 1, sizeof(void *)) != 0) abort();
    heap->mark_stack[heap->mark_top++] = object;
}

/* Marks the object that `word` points into (interior pointers included), if any. */
static void mark_word(kiln_heap *heap, u64 word) {
    if (!word || (word & 1)) return;
    gc_page *page = page_of(heap, word);
    if (page) {
        if (word < (u64)(uintptr_t)page->first) return;
        u64 slot = (word - (u64)(uintptr_t)page->first) / page->cell;
        if (slot >= page->cells) return;
        u64 bit = 1ull << (slot % 64);
        if (!(page->alloc[slot / 64] & bit) || (page->mark[slot / 64] & bit)) return;
        page->mark[slot / 64] |= bit;
        push(heap, page->first + slot * page->cell);
        return;
    }
    if (!heap->large_count) return;
    gc_large *large = large_of(heap, word);
    if (large && !large->mark) {
        large->mark = 1;
        push(heap, (u8 *)large + LARGE_HEADER);
    }
}

static void trace(kiln_heap *heap, u8 *object) {
    const kiln_rtt *rtt = *(const kiln_rtt **)object;
    if (!rtt->ref_count) return;
    if (rtt->kind == KILN_RTT_STRUCT) {
        for (u32 i = 0; i < rtt->ref_count; i++) mark_word(heap, *(u64 *)(object + rtt->ref_offsets[i]));
    } else {
        u32 length = GC_LEN(object);
        u64 *elements = (u64 *)(object + 16);
        for (u32 i = 0; i < length; i++) mark_word(heap, elements[i]);
    }
}

static void scan_words(kiln_heap *heap, const u64 *from, const u64 *to) {
    for (const u64 *p = from; p < to; p++) mark_word(heap, *p);
}

static void mark_roots(kiln_heap *heap) {
    for (u64 r = 0; r < heap->root_count; r++) {
        gc_root root = heap->roots[r];
        if (root.kind == ROOT_VALUES) {
            kiln_value *values = root.pointer;
            for (u64 i = 0; i < root.count; i++) mark_word(heap, (u64)(uintptr_t)values[i].ref);
        } else if (root.kind == ROOT_TABLE) {
            kiln_table *table = root.pointer;
            if (table->is_funcref) continue;
            for (u32 i = 0; i < table->size; i++) mark_word(heap, (u64)(uintptr_t)table->elems[i].ref);
        } else {
            kiln_elem_segment *segments = root.pointer;
            for (u64 s = 0; s < root.count; s++)
                for (u64 i = 0; i < segments[s].length; i++) mark_word(heap, (u64)(uintptr_t)segments[s].refs[i]);
        }
    }
    pthread_mutex_lock(&heap->handle_lock);
    for (u64 i = 0; i < heap->handle_count; i++) mark_word(heap, heap->handles[i]);
    pthread_mutex_unlock(&heap->handle_lock);
    /* Exception payloads: the one in flight and those exnrefs keep (every payload word). */
    kiln_exec *exec = heap->exec;
    if (exec->exception) scan_words(heap, (const u64 *)exec->exception->values, (const u64 *)(exec->exception->values + exec->exception->count));
    for (kiln_exception *e = exec->kept; e; e = e->next_kept)
        scan_words(heap, (const u64 *)e->values, (const u64 *)(e->values + e->count));
}

/* The Kiln stack from here up: every Wasm frame of this thread. kiln_setjmp spills the
 * callee-saved registers (where an optimizing compiler may keep a reference) into `spill`,
 * which is in this frame, inside the scanned range. */
static __attribute__((noinline)) void mark_stack(kiln_heap *heap) {
    u64 spill[22];
    kiln_setjmp(spill);
    char *top = kiln_thread_stack_top();
    if (!top) return;
    const u64 *from = (const u64 *)((uintptr_t)spill & ~(uintptr_t)7);
    scan_words(heap, from, (const u64 *)top);
}

/* ---- Sweeping ---- */

static void sweep(kiln_heap *heap) {
    for (u32 c = 0; c < CLASS_COUNT; c++) heap->free_cells[c] = 0;
    u64 in_use = 0, pages_kept = 0;
    gc_page **link = &heap->pages;
    for (gc_page *page = heap->pages; page;) {
        gc_page *next = page->next;
        u64 live = 0;
        for (u32 w = 0; w < BITMAP_WORDS; w++) {
            page->alloc[w] = page->mark[w];
            live += (u64)__builtin_popcountll(page->mark[w]);
            page->mark[w] = 0;
        }
        if (!live && pages_kept >= 8) {
            /* An empty page goes back to the system (the page set is rebuilt below). */
            *link = next;
            free(page);
            page = next;
            continue;
        }
        pages_kept++;
        for (u32 i = page->cells; i-- > 0;) {
            if (page->alloc[i / 64] & (1ull << (i % 64))) continue;
            void **cell = (void **)(page->first + (u64)i * page->cell);
            *cell = heap->free_cells[page->class_index];
            heap->free_cells[page->class_index] = cell;
        }
        in_use += live * page->cell;
        link = &page->next;
        page = next;
    }
    if (pages_kept != heap->page_count) {
        memset(heap->page_set, 0, heap->page_set_capacity * sizeof(gc_page *));
        for (gc_page *page = heap->pages; page; page = page->next) page_set_insert(heap->page_set, heap->page_set_capacity, page);
        heap->page_count = pages_kept;
    }
    gc_large **large_link = &heap->large;
    for (gc_large *large = heap->large; large;) {
        gc_large *next = large->next;
        if (!large->mark) {
            *large_link = next;
            free(large);
            heap->large_count--;
            heap->large_dirty = 1;
        } else {
            large->mark = 0;
            in_use += large->bytes + LARGE_HEADER;
            large_link = &large->next;
        }
        large = next;
    }
    heap->stats.freed_bytes += heap->bytes_in_use > in_use ? heap->bytes_in_use - in_use : 0;
    heap->bytes_in_use = in_use;
}

/* The collector's own frames (mark_word, trace, sweep, qsort) held object addresses below the
 * caller's frame: zero that space, or the next collection's conservative scan could find them
 * in the unused parts of the frames it runs under. */
static __attribute__((noinline)) void scrub_below(void) {
    volatile u64 space[1024];
    for (u32 i = 0; i < 1024; i++) space[i] = 0;
}

void kiln_gc_collect(kiln_heap *heap) {
    u64 start = now_ns();
    sort_large(heap);
    mark_stack(heap);
    mark_roots(heap);
    while (heap->mark_top) trace(heap, heap->mark_stack[--heap->mark_top]);
    sweep(heap);
    /* Collect again after allocating as much as survived (at least 16 MiB). */
    heap->threshold = heap->bytes_in_use > (16ull << 20) ? heap->bytes_in_use : (16ull << 20);
    heap->allocated_since = 0;
    u64 pause = now_ns() - start;
    heap->stats.collections++;
    heap->stats.total_pause_ns += pause;
    if (pause > heap->stats.max_pause_ns) heap->stats.max_pause_ns = pause;
    scrub_below();
}
