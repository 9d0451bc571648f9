/* Entering Wasm and leaving it by trap: the setjmp shim, the Kiln-owned stack and the signal
 * handler that turns guard-page faults into traps. Swift cannot call setjmp, so every host->Wasm
 * call comes through kiln_enter, and every trap longjmps back to the innermost kiln_enter. */
#define _GNU_SOURCE
#include "kiln_runtime.h"
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KILN_MAX_FRAMES 64
#define KILN_GUARD_BYTES (256u * 1024u)
/* Room left below the limit for host functions (Swift code) called from the deepest Wasm frame. */
#define KILN_HOST_MARGIN (256u * 1024u)

typedef struct kiln_jump {
    jmp_buf buf;
    char *frame;          /* the entry's frame: backtraces stop here */
    char *floor;          /* below the entry's own frame: where the Wasm frames start */
} kiln_jump;

typedef struct kiln_thread {
    char *stack_base;     /* lowest address of the mapping, guard included */
    u64 stack_bytes;
    int on_kiln_stack;
    int in_wasm;          /* 1 while generated code (not a host function) runs on this thread */
    kiln_exec *exec;
    void *frames[KILN_MAX_FRAMES];
    u32 frame_count;
    char *altstack;
} kiln_thread;

static _Thread_local kiln_thread current;
static u64 stack_size = 16ull << 20;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static struct sigaction previous_segv, previous_bus;

void kiln_set_stack_size(u64 bytes) { stack_size = bytes; }

static void record_backtrace(void *pc, char **fp, char *stop) {
    u32 n = 0;
    if (pc) current.frames[n++] = pc;
    char *low = current.stack_base, *high = current.stack_base + current.stack_bytes;
    while (fp && n < KILN_MAX_FRAMES && (char *)fp >= low && (char *)fp < high && (char *)fp < stop) {
        void *ret = fp[1];
        if (!ret) break;
        current.frames[n++] = ret;
        char **next = (char **)fp[0];
        if (next <= fp) break;
        fp = next;
    }
    current.frame_count = n;
}

u32 kiln_trap_backtrace(void **out, u32 capacity) {
    u32 n = current.frame_count < capacity ? current.frame_count : capacity;
    memcpy(out, current.frames, n * sizeof(void *));
    return n;
}

static void trap_with(kiln_exec *exec, u32 code, void *pc, char **fp) __attribute__((noreturn));
static void trap_with(kiln_exec *exec, u32 code, void *pc, char **fp) {
    kiln_jump *jump = (kiln_jump *)exec->jmp;
    exec->trap_code = code;
    record_backtrace(pc, fp, jump->frame);
    /* The frames a trap abandons are dead: zero them, so that the GC's conservative scan of
     * the next call's frames (which reuse the space) does not find their stale references. */
#if defined(__x86_64__)
    char *from = (char *)fp + 16;   /* past the saved frame pointer and return address */
#else
    char *from = (char *)fp + 256;  /* AArch64 keeps a frame's locals above its frame record */
#endif
    if (current.stack_base && from > current.stack_base && from < jump->floor) memset(from, 0, (size_t)(jump->floor - from));
    longjmp(jump->buf, 1);
}

void kiln_trap(kiln_instance *ctx, u32 code) {
    trap_with(ctx->exec, code, 0, (char **)__builtin_frame_address(0));
}

void kiln_trap_exec(kiln_exec *exec, u32 code) {
    trap_with(exec, code, 0, (char **)__builtin_frame_address(0));
}

/* ---- Fuel, epochs and interrupts ---- */

/* `fuel` went below 0 with slices on: slices of fuel_slice units move from the reserve into the
 * counter until the overdraft is paid (so check-ins fall every fuel_slice units of consumption),
 * then the thread checks in: it yields the processor, and a stop (interrupt, deadline) traps.
 * Without slices, or without enough reserve: fuel 0 and the out-of-fuel trap. */
