/* Kiln prelude: the only header that generated code includes.
 *
 * It is compiled twice: by the system compiler as part of runtime-c (so that the runtime and the
 * generated code agree on every struct layout), and by libtcc in front of every module's C (the
 * text is embedded in the binary). Keep it small: its size is paid on every module compile.
 * libtcc runs with -nostdinc, so nothing here includes a system header.
 */
#ifndef KILN_PRELUDE_H
#define KILN_PRELUDE_H

typedef unsigned char u8;
typedef signed char s8;
typedef unsigned short u16;
typedef short s16;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
typedef float f32;
typedef double f64;

/* A Wasm value as it crosses between Swift and C (arguments, results, globals). */
typedef union kiln_value {
    u32 i32;
    u64 i64;
    f32 f32;
    f64 f64;
    void *ref;
    u8 v128[16];
    /* Lane views of a v128, for generated code's extract/replace_lane and lane loads/stores. */
    u8 u8x16[16];
    s8 i8x16[16];
    u16 u16x8[8];
    s16 i16x8[8];
    u32 u32x4[4];
    u64 u64x2[2];
    f32 f32x4[4];
    f64 f64x2[2];
} kiln_value;

/* A function reference: the canonical record of one function of one instance. A funcref value in
 * generated code is a pointer to one of these (NULL is ref.null). A table slot holds a copy of
 * the record, so call_indirect checks the signature without chasing the pointer. */
typedef struct kiln_funcref {
    u64 sig;      /* Engine-interned signature id; 0 only in empty table slots */
    void *code;   /* native entry: R code(void *ctx, params..., extra-result pointers...) */
    void *ctx;    /* the instance (or host context) that code expects */
    void *ref;    /* the reference value itself: the canonical record, or an externref */
} kiln_funcref;

/* A runtime type (gc.c, docs/gc-design.md): one per Engine canonical type, immortal. A GC
 * object's first word points at its RTT; casts compare `display[D]` (the supertype of depth D,
 * zero padded) with the target's canonical id, and `chain` for depths past the display. */
#define KILN_DISPLAY 8
enum { KILN_RTT_FUNC = 0, KILN_RTT_STRUCT = 1, KILN_RTT_ARRAY = 2 };
typedef struct kiln_rtt {
    u64 display[KILN_DISPLAY];
    const u64 *chain;       /* root first, the type itself last: depth + 1 ids */
    u64 id;
    u32 kind;
    u32 depth;
    u32 size;               /* struct: bytes of the object, header included; array: element bytes */
    u32 ref_count;          /* struct: reference fields; array: 1 when elements are references */
    const u32 *ref_offsets; /* struct: byte offsets of the reference fields */
} kiln_rtt;

/* A function's canonical record (a funcref points at its `record`), with how a tail call runs
 * it: tail_thunk(tail_code, ctx, values) takes the arguments from values and leaves the results
 * there, or leaves the exec's next tail call pending. */
typedef struct kiln_function {
    kiln_funcref record;
    void *tail_thunk;
    void *tail_code;
    /* A Wasm function's slot in its module's code table (record.code is the slot's stub);
     * NULL for host functions. A table element copies the code the slot holds when written. */
    void **code_slot;
    const kiln_rtt *rtt;   /* the function's type, for casts and call_indirect to non-final types */
} kiln_function;

typedef struct kiln_table {
    kiln_funcref *elems;
    u32 size;
    u32 max;          /* 0xffffffff when unbounded */
    u32 is_funcref;
    u32 capacity;
} kiln_table;

typedef struct kiln_memory {
    u8 *base;         /* never moves: the whole range is reserved up front */
    u64 pages;        /* current size in 64 KiB pages */
    u64 max_pages;
    u64 reserved;     /* bytes of address space reserved, guard included */
} kiln_memory;

/* An exception tag: its identity is its address (an imported tag is the exporter's). */
typedef struct kiln_tag {
    u64 sig;             /* Engine-interned signature id of the tag's type (payload = params) */
} kiln_tag;

/* A thrown Wasm exception; an exnref value points at one. */
typedef struct kiln_exception {
    kiln_tag *tag;
    struct kiln_exception *next_kept; /* the store's list of exceptions an exnref may still name */
    u32 count;
    u32 kept;            /* an exnref was made of it: freed with the store, not when caught */
    kiln_value values[]; /* the payload */
} kiln_exception;

/* A Wasm exception handler: a try_table or legacy try in a running frame. It lives in the C
 * frame of the function; `jump` holds what kiln_setjmp saves (callee-saved registers, stack
 * pointer, resume address): no signal mask, no system call. */
typedef struct kiln_handler {
    struct kiln_handler *prev;
    u64 jump[22];   /* AArch64 saves 21 words (x19-x30, sp, d8-d15), x86-64 8 */
} kiln_handler;

