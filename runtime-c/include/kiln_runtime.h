/* The runtime as Swift sees it: entering Wasm, memories, tables, and the embedded prelude. */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include "kiln_prelude.h"
#include "kiln_gc.h"

/* Generated per-signature entry thunk: unpacks arguments from values, calls code(ctx, ...),
 * packs the results back into values. */
typedef void (*kiln_thunk)(void *code, void *ctx, kiln_value *values);

/* Calls thunk(code, ctx, values) as a Wasm entry: on a Kiln-owned stack (unless already on
 * one), with traps unwinding to here. Returns 0 or the KILN_TRAP_* code. */
u32 kiln_enter(kiln_exec *exec, kiln_thunk thunk, void *code, void *ctx, kiln_value *values);

/* Swift cannot reach a flexible array member: the payload of an exception. */
kiln_value *kiln_exception_payload(kiln_exception *exception);

/* Makes room for `count` values in the exec's tail-call buffer. Returns 0 on success. */
int kiln_exec_reserve_tail(kiln_exec *exec, u64 count);

/* Frees what a store's execution state still holds (exceptions kept for exnrefs). */
void kiln_exec_release(kiln_exec *exec);

/* The innermost trap's backtrace: return addresses, innermost first. */
u32 kiln_trap_backtrace(void **out, u32 capacity);

/* Epochs and interrupts. An engine's clock holds its epoch and the execs of its stores that check
 * deadlines; a tick increments the epoch and sets `stop` in every exec whose deadline it reaches,
 * reading that list without a lock (async-signal-safe: any thread, or a signal handler, may
 * tick). The deadline is absolute (an epoch value). An interrupt sets `stop` too; the trap it
 * causes clears it. */
typedef struct kiln_clock kiln_clock;
kiln_clock *kiln_clock_create(void);
void kiln_clock_destroy(kiln_clock *clock);
void kiln_clock_tick(kiln_clock *clock);
u64 kiln_clock_now(kiln_clock *clock);
volatile u64 *kiln_clock_epoch(kiln_clock *clock);
int kiln_clock_attach(kiln_clock *clock, kiln_exec *exec);
void kiln_clock_detach(kiln_clock *clock, kiln_exec *exec);
void kiln_exec_set_deadline(kiln_exec *exec, u64 deadline);
void kiln_exec_interrupt(kiln_exec *exec);
void kiln_exec_clear_interrupt(kiln_exec *exec);

/* A module's code table (code_table.c): two slots per defined function (2i its code, 2i + 1 its
 * tail entry), each with a stub that jumps through it. A slot starts at its stub's lazy part,
 * which calls resolve(owner, slot) on first use; that returns the code to run (having installed
 * it) or NULL, which traps with KILN_TRAP_COMPILATION_FAILED. */
typedef void *(*kiln_code_resolver)(void *owner, u32 slot);
typedef struct kiln_code_table {
    void **slots;        /* what generated code calls through (kiln_instance.code) */
    u8 *stubs;
    u32 count;           /* slots */
    u32 stub_bytes;
    kiln_code_resolver resolve;
    void *owner;
    u8 *mapping;
    u64 mapping_bytes;
} kiln_code_table;
kiln_code_table *kiln_code_table_create(u32 functions, kiln_code_resolver resolve, void *owner);
void kiln_code_table_destroy(kiln_code_table *table);
/* A slot's stub entry: the stable address of whatever the slot holds. */
void *kiln_code_table_stub(kiln_code_table *table, u32 slot);
void kiln_code_table_install(kiln_code_table *table, u32 slot, void *code);
/* The code behind a stub now: what its slot holds once resolved, else the stub itself (whose
 * lazy part must not be called directly: only the entry resolves once and for all). */
void *kiln_code_current(void **slot, void *stub);
/* The table element for a reference: for a function table a copy of the function's record
 * with the code its slot holds now (so that indirect calls skip the stub), else just `ref`. */
kiln_funcref kiln_table_element(void *ref, u32 is_funcref);

/* For runtime code that runs Swift in the middle of Wasm (host calls, lazy compilation): leave
 * returns the thread's previous state, to give back to return_to_wasm. */
int kiln_thread_leave_wasm(void);
void kiln_thread_return_to_wasm(int previous);
/* Traps in the thread's innermost entry. */
void kiln_trap_current(u32 code) __attribute__((noreturn));

/* Size of the Wasm stack of threads that enter Wasm from now on (bytes). */
void kiln_set_stack_size(u64 bytes);

/* Linear memory: reserves the whole addressable range plus guard up front. Returns 0 on success. */
int kiln_memory_create(kiln_memory *memory, u64 min_pages, u64 max_pages);
void kiln_memory_destroy(kiln_memory *memory);
/* Grows by delta pages; returns the old size or (u64)-1. */
u64 kiln_memory_grow_raw(kiln_memory *memory, u64 delta);

int kiln_table_reserve(kiln_table *table, u32 size, u32 max);
u32 kiln_table_grow_raw(kiln_table *table, u32 delta, kiln_funcref init);
void kiln_table_destroy(kiln_table *table);

/* One TinyCC compiler: libtcc's API as function pointers. This libtcc keeps its state in globals,
 * so one compiler compiles one thing at a time; a copy loaded from libtcc's static archive (by
 * libtcc itself, into memory) has globals of its own and compiles in parallel with the original. */
struct TCCState;
typedef struct kiln_tcc_api {
    struct TCCState *(*new_state)(void);
    void (*delete_state)(struct TCCState *state);
    void (*set_error_func)(struct TCCState *state, void *opaque, void (*report)(void *opaque, const char *message));
    void (*set_options)(struct TCCState *state, const char *options);
    int (*set_output_type)(struct TCCState *state, int type);
    int (*add_symbol)(struct TCCState *state, const char *name, const void *address);
    int (*add_file)(struct TCCState *state, const char *path);
    int (*compile_string)(struct TCCState *state, const char *source);
    int (*relocate)(struct TCCState *state);          /* into memory it manages (TCC_RELOCATE_AUTO) */
    void *(*get_symbol)(struct TCCState *state, const char *name);
} kiln_tcc_api;
/* The libtcc Kiln links. */
const kiln_tcc_api *kiln_tcc_original(void);
/* Another compiler, loaded from `archive` (libtcc.a); it stays loaded for the life of the
 * process. NULL when the archive cannot be loaded. */
const kiln_tcc_api *kiln_tcc_load_copy(const char *archive);

/* The prelude's text, NUL-terminated, for libtcc. */
extern const char kiln_prelude_text[];

/* Addresses of every runtime entry point that generated code may call, for tcc_add_symbol. */
typedef struct kiln_symbol { const char *name; const void *address; } kiln_symbol;
extern const kiln_symbol kiln_runtime_symbols[];
extern const u32 kiln_runtime_symbol_count;

/* Swift imports C arrays of unknown size poorly: accessors. */
const char *kiln_prelude_text_pointer(void);
const kiln_symbol *kiln_runtime_symbols_pointer(void);

/* The optimized tier's texts (OptimizingCompiler): runtime-c/optimized/kiln_optimized.h,
 * numeric.c and simd.c, NUL-terminated. */
const char *kiln_optimized_text_pointer(void);
const char *kiln_numeric_text_pointer(void);
const char *kiln_simd_text_pointer(void);

/* SHA-256 of len bytes (sha256.c): the optimized-code cache's keys and checksums. */
void kiln_sha256(const void *data, u64 len, u8 out[32]);

#endif
