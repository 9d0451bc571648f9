/* Bulk memory and table operations: bounds-checked up front, so a trap leaves no partial write. */
#define _GNU_SOURCE
#include "kiln_runtime.h"
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 65536ull

static u64 memory_bytes(kiln_memory *m) { return m->pages * PAGE; }

/* dst + n past the end, without overflow: both are u64. */
static int out_of(u64 dst, u64 n, u64 size) { return n > size || dst > size - n; }

/* The store's limits (StoreLimits, ResourceLimiter) on a grow that would otherwise succeed:
 * 1 goes ahead, 0 makes it return -1, and a limiter that threw traps with its error. */
static int grow_allowed(kiln_instance *ctx, u32 kind, u64 current, u64 desired, u64 maximum) {
    kiln_exec *exec = ctx->exec;
    if (!exec->limited || !exec->grow_check || desired == current) return 1;
    int verdict = exec->grow_check(exec, kind, current, desired, maximum);
    if (verdict < 0) kiln_trap(ctx, KILN_TRAP_HOST);
    return verdict;
}

u64 kiln_memory_grow(kiln_instance *ctx, u32 mem, u64 delta) {
    kiln_memory *m = ctx->memories[mem];
    if (delta && delta <= 65536 && m->pages + delta <= m->max_pages && m->pages + delta <= 65536 &&
        !grow_allowed(ctx, 0, m->pages * PAGE, (m->pages + delta) * PAGE, m->max_pages * PAGE))
        return (u64)-1;
    return kiln_memory_grow_raw(ctx->memories[mem], delta);
}

void kiln_memory_fill(kiln_instance *ctx, u32 mem, u64 dst, u32 value, u64 n) {
    kiln_memory *m = ctx->memories[mem];
    if (out_of(dst, n, memory_bytes(m))) kiln_trap(ctx, KILN_TRAP_MEMORY_OOB);
    memset(m->base + dst, (int)(value & 0xff), n);
}

void kiln_memory_copy(kiln_instance *ctx, u32 dmem, u32 smem, u64 dst, u64 src, u64 n) {
    kiln_memory *d = ctx->memories[dmem], *s = ctx->memories[smem];
    if (out_of(dst, n, memory_bytes(d)) || out_of(src, n, memory_bytes(s))) kiln_trap(ctx, KILN_TRAP_MEMORY_OOB);
    memmove(d->base + dst, s->base + src, n);
}

void kiln_memory_init(kiln_instance *ctx, u32 mem, u32 seg, u64 dst, u32 src, u32 n) {
    kiln_memory *m = ctx->memories[mem];
    kiln_segment *s = &ctx->data[seg];
    if ((u64)src + n > s->length || out_of(dst, n, memory_bytes(m))) kiln_trap(ctx, KILN_TRAP_MEMORY_OOB);
    memcpy(m->base + dst, s->bytes + src, n);
}

kiln_funcref kiln_table_element(void *ref, u32 is_funcref) {
    kiln_funcref slot = {0, 0, 0, 0};
    if (ref && is_funcref) {
        slot = *(kiln_funcref *)ref;
        kiln_function *function = (kiln_function *)slot.ref;
        if (function->code_slot) slot.code = kiln_code_current(function->code_slot, slot.code);
    } else {
        slot.ref = ref;
    }
    return slot;
}

static kiln_funcref slot_for(void *ref, u32 is_funcref) { return kiln_table_element(ref, is_funcref); }

void *kiln_table_get(kiln_instance *ctx, u32 table, u64 index) {
    kiln_table *t = ctx->tables[table];
    if (index >= t->size) kiln_trap(ctx, KILN_TRAP_TABLE_OOB);
    return t->elems[index].ref;
}

void kiln_table_set(kiln_instance *ctx, u32 table, u64 index, void *ref) {
    kiln_table *t = ctx->tables[table];
    if (index >= t->size) kiln_trap(ctx, KILN_TRAP_TABLE_OOB);
    t->elems[index] = slot_for(ref, t->is_funcref);
}

/* Table slots live in an anonymous mapping (MAP_NORESERVE): slots past the size are never
 * written, so they stay zero pages, and a null slot is all-zero bits. Growing remaps (the kernel
 * moves page tables, not slots) and writes only a non-null initial value, so a guest that grows a
 * table by hundreds of millions of null slots costs address space, not memory. */