/* Per-thread-of-execution state shared by every instance of a store. */
typedef struct kiln_exec {
    /* Generated code traps when its frame would reach below stack_limit. With epochs on it is
     * also the entry check's flag: whoever sets `stop` then sets stack_limit to KILN_STOP_LIMIT,
     * so every function that calls others (the ones that check their frame) sees it at entry,
     * and the runtime restores stack_floor (the real limit) before it clears `stop`. */
    char *volatile stack_limit;
    char *stack_floor;
    u32 stop_limits;     /* 1: the engine's code has epoch checks (set_stop lowers stack_limit) */
    void *jmp;           /* innermost entry's jump buffer */
    u32 trap_code;
    u32 depth;
    kiln_handler *handler;       /* innermost handler of the innermost entry, NULL if none */
    kiln_exception *exception;   /* the exception being thrown or leaving Wasm */
    kiln_exception *kept;        /* exceptions an exnref may name, freed with the store */
    u64 kept_count;              /* bounded: see KILN_MAX_KEPT_EXCEPTIONS in entry.c */
    /* A pending tail call (return_call*): the function that made it has returned to the
     * trampoline (kiln_tail_loop), which calls tail_thunk(tail_code, tail_ctx, tail_values). */
    void *tail_thunk;
    void *tail_code;
    void *tail_ctx;
    kiln_value *tail_values;     /* arguments in, results out; room for the largest arity */
    u64 tail_capacity;
    /* Embedder control (LimitsLowering): fuel left, charged by FUEL(n) when the engine meters
     * fuel. EPOCH_CHECK tests only `stop`, which other threads set (an engine's tick that reaches
     * the deadline, an interrupt): read through volatile, never cached. The runtime re-checks
     * why it was set before trapping, so a stale `stop` costs one call, never a wrong trap. */
    s64 fuel;
    /* Fuel slices (an async call's yield interval): while fuel_slice is non-zero, `fuel` holds at
     * most a slice and fuel_reserve the rest; running out of a slice refills it from the reserve
     * and checks in (kiln_out_of_fuel returns) instead of trapping. */
    u64 fuel_reserve;
    u64 fuel_slice;
    u64 fuel_yields;             /* check-ins so far */
    volatile u32 stop;
    volatile u32 interrupted;
    volatile u64 *epoch;         /* the engine's epoch counter */
    volatile u64 deadline;       /* the epoch at which calls trap */
    u32 limited;                 /* grows ask grow_check first */
    /* Asks the store's limits: 1 allows, 0 denies (the grow returns -1), -1 traps (host error).
     * kind 0 is a memory (sizes in bytes), 1 a table (elements). */
    int (*grow_check)(struct kiln_exec *exec, u32 kind, u64 current, u64 desired, u64 maximum);
    void *store;                 /* the Swift store, unretained */
    u64 stack_size;              /* the engine's Wasm stack size in bytes (0: the default) */
    struct kiln_heap *heap;      /* the store's GC heap (gc.c) */
} kiln_exec;

typedef struct kiln_segment {
    const u8 *bytes;
    u64 length;          /* 0 once dropped */
} kiln_segment;

typedef struct kiln_elem_segment {
    void **refs;
    u64 length;          /* 0 once dropped */
} kiln_elem_segment;

/* What a host function's code receives as its context: the Swift callback returns 0, or
 * non-zero to trap (the Swift side keeps the error it threw). */
struct kiln_host_context;
typedef u32 (*kiln_host_callback)(struct kiln_host_context *host, kiln_value *values);
typedef struct kiln_host_context {
    kiln_host_callback callback;
    void *swift_context;
    kiln_exec *exec;
    void *caller;        /* the importing instance's kiln_instance, or NULL through a table */
} kiln_host_context;

typedef struct kiln_instance {
    u8 *mem0;                   /* base of memory 0, cached: it never moves */
    kiln_exec *exec;
    kiln_memory **memories;
    kiln_table **tables;
    kiln_value **globals;       /* every global is a cell; imported ones point at the exporter's */
    kiln_funcref **funcs;       /* canonical record of every function index, imports included */
    kiln_segment *data;
    kiln_elem_segment *elems;
    void *host;                 /* the Swift instance, unretained */
    kiln_tag **tags;            /* every tag index, imports included */
    void **code;                /* the module's code table slots (CODE_SLOT) */
    const kiln_rtt **rtts;      /* the RTT of every type index (GC objects, casts) */
} kiln_instance;

/* Trap codes: keep in sync with TrapReason in Swift. */
enum {
    KILN_TRAP_NONE = 0,
    KILN_TRAP_UNREACHABLE = 1,
    KILN_TRAP_MEMORY_OOB = 2,
    KILN_TRAP_DIV_ZERO = 3,
    KILN_TRAP_INT_OVERFLOW = 4,
    KILN_TRAP_BAD_CONVERSION = 5,
    KILN_TRAP_UNDEFINED_ELEMENT = 6,
    KILN_TRAP_UNINITIALIZED_ELEMENT = 7,
    KILN_TRAP_INDIRECT_MISMATCH = 8,
    KILN_TRAP_STACK_EXHAUSTED = 9,
    KILN_TRAP_TABLE_OOB = 10,
    KILN_TRAP_NULL_REFERENCE = 11,
    KILN_TRAP_HOST = 12,
    KILN_TRAP_NULL_FUNCTION_REFERENCE = 13,
    KILN_TRAP_NULL_EXCEPTION_REFERENCE = 14,
    KILN_TRAP_UNALIGNED_ATOMIC = 16,
    KILN_TRAP_EXPECTED_SHARED_MEMORY = 17,
    KILN_TRAP_OUT_OF_FUEL = 18,
    KILN_TRAP_INTERRUPTED = 19,
    KILN_TRAP_OUT_OF_MEMORY = 20,
    KILN_TRAP_COMPILATION_FAILED = 21,
    KILN_TRAP_NULL_STRUCT = 22,
    KILN_TRAP_NULL_ARRAY = 23,
    KILN_TRAP_NULL_I31 = 24,
    KILN_TRAP_ARRAY_OOB = 25,
    KILN_TRAP_CAST_FAILURE = 26,
    KILN_TRAP_GC_HEAP_EXHAUSTED = 27,
    /* Not a trap: a Wasm exception left the entry (exec->exception holds it). */
    KILN_TRAP_EXCEPTION = 15,
};