static void refill_or_trap(kiln_instance *ctx) {
    kiln_exec *exec = ctx->exec;
    while (exec->fuel < 0 && exec->fuel_slice && exec->fuel_reserve) {
        u64 slice = exec->fuel_reserve < exec->fuel_slice ? exec->fuel_reserve : exec->fuel_slice;
        exec->fuel_reserve -= slice;
        exec->fuel += (s64)slice;
    }
    if (exec->fuel < 0) {
        exec->fuel = 0;
        exec->fuel_reserve = 0;
        trap_with(exec, KILN_TRAP_OUT_OF_FUEL, 0, (char **)__builtin_frame_address(0));
    }
    exec->fuel_yields++;
    sched_yield();
    if (__atomic_load_n(&exec->stop, __ATOMIC_SEQ_CST)) kiln_epoch_reached(ctx);
}

void kiln_out_of_fuel(kiln_instance *ctx) {
    refill_or_trap(ctx);
}

void kiln_fuel_charge(kiln_instance *ctx, u64 n) {
    kiln_exec *exec = ctx->exec;
    if (exec->fuel < 0 || (u64)exec->fuel < n) {
        /* An overdraft of at most 2^63 units; more than any store holds (fuel is an s64). */
        u64 have = exec->fuel < 0 ? 0 : (u64)exec->fuel;
        u64 owed = n - have;
        exec->fuel = owed > (u64)INT64_MAX ? INT64_MIN : -(s64)owed;
        refill_or_trap(ctx);
        return;
    }
    exec->fuel -= (s64)n;
}

static int deadline_reached(kiln_exec *exec) {
    return __atomic_load_n(exec->epoch, __ATOMIC_SEQ_CST) >= __atomic_load_n(&exec->deadline, __ATOMIC_SEQ_CST);
}

/* `stop` as the deadline alone says it should be (after an interrupt was consumed). */
/* Setting stop: the flag, then the stack limit that entry checks test. Clearing (only by the
 * exec's own thread, or while it runs nothing): the real limit back, then the flag, and the
 * caller looks again at why it was set. A setter racing with a clear either finds its store
 * last, or its cause (the epoch's tick, `interrupted`) is seen by that look. */
static void set_stop(kiln_exec *exec) {
    __atomic_store_n(&exec->stop, 1, __ATOMIC_SEQ_CST);
    if (exec->stop_limits) __atomic_store_n(&exec->stack_limit, KILN_STOP_LIMIT, __ATOMIC_SEQ_CST);
}

static void clear_stop(kiln_exec *exec) {
    __atomic_store_n(&exec->stack_limit, exec->stack_floor, __ATOMIC_SEQ_CST);
    __atomic_store_n(&exec->stop, 0, __ATOMIC_SEQ_CST);
}

static void recompute_stop(kiln_exec *exec) {
    clear_stop(exec);
    if (deadline_reached(exec) || __atomic_load_n(&exec->interrupted, __ATOMIC_SEQ_CST))
        set_stop(exec);
}

static void epoch_reached(kiln_exec *exec) {
    for (;;) {
        if (__atomic_exchange_n(&exec->interrupted, 0, __ATOMIC_SEQ_CST)) {
            recompute_stop(exec);
            break;
        }
        if (deadline_reached(exec)) break;   /* stays stopped: every later check traps too */
        /* A stale stop (the deadline moved after a tick set it): clear it, then look again, so
         * that an interrupt or tick racing with the clear is not lost. */
        clear_stop(exec);
        if (!__atomic_load_n(&exec->interrupted, __ATOMIC_SEQ_CST) && !deadline_reached(exec)) return;
    }
    trap_with(exec, KILN_TRAP_INTERRUPTED, 0, (char **)__builtin_frame_address(0));
}

void kiln_epoch_reached(kiln_instance *ctx) {
    epoch_reached(ctx->exec);
}

/* An entry check failed: a stop (kiln_epoch_reached traps, or clears a stale one), then the
 * frame against the real limit. */
void kiln_stack_or_stop(kiln_instance *ctx, char *frame_bottom) {
    kiln_exec *exec = ctx->exec;
    if (__atomic_load_n(&exec->stop, __ATOMIC_SEQ_CST)) kiln_epoch_reached(ctx);
    if (frame_bottom < exec->stack_floor) kiln_trap(ctx, KILN_TRAP_STACK_EXHAUSTED);
}

