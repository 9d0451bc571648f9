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
    X(kiln_tail_loop) X(kiln_exception_keep) X(kiln_exception_release) X(kiln_stack_or_stop)

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

/* The object's own kiln_setjmp, called directly (returns_twice must be visible at the call, which
 * a call through a pointer would lose). It stores exactly what kiln_longjmp in entry.c restores:
 * keep the two in step. */
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl kiln_optimized_setjmp\n"
        ".hidden kiln_optimized_setjmp\n"
        ".type kiln_optimized_setjmp,@function\n"
        "kiln_optimized_setjmp:\n"
        "  movq %rbx, 0(%rdi)\n"
        "  movq %rbp, 8(%rdi)\n"
        "  movq %r12, 16(%rdi)\n"
        "  movq %r13, 24(%rdi)\n"
        "  movq %r14, 32(%rdi)\n"
        "  movq %r15, 40(%rdi)\n"
        "  leaq 8(%rsp), %rdx\n"
        "  movq %rdx, 48(%rdi)\n"
        "  movq (%rsp), %rdx\n"
        "  movq %rdx, 56(%rdi)\n"
        "  xorl %eax, %eax\n"
        "  ret\n"
        ".size kiln_optimized_setjmp, .-kiln_optimized_setjmp\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl kiln_optimized_setjmp\n"
        ".hidden kiln_optimized_setjmp\n"
        ".type kiln_optimized_setjmp,%function\n"
        "kiln_optimized_setjmp:\n"
        "  stp x19, x20, [x0, #0]\n"
        "  stp x21, x22, [x0, #16]\n"
        "  stp x23, x24, [x0, #32]\n"
        "  stp x25, x26, [x0, #48]\n"
        "  stp x27, x28, [x0, #64]\n"
        "  stp x29, x30, [x0, #80]\n"
        "  mov x2, sp\n"
        "  str x2, [x0, #96]\n"
        "  stp d8, d9, [x0, #104]\n"
        "  stp d10, d11, [x0, #120]\n"
        "  stp d12, d13, [x0, #136]\n"
        "  stp d14, d15, [x0, #152]\n"
        "  mov w0, #0\n"
        "  ret\n"
        ".size kiln_optimized_setjmp, .-kiln_optimized_setjmp\n");
#else
#error "kiln: unsupported architecture"
#endif
int kiln_optimized_setjmp(u64 *jump) __attribute__((returns_twice));
#define kiln_setjmp kiln_optimized_setjmp

#endif
#endif