/* Runtime entry points, registered with tcc_add_symbol. */
void kiln_trap(kiln_instance *ctx, u32 code) __attribute__((noreturn));
void kiln_trap_exec(kiln_exec *exec, u32 code) __attribute__((noreturn));
/* Memory and table operands are u64, so that 32-bit and 64-bit memories and tables (memory64,
 * table64) share one helper: a 32-bit operand arrives zero-extended. grow returns the old size
 * or (u64)-1; code for a 32-bit memory or table takes the low half (-1 as an i32). */
u64 kiln_memory_grow(kiln_instance *ctx, u32 mem, u64 delta);
void kiln_memory_fill(kiln_instance *ctx, u32 mem, u64 dst, u32 value, u64 n);
void kiln_memory_copy(kiln_instance *ctx, u32 dmem, u32 smem, u64 dst, u64 src, u64 n);
void kiln_memory_init(kiln_instance *ctx, u32 mem, u32 seg, u64 dst, u32 src, u32 n);
void *kiln_table_get(kiln_instance *ctx, u32 table, u64 index);
void kiln_table_set(kiln_instance *ctx, u32 table, u64 index, void *ref);
u64 kiln_table_grow(kiln_instance *ctx, u32 table, void *init, u64 delta);
void kiln_table_fill(kiln_instance *ctx, u32 table, u64 dst, void *ref, u64 n);
void kiln_table_copy(kiln_instance *ctx, u32 dtab, u32 stab, u64 dst, u64 src, u64 n);
void kiln_table_init(kiln_instance *ctx, u32 table, u32 seg, u64 dst, u32 src, u32 n);
u32 kiln_host_call(void *host_ctx, kiln_value *values);
/* A host function's non-zero status: KILN_TRAP_EXCEPTION throws exec->exception, else a trap. */
void kiln_host_failed(kiln_exec *exec, u32 status) __attribute__((noreturn));
/* Exceptions: a new one with room for `count` payload values; throw (to the innermost handler
 * of this entry, or out of the entry); after a catch, keep it for an exnref or release it. */
kiln_exception *kiln_exception_new(kiln_exec *exec, kiln_tag *tag, u32 count);
void kiln_throw(kiln_exec *exec, kiln_exception *exception) __attribute__((noreturn));
kiln_exception *kiln_exception_keep(kiln_exec *exec, kiln_exception *exception);
void kiln_exception_release(kiln_exec *exec, kiln_exception *exception);
/* GC (gc.c). Objects are zeroed with their RTT set; array lengths and indices are checked
 * there (traps: ARRAY_OOB, NULL_ARRAY, GC_HEAP_EXHAUSTED). Values cross by pointer. */
void *kiln_gc_struct_new(kiln_instance *ctx, u32 type);
void *kiln_gc_array_new(kiln_instance *ctx, u32 type, u32 length, const kiln_value *init);
void *kiln_gc_array_new_data(kiln_instance *ctx, u32 type, u32 seg, u32 offset, u32 length);
void *kiln_gc_array_new_elem(kiln_instance *ctx, u32 type, u32 seg, u32 offset, u32 length);
void kiln_gc_array_fill(kiln_instance *ctx, void *array, u32 offset, const kiln_value *value, u32 n);
void kiln_gc_array_copy(kiln_instance *ctx, void *dst, u32 d, void *src, u32 s, u32 n);
void kiln_gc_array_init_data(kiln_instance *ctx, void *array, u32 seg, u32 d, u32 s, u32 n);
void kiln_gc_array_init_elem(kiln_instance *ctx, void *array, u32 seg, u32 d, u32 s, u32 n);

/* The most parameters or results a function type may have (an implementation limit, as in
 * wasm-tools and wasmtime): the size of the tail-call buffer. */
#define KILN_MAX_ARITY 1000

/* Fuel went below 0: refills a slice from the reserve and returns (a check-in: the thread yields
 * and a stop traps), or traps with fuel 0. */
void kiln_out_of_fuel(kiln_instance *ctx);
/* `stop` was set: traps if the deadline passed or the store was interrupted, else clears it and
 * returns. */