void kiln_exec_set_deadline(kiln_exec *exec, u64 deadline) {
    __atomic_store_n(&exec->deadline, deadline, __ATOMIC_SEQ_CST);
    recompute_stop(exec);
}

void kiln_exec_interrupt(kiln_exec *exec) {
    __atomic_store_n(&exec->interrupted, 1, __ATOMIC_SEQ_CST);
    set_stop(exec);
}

void kiln_exec_clear_interrupt(kiln_exec *exec) {
    if (__atomic_exchange_n(&exec->interrupted, 0, __ATOMIC_SEQ_CST)) recompute_stop(exec);
}

/* The execs a clock sets `stop` in: an array replaced whole under the mutex and published with
 * an atomic swap; a tick counts itself in `readers` around its walk, and a replaced array is
 * freed only when no tick is walking (the same scheme as the fault handler's reservations). */
typedef struct kiln_exec_set { u64 count; kiln_exec *execs[]; } kiln_exec_set;
struct kiln_clock {
    u64 epoch;
    kiln_exec_set *published;
    u32 readers;
    pthread_mutex_t lock;
};

kiln_clock *kiln_clock_create(void) {
    kiln_clock *clock = calloc(1, sizeof(kiln_clock));
    if (clock) pthread_mutex_init(&clock->lock, 0);
    return clock;
}

void kiln_clock_destroy(kiln_clock *clock) {
    if (!clock) return;
    free(clock->published);
    pthread_mutex_destroy(&clock->lock);
    free(clock);
}

volatile u64 *kiln_clock_epoch(kiln_clock *clock) { return &clock->epoch; }
u64 kiln_clock_now(kiln_clock *clock) { return __atomic_load_n(&clock->epoch, __ATOMIC_SEQ_CST); }

void kiln_clock_tick(kiln_clock *clock) {
    u64 now = __atomic_add_fetch(&clock->epoch, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&clock->readers, 1, __ATOMIC_SEQ_CST);
    kiln_exec_set *set = __atomic_load_n(&clock->published, __ATOMIC_SEQ_CST);
    for (u64 i = 0; set && i < set->count; i++) {
        kiln_exec *exec = set->execs[i];
        if (now >= __atomic_load_n(&exec->deadline, __ATOMIC_SEQ_CST)) set_stop(exec);
    }
    __atomic_sub_fetch(&clock->readers, 1, __ATOMIC_SEQ_CST);
}

static void publish_execs(kiln_clock *clock, kiln_exec_set *next) {
    kiln_exec_set *old = __atomic_exchange_n(&clock->published, next, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&clock->readers, __ATOMIC_SEQ_CST)) sched_yield();
    free(old);
}

int kiln_clock_attach(kiln_clock *clock, kiln_exec *exec) {
    pthread_mutex_lock(&clock->lock);
    kiln_exec_set *set = clock->published;
    u64 count = set ? set->count : 0;
    kiln_exec_set *next = malloc(sizeof(kiln_exec_set) + (count + 1) * sizeof(kiln_exec *));
    if (!next) {
        pthread_mutex_unlock(&clock->lock);
        return -1;
    }
    if (count) memcpy(next->execs, set->execs, count * sizeof(kiln_exec *));
    next->execs[count] = exec;
    next->count = count + 1;
    publish_execs(clock, next);
    pthread_mutex_unlock(&clock->lock);
    return 0;
}

void kiln_clock_detach(kiln_clock *clock, kiln_exec *exec) {
    pthread_mutex_lock(&clock->lock);
    kiln_exec_set *set = clock->published;
    u64 count = set ? set->count : 0, kept = 0;
    kiln_exec_set *next = malloc(sizeof(kiln_exec_set) + (count ? count : 1) * sizeof(kiln_exec *));
    if (next) {
        for (u64 i = 0; i < count; i++)
            if (set->execs[i] != exec) next->execs[kept++] = set->execs[i];
        next->count = kept;
        publish_execs(clock, next);
    } else {
        /* No memory for a copy: empty the list rather than keep a pointer to a freed exec. */
        publish_execs(clock, 0);
    }
    pthread_mutex_unlock(&clock->lock);
}

