/* The optimized tier's part of the prelude: compiled after kiln_prelude.h, only when an
 * optimizing C compiler (clang, gcc) builds a module's C into a shared object (KILN_OPTIMIZED is
 * defined on its command line). Never seen by TCC, nor by runtime-c's own build.
 *
 * The shared object cannot link against the runtime: the functions generated code calls live in
 * the embedding executable, which need not export them. So each runtime function it calls is a
 * hidden pointer in the object, which the loader fills through `kiln_bind` (with the runtime's
 * kiln_runtime_symbols table) right after dlopen and before any code runs; the function's name is
 * a macro for the call through its pointer. The numeric and SIMD helpers are not called at all:
 * numeric.c and simd.c are compiled into the object as static inline functions (KILN_HELPER),
 * so they inline into the generated code as vector instructions. */
#ifndef KILN_OPTIMIZED_H
#define KILN_OPTIMIZED_H
#ifdef KILN_OPTIMIZED

/* The object's cache key (-DKILN_KEY=byte,byte,...): the loader checks that dlopen returned this
 * object and not another one it already had loaded under the same name or inode. */
#ifdef KILN_KEY
__attribute__((visibility("default"))) const u8 kiln_module_key[32] = {KILN_KEY};
#endif

#define KILN_RUNTIME_BOUND(X) \
    X(kiln_trap) X(kiln_trap_exec) X(kiln_out_of_fuel) X(kiln_fuel_charge) X(kiln_epoch_reached) \
    X(kiln_memory_grow) X(kiln_memory_fill) X(kiln_memory_copy) X(kiln_memory_init) \
    X(kiln_table_get) X(kiln_table_set) X(kiln_table_grow) X(kiln_table_fill) X(kiln_table_copy) \
    X(kiln_table_init) X(kiln_host_call) X(kiln_host_failed) X(kiln_exception_new) X(kiln_throw) \
    X(kiln_tail_loop) X(kiln_exception_keep) X(kiln_exception_release) X(kiln_stack_or_stop) \
    X(kiln_gc_struct_new) X(kiln_gc_array_new) X(kiln_gc_array_new_data) X(kiln_gc_array_new_elem) \
    X(kiln_gc_array_fill) X(kiln_gc_array_copy) X(kiln_gc_array_init_data) X(kiln_gc_array_init_elem)

#define KILN_DECLARE_BOUND(name) __attribute__((visibility("hidden"))) __typeof__(name) *kiln_bound_##name;
KILN_RUNTIME_BOUND(KILN_DECLARE_BOUND)

/* The layout of kiln_symbol (kiln_runtime.h). */
typedef struct kiln_bind_symbol { const char *name; const void *address; } kiln_bind_symbol;

static const void *kiln_bind_find(const kiln_bind_symbol *symbols, u32 count, const char *name) {
    for (u32 i = 0; i < count; i++) {
        const char *a = symbols[i].name, *b = name;
        while (*a && *a == *b) { a++; b++; }
        if (*a == *b) return symbols[i].address;
    }
    return 0;
}

#define KILN_BIND_ONE(name) \
    if (!(kiln_bound_##name = (__typeof__(kiln_bound_##name))kiln_bind_find(symbols, count, #name))) return -1;
/* Fills every runtime pointer; 0 on success, -1 if the table lacks one. */
__attribute__((visibility("default"))) int kiln_bind(const kiln_bind_symbol *symbols, u32 count) {
    KILN_RUNTIME_BOUND(KILN_BIND_ONE)
    return 0;
}

#define kiln_trap (*kiln_bound_kiln_trap)
#define kiln_stack_or_stop (*kiln_bound_kiln_stack_or_stop)
#define kiln_trap_exec (*kiln_bound_kiln_trap_exec)
#define kiln_out_of_fuel (*kiln_bound_kiln_out_of_fuel)
#define kiln_fuel_charge (*kiln_bound_kiln_fuel_charge)
#define kiln_epoch_reached (*kiln_bound_kiln_epoch_reached)
#define kiln_memory_grow (*kiln_bound_kiln_memory_grow)
#define kiln_memory_fill (*kiln_bound_kiln_memory_fill)
#define kiln_memory_copy (*kiln_bound_kiln_memory_copy)
#define kiln_memory_init (*kiln_bound_kiln_memory_init)
#define kiln_table_get (*kiln_bound_kiln_table_get)
#define kiln_table_set (*kiln_bound_kiln_table_set)
#define kiln_table_grow (*kiln_bound_kiln_table_grow)
#define kiln_table_fill (*kiln_bound_kiln_table_fill)
#define kiln_table_copy (*kiln_bound_kiln_table_copy)
#define kiln_table_init (*kiln_bound_kiln_table_init)
#define kiln_host_call (*kiln_bound_kiln_host_call)
#define kiln_host_failed (*kiln_bound_kiln_host_failed)
#define kiln_exception_new (*kiln_bound_kiln_exception_new)
#define kiln_throw (*kiln_bound_kiln_throw)
#define kiln_tail_loop (*kiln_bound_kiln_tail_loop)
#define kiln_exception_keep (*kiln_bound_kiln_exception_keep)
#define kiln_exception_release (*kiln_bound_kiln_exception_release)
#define kiln_gc_struct_new (*kiln_bound_kiln_gc_struct_new)
#define kiln_gc_array_new (*kiln_bound_kiln_gc_array_new)
#define kiln_gc_array_new_data (*kiln_bound_kiln_gc_array_new_data)
#define kiln_gc_array_new_elem (*kiln_bound_kiln_gc_array_new_elem)
#define kiln_gc_array_fill (*kiln_bound_kiln_gc_array_fill)
#define kiln_gc_array_copy (*kiln_bound_kiln_gc_array_copy)
#define kiln_gc_array_init_data (*kiln_bound_kiln_gc_array_init_data)
#define kiln_gc_array_init_elem (*kiln_bound_kiln_gc_array_init_elem)

/* The object's own kiln_setjmp, called directly (returns_twice must be visible at the call, which
 * a call through a pointer would lose). It stores exactly what kiln_longjmp in entry.c restores:
 * keep the two in step. */
#if defined(__x86_64__)
#define KILN_FUNCTION_TYPE "@function"
#else
#define KILN_FUNCTION_TYPE "%function"
#endif
__asm__(".text\n"
        ".globl kiln_optimized_setjmp\n"
        ".hidden kiln_optimized_setjmp\n"
        ".type kiln_optimized_setjmp," KILN_FUNCTION_TYPE "\n"
        "kiln_optimized_setjmp:\n"
        KILN_SETJMP_BODY
        ".size kiln_optimized_setjmp, .-kiln_optimized_setjmp\n");
int kiln_optimized_setjmp(u64 *jump) __attribute__((returns_twice));
#define kiln_setjmp kiln_optimized_setjmp

#endif
#endif