void kiln_epoch_reached(kiln_instance *ctx);
/* Bulk operations' fuel: n units, trapping (fuel left at 0) if fewer are left. */
void kiln_fuel_charge(kiln_instance *ctx, u64 n);
/* Runs pending tail calls until one returns (its results then in exec->tail_values). */
void kiln_tail_loop(kiln_exec *exec);
/* A host function as a tail-call target: values in and out, like an entry thunk. */
void kiln_host_tail(void *code, void *host_ctx, kiln_value *values);

/* A minimal setjmp (entry.c): returns 0, and again 1 when kiln_throw jumps back. */
int kiln_setjmp(u64 *jump) __attribute__((returns_twice));
#ifndef __TINYC__
/* Its instructions, after the label: what kiln_longjmp (entry.c) restores. entry.c defines
 * kiln_setjmp with them, and each optimized object its own hidden copy (kiln_optimized.h). */
#if defined(__x86_64__)
#define KILN_SETJMP_BODY \
    "  movq %rbx, 0(%rdi)\n  movq %rbp, 8(%rdi)\n  movq %r12, 16(%rdi)\n  movq %r13, 24(%rdi)\n" \
    "  movq %r14, 32(%rdi)\n  movq %r15, 40(%rdi)\n  leaq 8(%rsp), %rdx\n  movq %rdx, 48(%rdi)\n" \
    "  movq (%rsp), %rdx\n  movq %rdx, 56(%rdi)\n  xorl %eax, %eax\n  ret\n"
#elif defined(__aarch64__)
#define KILN_SETJMP_BODY \
    "  stp x19, x20, [x0, #0]\n  stp x21, x22, [x0, #16]\n  stp x23, x24, [x0, #32]\n" \
    "  stp x25, x26, [x0, #48]\n  stp x27, x28, [x0, #64]\n  stp x29, x30, [x0, #80]\n" \
    "  mov x2, sp\n  str x2, [x0, #96]\n  stp d8, d9, [x0, #104]\n  stp d10, d11, [x0, #120]\n" \
    "  stp d12, d13, [x0, #136]\n  stp d14, d15, [x0, #152]\n  mov w0, #0\n  ret\n"
#endif
#endif
/* Numeric and SIMD helpers (numeric.c, simd.c): functions of the runtime for TCC; in the
 * optimized tier (KILN_OPTIMIZED, an optimizing compiler building a shared object) the same
 * source is compiled into the module as static inline functions, so they inline into the code. */
#ifdef KILN_OPTIMIZED
#define KILN_HELPER static inline __attribute__((always_inline))
#else
#define KILN_HELPER
#endif
KILN_HELPER f32 kiln_f32_nearest(f32 x);
KILN_HELPER f64 kiln_f64_nearest(f64 x);
KILN_HELPER f32 kiln_f32_trunc(f32 x);
KILN_HELPER f64 kiln_f64_trunc(f64 x);
KILN_HELPER f32 kiln_f32_ceil(f32 x);
KILN_HELPER f64 kiln_f64_ceil(f64 x);
KILN_HELPER f32 kiln_f32_floor(f32 x);
KILN_HELPER f64 kiln_f64_floor(f64 x);
KILN_HELPER f32 kiln_f32_sqrt(f32 x);
KILN_HELPER f64 kiln_f64_sqrt(f64 x);
KILN_HELPER f32 kiln_f32_min(f32 a, f32 b);
KILN_HELPER f32 kiln_f32_max(f32 a, f32 b);
KILN_HELPER f64 kiln_f64_min(f64 a, f64 b);
KILN_HELPER f64 kiln_f64_max(f64 a, f64 b);
KILN_HELPER u32 kiln_i32_clz(u32 x);
KILN_HELPER u32 kiln_i32_ctz(u32 x);
KILN_HELPER u32 kiln_i32_popcnt(u32 x);
KILN_HELPER u64 kiln_i64_clz(u64 x);
KILN_HELPER u64 kiln_i64_ctz(u64 x);
KILN_HELPER u64 kiln_i64_popcnt(u64 x);
/* Float -> int truncation: the trapping forms trap through ctx; the saturating forms do not. */
KILN_HELPER u32 kiln_i32_trunc_f32_s(kiln_instance *ctx, f32 x);
KILN_HELPER u32 kiln_i32_trunc_f32_u(kiln_instance *ctx, f32 x);
KILN_HELPER u32 kiln_i32_trunc_f64_s(kiln_instance *ctx, f64 x);
KILN_HELPER u32 kiln_i32_trunc_f64_u(kiln_instance *ctx, f64 x);
KILN_HELPER u64 kiln_i64_trunc_f32_s(kiln_instance *ctx, f32 x);
KILN_HELPER u64 kiln_i64_trunc_f32_u(kiln_instance *ctx, f32 x);
KILN_HELPER u64 kiln_i64_trunc_f64_s(kiln_instance *ctx, f64 x);
KILN_HELPER u64 kiln_i64_trunc_f64_u(kiln_instance *ctx, f64 x);
KILN_HELPER u32 kiln_i32_trunc_sat_f32_s(f32 x);
KILN_HELPER u32 kiln_i32_trunc_sat_f32_u(f32 x);
KILN_HELPER u32 kiln_i32_trunc_sat_f64_s(f64 x);
KILN_HELPER u32 kiln_i32_trunc_sat_f64_u(f64 x);
KILN_HELPER u64 kiln_i64_trunc_sat_f32_s(f32 x);
KILN_HELPER u64 kiln_i64_trunc_sat_f32_u(f32 x);
KILN_HELPER u64 kiln_i64_trunc_sat_f64_s(f64 x);
KILN_HELPER u64 kiln_i64_trunc_sat_f64_u(f64 x);
KILN_HELPER f32 kiln_f32_convert_u64(u64 x);
KILN_HELPER f64 kiln_f64_convert_u64(u64 x);