/* ---- Faults ---- */

/* Every memory's reservation, for the fault handler: a sorted array of ranges, replaced whole
 * (copy, insert or remove, publish with an atomic pointer swap) under a mutex, and searched by
 * binary search without a lock inside the handler, so any number of memories can be live. A
 * replaced array is freed once no handler is reading: handlers count themselves in and out
 * around their search (all seq_cst, so a writer that sees no reader after its swap knows nobody
 * holds the old array). */
typedef struct kiln_range { char *start; char *end; } kiln_range;
typedef struct kiln_range_set { u64 count; kiln_range ranges[]; } kiln_range_set;
static kiln_range_set *published_ranges;
static u32 range_readers;
static pthread_mutex_t reservation_lock = PTHREAD_MUTEX_INITIALIZER;

/* Index of the first range that starts after address. */
static u64 range_upper_bound(const kiln_range_set *set, char *address) {
    u64 low = 0, high = set ? set->count : 0;
    while (low < high) {
        u64 middle = low + (high - low) / 2;
        if (set->ranges[middle].start <= address) low = middle + 1;
        else high = middle;
    }
    return low;
}

static void publish_ranges(kiln_range_set *next) {
    kiln_range_set *old = __atomic_exchange_n(&published_ranges, next, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&range_readers, __ATOMIC_SEQ_CST)) sched_yield();
    free(old);
}

static int register_reservation(char *start, u64 bytes) {
    pthread_mutex_lock(&reservation_lock);
    kiln_range_set *set = published_ranges;
    u64 count = set ? set->count : 0;
    kiln_range_set *next = malloc(sizeof(kiln_range_set) + (count + 1) * sizeof(kiln_range));
    if (!next) {
        pthread_mutex_unlock(&reservation_lock);
        return -1;
    }
    u64 at = range_upper_bound(set, start);
    if (at) memcpy(next->ranges, set->ranges, at * sizeof(kiln_range));
    next->ranges[at].start = start;
    next->ranges[at].end = start + bytes;
    if (count > at) memcpy(next->ranges + at + 1, set->ranges + at, (count - at) * sizeof(kiln_range));
    next->count = count + 1;
    publish_ranges(next);
    pthread_mutex_unlock(&reservation_lock);
    return 0;
}

static void unregister_reservation(char *start) {
    pthread_mutex_lock(&reservation_lock);
    kiln_range_set *set = published_ranges;
    u64 at = range_upper_bound(set, start);
    if (at && set->ranges[at - 1].start == start) {
        kiln_range_set *next = malloc(sizeof(kiln_range_set) + set->count * sizeof(kiln_range));
        if (next) {
            memcpy(next->ranges, set->ranges, (at - 1) * sizeof(kiln_range));
            memcpy(next->ranges + at - 1, set->ranges + at, (set->count - at) * sizeof(kiln_range));
            next->count = set->count - 1;
            publish_ranges(next);
        } else {
            /* No memory for a copy: the range stays (harmless until its address is reused). */
        }
    }
    pthread_mutex_unlock(&reservation_lock);
}

/* Async-signal-safe: atomics and a binary search, no lock. */
static int in_reservation(char *address) {
    __atomic_add_fetch(&range_readers, 1, __ATOMIC_SEQ_CST);
    kiln_range_set *set = __atomic_load_n(&published_ranges, __ATOMIC_SEQ_CST);
    u64 at = range_upper_bound(set, address);
    int found = at && address < set->ranges[at - 1].end;
    __atomic_sub_fetch(&range_readers, 1, __ATOMIC_SEQ_CST);
    return found;
}