#define TABLE_BYTES(n) ((((u64)(n) * sizeof(kiln_funcref)) + 4095) & ~4095ull)

int kiln_table_reserve(kiln_table *t, u32 size, u32 max) {
    u32 capacity = size ? size : 1;
    void *elems = mmap(0, TABLE_BYTES(capacity), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (elems == MAP_FAILED) return -1;
    t->elems = elems;
    t->size = size;
    t->max = max;
    t->capacity = (u32)(TABLE_BYTES(capacity) / sizeof(kiln_funcref));
    return 0;
}

static int is_null_slot(kiln_funcref slot) { return !slot.sig && !slot.code && !slot.ctx && !slot.ref; }

u32 kiln_table_grow_raw(kiln_table *t, u32 delta, kiln_funcref init) {
    u32 old = t->size;
    if ((u64)old + delta > t->max) return 0xffffffffu;
    u64 needed = (u64)old + delta;
    if (needed > t->capacity) {
        u64 capacity = t->capacity * 2ull > needed ? t->capacity * 2ull : needed;
        if (capacity > t->max) capacity = t->max;
        if (TABLE_BYTES(capacity) / sizeof(kiln_funcref) > 0xffffffffull) capacity = needed;
        void *grown = mremap(t->elems, TABLE_BYTES(t->capacity), TABLE_BYTES(capacity), MREMAP_MAYMOVE);
        if (grown == MAP_FAILED) return 0xffffffffu;
        t->elems = grown;
        u64 slots = TABLE_BYTES(capacity) / sizeof(kiln_funcref);
        t->capacity = (u32)(slots > 0xffffffffull ? 0xffffffffull : slots);
    }
    if (!is_null_slot(init))
        for (u64 i = old; i < needed; i++) t->elems[i] = init;
    t->size = (u32)needed;
    return old;
}

void kiln_table_destroy(kiln_table *t) {
    if (t->elems) munmap(t->elems, TABLE_BYTES(t->capacity));
    t->elems = 0;
}

u64 kiln_table_grow(kiln_instance *ctx, u32 table, void *init, u64 delta) {
    kiln_table *t = ctx->tables[table];
    /* Tables hold at most 2^32-1 elements, 64-bit (table64) ones too. */
    if (delta > 0xffffffffull) return (u64)-1;
    if (delta && (u64)t->size + delta <= t->max &&
        !grow_allowed(ctx, 1, t->size, (u64)t->size + delta, t->max))
        return (u64)-1;
    u32 old = kiln_table_grow_raw(t, (u32)delta, slot_for(init, t->is_funcref));
    return old == 0xffffffffu ? (u64)-1 : old;
}

void kiln_table_fill(kiln_instance *ctx, u32 table, u64 dst, void *ref, u64 n) {
    kiln_table *t = ctx->tables[table];
    if (out_of(dst, n, t->size)) kiln_trap(ctx, KILN_TRAP_TABLE_OOB);
    kiln_funcref slot = slot_for(ref, t->is_funcref);
    for (u64 i = 0; i < n; i++) t->elems[dst + i] = slot;
}

void kiln_table_copy(kiln_instance *ctx, u32 dtab, u32 stab, u64 dst, u64 src, u64 n) {
    kiln_table *d = ctx->tables[dtab], *s = ctx->tables[stab];
    if (out_of(dst, n, d->size) || out_of(src, n, s->size)) kiln_trap(ctx, KILN_TRAP_TABLE_OOB);
    memmove(d->elems + dst, s->elems + src, n * sizeof(kiln_funcref));
}

void kiln_table_init(kiln_instance *ctx, u32 table, u32 seg, u64 dst, u32 src, u32 n) {
    kiln_table *t = ctx->tables[table];
    kiln_elem_segment *s = &ctx->elems[seg];
    if ((u64)src + n > s->length || out_of(dst, n, t->size)) kiln_trap(ctx, KILN_TRAP_TABLE_OOB);
    for (u32 i = 0; i < n; i++) t->elems[dst + i] = slot_for(s->refs[src + i], t->is_funcref);
}