/* SIMD (v128) helpers, in simd.c. A v128 crosses into them only by pointer (TCC passes 16-byte
 * unions in other registers than clang); the destination may alias an operand. Memory helpers
 * take the address generated code computed, so an access past the end faults into a trap.
 * TCC sees only the typedefs: a module redeclares the helpers it calls (ModuleLowering), so that
 * modules without SIMD do not pay for parsing two hundred declarations. */
typedef void kiln_v128_unary(kiln_value *d, const kiln_value *a);
typedef void kiln_v128_binary(kiln_value *d, const kiln_value *a, const kiln_value *b);
typedef void kiln_v128_ternary(kiln_value *d, const kiln_value *a, const kiln_value *b, const kiln_value *c);
typedef u32 kiln_v128_test(const kiln_value *a);
typedef void kiln_v128_shift(kiln_value *d, const kiln_value *a, u32 count);
typedef void kiln_v128_load(kiln_value *d, const u8 *p);
#ifndef __TINYC__
KILN_HELPER kiln_v128_unary kiln_f32x4_abs, kiln_f32x4_ceil, kiln_f32x4_convert_i32x4_s,
    kiln_f32x4_convert_i32x4_u, kiln_f32x4_demote_f64x2_zero, kiln_f32x4_floor, kiln_f32x4_nearest,
    kiln_f32x4_neg, kiln_f32x4_sqrt, kiln_f32x4_trunc, kiln_f64x2_abs, kiln_f64x2_ceil,
    kiln_f64x2_convert_low_i32x4_s, kiln_f64x2_convert_low_i32x4_u, kiln_f64x2_floor,
    kiln_f64x2_nearest, kiln_f64x2_neg, kiln_f64x2_promote_low_f32x4, kiln_f64x2_sqrt,
    kiln_f64x2_trunc, kiln_i16x8_abs, kiln_i16x8_extadd_pairwise_i8x16_s,
    kiln_i16x8_extadd_pairwise_i8x16_u, kiln_i16x8_extend_high_i8x16_s,
    kiln_i16x8_extend_high_i8x16_u, kiln_i16x8_extend_low_i8x16_s, kiln_i16x8_extend_low_i8x16_u,
    kiln_i16x8_neg, kiln_i32x4_abs, kiln_i32x4_extadd_pairwise_i16x8_s,
    kiln_i32x4_extadd_pairwise_i16x8_u, kiln_i32x4_extend_high_i16x8_s,
    kiln_i32x4_extend_high_i16x8_u, kiln_i32x4_extend_low_i16x8_s, kiln_i32x4_extend_low_i16x8_u,
    kiln_i32x4_neg, kiln_i32x4_trunc_sat_f32x4_s, kiln_i32x4_trunc_sat_f32x4_u,
    kiln_i32x4_trunc_sat_f64x2_s_zero, kiln_i32x4_trunc_sat_f64x2_u_zero, kiln_i64x2_abs,
    kiln_i64x2_extend_high_i32x4_s, kiln_i64x2_extend_high_i32x4_u, kiln_i64x2_extend_low_i32x4_s,
    kiln_i64x2_extend_low_i32x4_u, kiln_i64x2_neg, kiln_i8x16_abs, kiln_i8x16_neg,
    kiln_i8x16_popcnt, kiln_v128_not;