static void chain(struct sigaction *previous, int sig, siginfo_t *info, void *uc) {
    if (previous->sa_flags & SA_SIGINFO) {
        if (previous->sa_sigaction) { previous->sa_sigaction(sig, info, uc); return; }
    } else if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
        previous->sa_handler(sig);
        return;
    }
    /* Default action: restore it and return, so the faulting instruction faults again and the
     * process dies as it would have without Kiln. */
    signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *info, void *uc) {
    char *address = (char *)info->si_addr;
    if (current.in_wasm && current.exec) {
        void *pc = 0;
        char **fp = 0;
#if defined(__x86_64__)
        ucontext_t *context = (ucontext_t *)uc;
        pc = (void *)context->uc_mcontext.gregs[REG_RIP];
        fp = (char **)context->uc_mcontext.gregs[REG_RBP];
#elif defined(__aarch64__)
        ucontext_t *context = (ucontext_t *)uc;
        pc = (void *)context->uc_mcontext.pc;
        fp = (char **)context->uc_mcontext.regs[29];
#endif
        if (current.stack_base && address >= current.stack_base &&
            address < current.stack_base + KILN_GUARD_BYTES) {
            trap_with(current.exec, KILN_TRAP_STACK_EXHAUSTED, pc, fp);
        }
        if (in_reservation(address)) trap_with(current.exec, KILN_TRAP_MEMORY_OOB, pc, fp);
    }
    chain(sig == SIGBUS ? &previous_bus : &previous_segv, sig, info, uc);
}

static void install_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    /* SA_NODEFER: the handler longjmps out, so the signal must not stay blocked. */
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
}

/* ---- The Kiln stack ---- */

static pthread_key_t thread_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void release_thread(void *unused) {
    (void)unused;
    if (current.stack_base) munmap(current.stack_base, current.stack_bytes);
    if (current.altstack) {
        stack_t none;
        memset(&none, 0, sizeof none);
        none.ss_flags = SS_DISABLE;
        sigaltstack(&none, 0);
        munmap(current.altstack, 64 * 1024);
    }
    current.stack_base = 0;
    current.altstack = 0;
}

static void make_key(void) { pthread_key_create(&thread_key, release_thread); }

/* The thread's Wasm stack is as large as the largest stack size asked of it; each engine's own
 * size sets its stores' limit within it (kiln_enter), so engines do not change each other's. */
static int prepare_thread(u64 wanted) {
    if (current.stack_base && current.stack_bytes >= wanted + KILN_GUARD_BYTES) return 0;
    pthread_once(&install_once, install_handlers);
    pthread_once(&key_once, make_key);
    if (current.stack_base) {
        munmap(current.stack_base, current.stack_bytes);
        current.stack_base = 0;
    }
    u64 bytes = wanted + KILN_GUARD_BYTES;
    char *base = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return -1;
    mprotect(base, KILN_GUARD_BYTES, PROT_NONE);
    current.stack_base = base;
    current.stack_bytes = bytes;
    char *alt = current.altstack ? MAP_FAILED : mmap(0, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt != MAP_FAILED) {
        stack_t ss;
        memset(&ss, 0, sizeof ss);
        ss.ss_sp = alt;
        ss.ss_size = 64 * 1024;
        sigaltstack(&ss, 0);
        current.altstack = alt;
    }
    pthread_setspecific(thread_key, &current);
    return 0;
}

/* Calls fn(arg) with the stack pointer at stack_top. */
void *kiln_call_on_stack(char *stack_top, void *(*fn)(void *), void *arg);
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl kiln_call_on_stack\n"
        ".type kiln_call_on_stack,@function\n"
        "kiln_call_on_stack:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  movq %rdi, %rsp\n"
        "  movq %rdx, %rdi\n"
        "  callq *%rsi\n"
        "  movq %rbp, %rsp\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size kiln_call_on_stack, .-kiln_call_on_stack\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl kiln_call_on_stack\n"
        ".type kiln_call_on_stack,%function\n"
        "kiln_call_on_stack:\n"
        "  stp x29, x30, [sp, #-16]!\n"
        "  mov x29, sp\n"
        "  mov sp, x0\n"
        "  mov x0, x2\n"
        "  blr x1\n"
        "  mov sp, x29\n"
        "  ldp x29, x30, [sp], #16\n"
        "  ret\n"
        ".size kiln_call_on_stack, .-kiln_call_on_stack\n");
#else
#error "kiln: unsupported architecture"
#endif

