/* Bulk memory and table operations: bounds-checked up front, so a trap leaves no partial write. */
#include "kiln_runtime.h"
#include <stdlib.h>
#include <string.h>

#define PAGE 65536ull

static u64 memory_bytes(kiln_memory *m) { return m->pages * PAGE; }

/* dst + n past the end, without overflow: both are u64. */
static int out_of(u64 dst, u64 n, u64 size) { return n > size || dst > size - n; }

u64 kiln_memory_grow(kiln_instance *ctx, u32 mem, u64 delta) {
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

static kiln_funcref slot_for(void *ref, u32 is_funcref) {
    kiln_funcref slot = {0, 0, 0, 0};
    if (ref && is_funcref) slot = *(kiln_funcref *)ref;
    else slot.ref = ref;
    return slot;
}

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

int kiln_table_reserve(kiln_table *t, u32 size, u32 max) {
    u32 capacity = size ? size : 1;
    t->elems = calloc(capacity, sizeof(kiln_funcref));
    if (!t->elems) return -1;
    t->size = size;
    t->max = max;
    t->capacity = capacity;
    return 0;
}

u32 kiln_table_grow_raw(kiln_table *t, u32 delta, kiln_funcref init) {
    u32 old = t->size;
    if ((u64)old + delta > t->max) return 0xffffffffu;
    u64 needed = (u64)old + delta;
    if (needed > t->capacity) {
        u64 capacity = t->capacity * 2ull > needed ? t->capacity * 2ull : needed;
        if (capacity > t->max) capacity = t->max;
        kiln_funcref *grown = realloc(t->elems, capacity * sizeof(kiln_funcref));
        if (!grown) return 0xffffffffu;
        t->elems = grown;
        t->capacity = (u32)capacity;
    }
    for (u32 i = old; i < needed; i++) t->elems[i] = init;
    t->size = (u32)needed;
    return old;
}

void kiln_table_destroy(kiln_table *t) { free(t->elems); t->elems = 0; }

u64 kiln_table_grow(kiln_instance *ctx, u32 table, void *init, u64 delta) {
    kiln_table *t = ctx->tables[table];
    /* Tables hold at most 2^32-1 elements, 64-bit (table64) ones too. */
    if (delta > 0xffffffffull) return (u64)-1;
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