KILN_HELPER kiln_v128_binary kiln_f32x4_add, kiln_f32x4_div, kiln_f32x4_eq, kiln_f32x4_ge, kiln_f32x4_gt,
    kiln_f32x4_le, kiln_f32x4_lt, kiln_f32x4_max, kiln_f32x4_min, kiln_f32x4_mul, kiln_f32x4_ne,
    kiln_f32x4_pmax, kiln_f32x4_pmin, kiln_f32x4_sub, kiln_f64x2_add, kiln_f64x2_div, kiln_f64x2_eq,
    kiln_f64x2_ge, kiln_f64x2_gt, kiln_f64x2_le, kiln_f64x2_lt, kiln_f64x2_max, kiln_f64x2_min,
    kiln_f64x2_mul, kiln_f64x2_ne, kiln_f64x2_pmax, kiln_f64x2_pmin, kiln_f64x2_sub, kiln_i16x8_add,
    kiln_i16x8_add_sat_s, kiln_i16x8_add_sat_u, kiln_i16x8_avgr_u, kiln_i16x8_eq,
    kiln_i16x8_extmul_high_i8x16_s, kiln_i16x8_extmul_high_i8x16_u, kiln_i16x8_extmul_low_i8x16_s,
    kiln_i16x8_extmul_low_i8x16_u, kiln_i16x8_ge_s, kiln_i16x8_ge_u, kiln_i16x8_gt_s,
    kiln_i16x8_gt_u, kiln_i16x8_le_s, kiln_i16x8_le_u, kiln_i16x8_lt_s, kiln_i16x8_lt_u,
    kiln_i16x8_max_s, kiln_i16x8_max_u, kiln_i16x8_min_s, kiln_i16x8_min_u, kiln_i16x8_mul,
    kiln_i16x8_narrow_i32x4_s, kiln_i16x8_narrow_i32x4_u, kiln_i16x8_ne, kiln_i16x8_q15_mulr_sat_s,
    kiln_i16x8_sub, kiln_i16x8_sub_sat_s, kiln_i16x8_sub_sat_u, kiln_i32x4_add,
    kiln_i32x4_dot_i16x8_s, kiln_i32x4_eq, kiln_i32x4_extmul_high_i16x8_s,
    kiln_i32x4_extmul_high_i16x8_u, kiln_i32x4_extmul_low_i16x8_s, kiln_i32x4_extmul_low_i16x8_u,
    kiln_i32x4_ge_s, kiln_i32x4_ge_u, kiln_i32x4_gt_s, kiln_i32x4_gt_u, kiln_i32x4_le_s,
    kiln_i32x4_le_u, kiln_i32x4_lt_s, kiln_i32x4_lt_u, kiln_i32x4_max_s, kiln_i32x4_max_u,
    kiln_i32x4_min_s, kiln_i32x4_min_u, kiln_i32x4_mul, kiln_i32x4_ne, kiln_i32x4_sub,
    kiln_i64x2_add, kiln_i64x2_eq, kiln_i64x2_extmul_high_i32x4_s, kiln_i64x2_extmul_high_i32x4_u,
    kiln_i64x2_extmul_low_i32x4_s, kiln_i64x2_extmul_low_i32x4_u, kiln_i64x2_ge_s, kiln_i64x2_gt_s,
    kiln_i64x2_le_s, kiln_i64x2_lt_s, kiln_i64x2_mul, kiln_i64x2_ne, kiln_i64x2_sub, kiln_i8x16_add,
    kiln_i8x16_add_sat_s, kiln_i8x16_add_sat_u, kiln_i8x16_avgr_u, kiln_i8x16_eq, kiln_i8x16_ge_s,
    kiln_i8x16_ge_u, kiln_i8x16_gt_s, kiln_i8x16_gt_u, kiln_i8x16_le_s, kiln_i8x16_le_u,
    kiln_i8x16_lt_s, kiln_i8x16_lt_u, kiln_i8x16_max_s, kiln_i8x16_max_u, kiln_i8x16_min_s,
    kiln_i8x16_min_u, kiln_i8x16_narrow_i16x8_s, kiln_i8x16_narrow_i16x8_u, kiln_i8x16_ne,
    kiln_i8x16_sub, kiln_i8x16_sub_sat_s, kiln_i8x16_sub_sat_u, kiln_i8x16_swizzle, kiln_v128_and,
    kiln_v128_andnot, kiln_v128_or, kiln_v128_xor;
KILN_HELPER kiln_v128_ternary kiln_v128_bitselect;
/* Relaxed SIMD (Wasm 3.0): the operations that have no Wasm 2.0 helper to reuse. */
KILN_HELPER kiln_v128_binary kiln_i16x8_relaxed_dot_i8x16_i7x16_s;
KILN_HELPER kiln_v128_ternary kiln_f32x4_relaxed_madd, kiln_f32x4_relaxed_nmadd, kiln_f64x2_relaxed_madd,
    kiln_f64x2_relaxed_nmadd, kiln_i32x4_relaxed_dot_i8x16_i7x16_add_s;
KILN_HELPER kiln_v128_test kiln_i16x8_all_true, kiln_i16x8_bitmask, kiln_i32x4_all_true, kiln_i32x4_bitmask,
    kiln_i64x2_all_true, kiln_i64x2_bitmask, kiln_i8x16_all_true, kiln_i8x16_bitmask,
    kiln_v128_any_true;
KILN_HELPER kiln_v128_shift kiln_i16x8_shl, kiln_i16x8_shr_s, kiln_i16x8_shr_u, kiln_i32x4_shl,
    kiln_i32x4_shr_s, kiln_i32x4_shr_u, kiln_i64x2_shl, kiln_i64x2_shr_s, kiln_i64x2_shr_u,
    kiln_i8x16_shl, kiln_i8x16_shr_s, kiln_i8x16_shr_u;
KILN_HELPER kiln_v128_load kiln_v128_load8x8_s, kiln_v128_load8x8_u, kiln_v128_load16x4_s, kiln_v128_load16x4_u,
    kiln_v128_load32x2_s, kiln_v128_load32x2_u, kiln_v128_load8_splat, kiln_v128_load16_splat,
    kiln_v128_load32_splat, kiln_v128_load64_splat, kiln_v128_load32_zero, kiln_v128_load64_zero;