typedef struct entry_call {
    kiln_exec *exec;
    kiln_thunk thunk;
    void *code;
    void *ctx;
    kiln_value *values;
    u32 result;
} entry_call;

static __attribute__((noinline)) char *frame_below(void) { return (char *)__builtin_frame_address(0); }

static __attribute__((noinline)) void *enter_here(void *argument) {
    entry_call *call = (entry_call *)argument;
    kiln_exec *exec = call->exec;
    kiln_jump jump;
    void *volatile outer_jump = exec->jmp;
    /* Handlers of outer entries are behind Swift frames: a throw must not reach them directly,
     * it leaves this entry first (KILN_TRAP_EXCEPTION) and the host function rethrows it. */
    kiln_handler *volatile outer_handler = exec->handler;
    exec->handler = 0;
    kiln_exec *volatile outer_exec = current.exec;
    volatile int outer_in_wasm = current.in_wasm;
    jump.frame = (char *)__builtin_frame_address(0);
    jump.floor = frame_below();
    exec->jmp = &jump;
    exec->depth++;
    current.exec = exec;
    if (setjmp(jump.buf) == 0) {
        current.in_wasm = 1;
        /* With epochs on, a call from the host checks at once: a function that calls nothing has
         * no entry check of its own, and a call after the deadline must still trap. */
        if (exec->stop_limits && __atomic_load_n(&exec->stop, __ATOMIC_SEQ_CST)) epoch_reached(exec);
        call->thunk(call->code, call->ctx, call->values);
        call->result = 0;
    } else {
        call->result = exec->trap_code ? exec->trap_code : KILN_TRAP_UNREACHABLE;
        exec->tail_thunk = 0;
    }
    current.in_wasm = outer_in_wasm;
    current.exec = outer_exec;
    exec->handler = outer_handler;
    exec->jmp = outer_jump;
    exec->depth--;
    return 0;
}

u32 kiln_enter(kiln_exec *exec, kiln_thunk thunk, void *code, void *ctx, kiln_value *values) {
    entry_call call = {exec, thunk, code, ctx, values, 0};
    if (current.on_kiln_stack) {
        enter_here(&call);
        return call.result;
    }
    u64 wanted = exec->stack_size ? exec->stack_size : stack_size;
    if (wanted < 2 * KILN_HOST_MARGIN) wanted = 2 * KILN_HOST_MARGIN;
    if (prepare_thread(wanted) != 0) return KILN_TRAP_STACK_EXHAUSTED;
    char *top = (char *)(((uintptr_t)(current.stack_base + current.stack_bytes)) & ~(uintptr_t)63);
    exec->stack_floor = current.stack_base + current.stack_bytes - wanted + KILN_HOST_MARGIN;
    __atomic_store_n(&exec->stack_limit, exec->stack_floor, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&exec->stop, __ATOMIC_SEQ_CST)) set_stop(exec);
    current.on_kiln_stack = 1;
    kiln_call_on_stack(top, enter_here, &call);
    current.on_kiln_stack = 0;
    return call.result;
}

int kiln_thread_leave_wasm(void) {
    int previous = current.in_wasm;
    current.in_wasm = 0;
    return previous;
}

void kiln_thread_return_to_wasm(int previous) { current.in_wasm = previous; }

void kiln_trap_current(u32 code) {
    if (!current.exec) abort();   /* only reachable from code running inside an entry */
    trap_with(current.exec, code, 0, (char **)__builtin_frame_address(0));
}

u32 kiln_host_call(void *host_ctx, kiln_value *values) {
    kiln_host_context *host = (kiln_host_context *)host_ctx;
    int outer = kiln_thread_leave_wasm();
    u32 status = host->callback(host, values);
    kiln_thread_return_to_wasm(outer);
    return status;
}

void kiln_host_failed(kiln_exec *exec, u32 status) {
    if (status == KILN_TRAP_EXCEPTION && exec->exception) kiln_throw(exec, exec->exception);
    kiln_trap_exec(exec, status == KILN_TRAP_EXCEPTION ? KILN_TRAP_HOST : status);
}

/* ---- Tail calls ---- */

void kiln_tail_loop(kiln_exec *exec) {
    while (exec->tail_thunk) {
        kiln_thunk thunk = (kiln_thunk)exec->tail_thunk;
        exec->tail_thunk = 0;
        thunk(exec->tail_code, exec->tail_ctx, exec->tail_values);
    }
}

void kiln_host_tail(void *code, void *host_ctx, kiln_value *values) {
    (void)code;
    kiln_host_context *host = (kiln_host_context *)host_ctx;
    u32 status = kiln_host_call(host_ctx, values);
    if (status) kiln_host_failed(host->exec, status);
}

/* The buffer is allocated once, for the largest arity validation admits, and never moves: tail
 * entries write their results through the pointer they were given, after calls that may have
 * created functions of any arity. */
int kiln_exec_reserve_tail(kiln_exec *exec, u64 count) {
    if (!exec->tail_values) {
        exec->tail_values = calloc(KILN_MAX_ARITY, sizeof(kiln_value));
        if (!exec->tail_values) return -1;
        exec->tail_capacity = KILN_MAX_ARITY;
    }
    return count > KILN_MAX_ARITY ? -1 : 0;
}

/* ---- Exceptions ---- */

/* kiln_setjmp saves only what a jump back needs: the callee-saved registers (code between the
 * handler's frame and the throw may have changed them), the stack pointer and the resume
 * address. About a third of glibc's _setjmp, which also mangles pointers and checks the shadow
 * stack: try blocks are entered on hot paths of C++ code. */
void kiln_longjmp(u64 *jump) __attribute__((noreturn));
_Static_assert(sizeof(((kiln_handler *)0)->jump) >= 168, "kiln_setjmp stores 168 bytes on AArch64");
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl kiln_setjmp\n"
        ".type kiln_setjmp,@function\n"
        "kiln_setjmp:\n"
        KILN_SETJMP_BODY
        ".size kiln_setjmp, .-kiln_setjmp\n"
        ".globl kiln_longjmp\n"
        ".type kiln_longjmp,@function\n"
        "kiln_longjmp:\n"
        "  movq 0(%rdi), %rbx\n"
        "  movq 8(%rdi), %rbp\n"
        "  movq 16(%rdi), %r12\n"
        "  movq 24(%rdi), %r13\n"
        "  movq 32(%rdi), %r14\n"
        "  movq 40(%rdi), %r15\n"
        "  movq 48(%rdi), %rsp\n"
        "  movl $1, %eax\n"
        "  jmpq *56(%rdi)\n"
        ".size kiln_longjmp, .-kiln_longjmp\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl kiln_setjmp\n"
        ".type kiln_setjmp,%function\n"
        "kiln_setjmp:\n"
        KILN_SETJMP_BODY
        ".size kiln_setjmp, .-kiln_setjmp\n"
        ".globl kiln_longjmp\n"
        ".type kiln_longjmp,%function\n"
        "kiln_longjmp:\n"
        "  ldp x19, x20, [x0, #0]\n"
        "  ldp x21, x22, [x0, #16]\n"
        "  ldp x23, x24, [x0, #32]\n"
        "  ldp x25, x26, [x0, #48]\n"
        "  ldp x27, x28, [x0, #64]\n"
        "  ldp x29, x30, [x0, #80]\n"
        "  ldr x2, [x0, #96]\n"
        "  mov sp, x2\n"
        "  ldp d8, d9, [x0, #104]\n"
        "  ldp d10, d11, [x0, #120]\n"
        "  ldp d12, d13, [x0, #136]\n"
        "  ldp d14, d15, [x0, #152]\n"
        "  mov w0, #1\n"
        "  ret x30\n"
        ".size kiln_longjmp, .-kiln_longjmp\n");
#endif

/* Caught exceptions that an exnref (or a legacy catch) may still name are kept until the store
 * is freed (Kiln has no collector for them yet). So that a guest that throws and catches in a
 * loop cannot exhaust the host's memory, a store that keeps this many traps ("out of memory")
 * on its next throw. */
#define KILN_MAX_KEPT_EXCEPTIONS (1u << 20)