KILN_HELPER void kiln_i8x16_splat(kiln_value *d, u32 x);
KILN_HELPER void kiln_i16x8_splat(kiln_value *d, u32 x);
KILN_HELPER void kiln_i32x4_splat(kiln_value *d, u32 x);
KILN_HELPER void kiln_i64x2_splat(kiln_value *d, u64 x);
KILN_HELPER void kiln_f32x4_splat(kiln_value *d, f32 x);
KILN_HELPER void kiln_f64x2_splat(kiln_value *d, f64 x);
/* Lane indices (each below 32) packed little-endian into two u64s. */
KILN_HELPER void kiln_i8x16_shuffle(kiln_value *d, const kiln_value *a, const kiln_value *b, u64 low, u64 high);
/* One 16-byte store: a store that traps writes nothing. */
KILN_HELPER void kiln_v128_store(u8 *p, const kiln_value *v);
#endif

/* ---- Building blocks of generated code: macros, because TCC never inlines. ---- */

/* The module's code table (code_table.c): a defined function is called through its slot, so that
 * code compiled later (lazily, or optimized) takes over at the next call. */
#define CODE_SLOT(defined_index) (ctx->code[2 * (defined_index)])

#define TRAP(code) kiln_trap(ctx, KILN_TRAP_##code)

/* Entering a try block links the frame's handler in; then `if (kiln_setjmp(H.jump))` is where
 * a throw comes back to, with the exception in CAUGHT. */
#define TRY_LINK(H) ((H).prev = ctx->exec->handler, ctx->exec->handler = &(H))
#define CAUGHT (ctx->exec->exception)

/* The frame check: a Wasm call whose frame would cross the limit traps instead of overflowing. */
#ifdef __TINYC__
#define STACK_CHECK(frame) \
    { char kiln_marker; if (&kiln_marker - (frame) < ctx->exec->stack_limit) TRAP(STACK_EXHAUSTED); }
/* With epochs on: the same test, where a stop (deadline, interrupt) also fails it. */
#define STACK_CHECK_EPOCH(frame) \
    { char kiln_marker; if (&kiln_marker - (frame) < ctx->exec->stack_limit) kiln_stack_or_stop(ctx, &kiln_marker - (frame)); }
#else
/* Integer arithmetic: pointers into different objects do not compare under an optimizer. */
#define STACK_CHECK(frame) \
    { if ((u64)__builtin_frame_address(0) - (u64)(frame) < (u64)ctx->exec->stack_limit) TRAP(STACK_EXHAUSTED); }
#define STACK_CHECK_EPOCH(frame) \
    { if ((u64)__builtin_frame_address(0) - (u64)(frame) < (u64)ctx->exec->stack_limit) \
        kiln_stack_or_stop(ctx, (char *)__builtin_frame_address(0) - (frame)); }
#endif
#define KILN_STOP_LIMIT ((char *)~(u64)0)
void kiln_stack_or_stop(kiln_instance *ctx, char *frame_bottom);

/* Locals, parameters and slots of a function with try blocks: an optimizer could keep them in
 * registers that the jump back from kiln_throw restores to their values at kiln_setjmp. TCC
 * keeps every local in memory anyway. */
#ifdef __TINYC__
#define TRY_VOLATILE
#else
#define TRY_VOLATILE volatile
#endif

/* Embedder control, emitted only when the engine enables it. FUEL(n) charges a straight-line
 * region of n instructions before it runs; EPOCH_CHECK runs at loop headers (and at the entry of
 * functions that make tail calls; other functions that call test `stop` in STACK_CHECK_EPOCH). */
#define FUEL(n) { if ((ctx->exec->fuel -= (n)) < 0) kiln_out_of_fuel(ctx); }
/* The same through KF, the counter's address that functions with loops compute at entry. */
#define FUEL_P(n) { if ((*KF -= (n)) < 0) kiln_out_of_fuel(ctx); }
#define EPOCH_CHECK { if (ctx->exec->stop) kiln_epoch_reached(ctx); }
#define EPOCH_CHECK_P { if (*KS) kiln_epoch_reached(ctx); }

/* Linear memory access: M0, M1, ... are the function's cached bases of memories 0, 1, ... (a
 * base never moves). Addresses are 32-bit, offsets below 4 GiB, and 8 GiB (plus a guard) are
 * reserved per memory, so any address lands in the reservation and an access past the end faults
 * on a guard page, which the signal handler turns into a trap. A 64-bit memory (memory64) holds
 * at most 4 GiB too: the lowering checks that an address's high half is zero (one test and a
 * branch, once per local and straight-line stretch of code) and then uses these same macros. */
#ifdef __TINYC__
#define MEM(M, addr, off, T) (*(T *)((M) + (u64)(u32)(addr) + (off##ull)))
#else
/* An optimizer may assume a typed pointer is aligned and does not alias other types: a packed,
 * may_alias wrapper makes every access an unaligned access of unknown type, as Wasm's are. */