kiln_exception *kiln_exception_new(kiln_exec *exec, kiln_tag *tag, u32 count) {
    kiln_exception *exception = exec->kept_count >= KILN_MAX_KEPT_EXCEPTIONS
        ? 0 : calloc(1, sizeof(kiln_exception) + (size_t)count * sizeof(kiln_value));
    /* Out of memory: from generated code, a trap (this runs in Wasm, never under Swift frames). */
    if (!exception && current.in_wasm) trap_with(exec, KILN_TRAP_OUT_OF_MEMORY, 0, (char **)__builtin_frame_address(0));
    if (!exception) return 0;
    exception->tag = tag;
    exception->count = count;
    return exception;
}

void kiln_throw(kiln_exec *exec, kiln_exception *exception) {
    exec->exception = exception;
    kiln_handler *handler = exec->handler;
    if (handler) {
        /* The catching frame unlinks its handler itself (it knows the one outside it). */
        kiln_longjmp(handler->jump);
    }
    trap_with(exec, KILN_TRAP_EXCEPTION, 0, (char **)__builtin_frame_address(0));
}

kiln_exception *kiln_exception_keep(kiln_exec *exec, kiln_exception *exception) {
    if (!exception->kept) {
        exception->kept = 1;
        exception->next_kept = exec->kept;
        exec->kept = exception;
        exec->kept_count++;
    }
    return exception;
}

void kiln_exception_release(kiln_exec *exec, kiln_exception *exception) {
    if (exec->exception == exception) exec->exception = 0;
    if (!exception->kept) free(exception);
}

kiln_value *kiln_exception_payload(kiln_exception *exception) { return exception->values; }

void kiln_exec_release(kiln_exec *exec) {
    kiln_exception *exception = exec->kept;
    while (exception) {
        kiln_exception *next = exception->next_kept;
        free(exception);
        exception = next;
    }
    exec->kept = 0;
    exec->kept_count = 0;
    free(exec->tail_values);
    exec->tail_values = 0;
    exec->tail_capacity = 0;
}

/* ---- Memories ---- */

#define KILN_PAGE (65536ull)
/* Any 32-bit address plus a 32-bit offset stays below 8 GiB: reserve that much, and faults past
 * the accessible pages land inside the reservation. The extra page covers the bytes of an access
 * that starts just below 8 GiB (a v128 at 0xffffffff + 0xffffffff). Memories of both address
 * types hold at most 65536 pages (4 GiB): see MEM64 in the prelude. */
#define KILN_RESERVATION ((8ull << 30) + KILN_PAGE)

int kiln_memory_create(kiln_memory *memory, u64 min_pages, u64 max_pages) {
    pthread_once(&install_once, install_handlers);
    char *base = mmap(0, KILN_RESERVATION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return -1;
    if (min_pages && mprotect(base, min_pages * KILN_PAGE, PROT_READ | PROT_WRITE) != 0) {
        munmap(base, KILN_RESERVATION);
        return -1;
    }
    memory->base = (u8 *)base;
    memory->pages = min_pages;
    memory->max_pages = max_pages;
    memory->reserved = KILN_RESERVATION;
    if (register_reservation(base, KILN_RESERVATION) != 0) {
        munmap(base, KILN_RESERVATION);
        memory->base = 0;
        return -1;
    }
    return 0;
}

void kiln_memory_destroy(kiln_memory *memory) {
    if (!memory->base) return;
    unregister_reservation((char *)memory->base);
    munmap(memory->base, memory->reserved);
    memory->base = 0;
}

u64 kiln_memory_grow_raw(kiln_memory *memory, u64 delta) {
    u64 old = memory->pages;
    if (delta == 0) return old;
    if (delta > memory->max_pages || old + delta > memory->max_pages || old + delta > 65536) return (u64)-1;
    if (mprotect(memory->base + old * KILN_PAGE, delta * KILN_PAGE, PROT_READ | PROT_WRITE) != 0) return (u64)-1;
    memory->pages = old + delta;
    return old;
}

char *kiln_thread_stack_top(void) {
    return current.on_kiln_stack ? current.stack_base + current.stack_bytes : 0;
}