#define MEM(M, addr, off, T) \
    (((struct __attribute__((packed, may_alias)) { T v; } *)((M) + (u64)(u32)(addr) + (off##ull)))->v)
#endif
#define LOAD(M, addr, off, T) MEM(M, addr, off, T)
#define STORE(M, addr, off, T, v) (MEM(M, addr, off, T) = (v))
/* The address of an access, for helpers that do it (v128 loads and stores). */
#define ADDR(M, addr, off) ((M) + (u64)(u32)(addr) + (off##ull))
/* The check of a 64-bit memory's address: past 4 GiB is out of bounds whatever the offset. */
#define CHECK_ADDR64(addr) if ((u64)(addr) >> 32) TRAP(MEMORY_OOB)

/* Bit-level float views through compound literals: no call, and NaN payloads stay intact
 * (this TCC's unary minus does not flip a NaN's sign, so neg/abs/copysign are bit operations). */
typedef union { f32 f; u32 u; } kiln_f32_bits;
typedef union { f64 f; u64 u; } kiln_f64_bits;
#define F32_BITS(x) (((kiln_f32_bits){.f = (x)}).u)
#define F64_BITS(x) (((kiln_f64_bits){.f = (x)}).u)
#define BITS_F32(x) (((kiln_f32_bits){.u = (x)}).f)
#define BITS_F64(x) (((kiln_f64_bits){.u = (x)}).f)
/* A float constant the optimizer must not see through (±0, ±1: see CSyntax.f32): TCC folds
 * nothing, so there it is the constant itself. */
#if defined(__TINYC__) || !defined(KILN_OPTIMIZED)
#define FLOAT_OPAQUE(T, x) (x)
#elif defined(__x86_64__)
#define FLOAT_OPAQUE(T, x) ({ T kiln_opaque = (x); __asm__("" : "+x"(kiln_opaque)); kiln_opaque; })
#else
#define FLOAT_OPAQUE(T, x) ({ T kiln_opaque = (x); __asm__("" : "+w"(kiln_opaque)); kiln_opaque; })
#endif
/* A dropped value that must still be computed (a load that may trap): TCC computes everything. */
#if defined(__TINYC__) || !defined(KILN_OPTIMIZED)
#define KEEP(x)
#else
#define KEEP(x) __asm__ volatile("" : : "m"(x))
#endif
/* f64.promote_f32: an optimizer folds demote(promote(x)) to x, which would keep a signalling NaN
 * signalling; the barrier keeps the promotion, which quiets it. */
#if defined(__TINYC__) || !defined(KILN_OPTIMIZED)
#define F64_PROMOTE(x) ((f64)(x))
#else
#define F64_PROMOTE(x) FLOAT_OPAQUE(f64, (f64)(x))
#endif
#define F32_NEG(x) BITS_F32(F32_BITS(x) ^ 0x80000000u)
#define F64_NEG(x) BITS_F64(F64_BITS(x) ^ 0x8000000000000000ull)
#define F32_ABS(x) BITS_F32(F32_BITS(x) & 0x7fffffffu)
#define F64_ABS(x) BITS_F64(F64_BITS(x) & 0x7fffffffffffffffull)
#define F32_COPYSIGN(a, b) BITS_F32((F32_BITS(a) & 0x7fffffffu) | (F32_BITS(b) & 0x80000000u))
#define F64_COPYSIGN(a, b) BITS_F64((F64_BITS(a) & 0x7fffffffffffffffull) | (F64_BITS(b) & 0x8000000000000000ull))

/* A comparison as an i32 value; as a branch condition the lowering drops it so TCC branches on
 * the flags. */
#define CMP(x) ((u32)(x))

#define I32_ROTL(a, b) ((u32)(((u32)(a) << ((b) & 31)) | ((u32)(a) >> ((32 - ((b) & 31)) & 31))))
#define I32_ROTR(a, b) ((u32)(((u32)(a) >> ((b) & 31)) | ((u32)(a) << ((32 - ((b) & 31)) & 31))))
#define I64_ROTL(a, b) ((u64)(((u64)(a) << ((b) & 63)) | ((u64)(a) >> ((64 - ((b) & 63)) & 63))))
#define I64_ROTR(a, b) ((u64)(((u64)(a) >> ((b) & 63)) | ((u64)(a) << ((64 - ((b) & 63)) & 63))))

/* GC references are words: 0 null, odd an i31 ((value << 1) | 1), 2 mod 4 a host reference
 * (an externref from the host, also as an anyref), else a GC object (16-byte aligned) whose first
 * word is its RTT. Arrays keep their length at +8 and their elements from +16. */
#define GC_W(r) ((u64)(r))
#define GC_IS_OBJ(r) (GC_W(r) && !(GC_W(r) & 3))
#define GC_RTT(r) (*(const kiln_rtt *const *)(r))
#define FUNC_RTT(r) (((kiln_function *)(r))->rtt)
#ifdef __TINYC__
#define GC_AT(r, off, T) (*(T *)((u8 *)(r) + (off)))
#else
#define GC_AT(r, off, T) (((struct __attribute__((may_alias)) { T v; } *)((u8 *)(r) + (off)))->v)
#endif
#define GC_LEN(r) GC_AT(r, 8, u32)
#define GC_ELEM(r, i, T) GC_AT(r, 16 + (u64)(i) * sizeof(T), T)
#define I31_NEW(x) ((void *)(u64)((((u32)(x)) << 1) | 1u))
#define I31_S(r) ((u32)((s32)(u32)GC_W(r) >> 1))
#define I31_U(r) ((u32)GC_W(r) >> 1)

#endif
