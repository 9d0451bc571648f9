/* A module's code table: where every call to one of its functions finds the code that runs now.
 *
 * Each defined function has two slots, its code (2i) and its tail entry (2i + 1), and each slot
 * a stub: a few instructions of machine code written here. A stub's entry jumps through its slot;
 * its lazy part, where a slot points until it is first resolved, names the table and the slot
 * and jumps to kiln_lazy_entry, which saves the argument registers, asks the table's owner
 * (Swift) for the code, restores them and jumps there. So:
 *   - generated code calls a function through its slot (one load and an indirect call);
 *   - funcref records, table elements and exports hold stub entries, which never move, so that
 *     installing new code in a slot (lazy compilation, optimized code) reaches every call path;
 *   - nothing needs to know a function's signature: arguments pass untouched.
 * Slots are written with release stores and read without a lock: a thread that still sees the
 * old value runs the old code, which stays valid as long as the module lives. */
#define _GNU_SOURCE
#include "kiln_runtime.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
/* Entry: jmp *slot(%rip), padded to 8. Lazy part at +8: movl $k, %r11d; movq table(%rip), %r10;
 * jmp *lazy(%rip). */
#define STUB_BYTES 32u
#define LAZY_OFFSET 8u
#elif defined(__aarch64__)
/* Entry: adrp x16, slot; ldr x16, [x16, :lo12:slot]; br x16; brk. Lazy part at +16: movz/movk
 * w17 = k; adrp x16, header; ldr x15, [x16, table]; ldr x16, [x16, lazy]; br x16. */
#define STUB_BYTES 48u
#define LAZY_OFFSET 16u
#else
#error "kiln: unsupported architecture"
#endif

/* The last two words after the slots: the table itself and kiln_lazy_entry's address, which the
 * lazy parts load (a stub cannot reach the Kiln binary with a 32-bit displacement). */
#define HEADER_WORDS 2u

void kiln_lazy_entry(void);

static size_t page_round(size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (bytes + page - 1) / page * page;
}

#if defined(__x86_64__)
static void put32(u8 *p, u32 value) { memcpy(p, &value, 4); }

/* The 32-bit displacement from the end of an instruction to a target. */
static u32 displacement(const u8 *instruction_end, const void *target) {
    return (u32)(s32)((const u8 *)target - instruction_end);
}

static void write_stub(u8 *stub, void **slot, void **header, u32 k) {
    memset(stub, 0xcc, STUB_BYTES);                  /* int3 padding */
    stub[0] = 0xff; stub[1] = 0x25;                  /* jmp *slot(%rip) */
    put32(stub + 2, displacement(stub + 6, slot));
    u8 *lazy = stub + LAZY_OFFSET;
    lazy[0] = 0x41; lazy[1] = 0xbb; put32(lazy + 2, k);            /* movl $k, %r11d */
    lazy[6] = 0x4c; lazy[7] = 0x8b; lazy[8] = 0x15;                 /* movq table(%rip), %r10 */
    put32(lazy + 9, displacement(lazy + 13, &header[0]));
    lazy[13] = 0xff; lazy[14] = 0x25;                               /* jmp *lazy(%rip) */
    put32(lazy + 15, displacement(lazy + 19, &header[1]));
}

__asm__(".text\n"
        ".globl kiln_lazy_entry\n"
        ".type kiln_lazy_entry,@function\n"
        "kiln_lazy_entry:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  pushq %rdi\n  pushq %rsi\n  pushq %rdx\n  pushq %rcx\n  pushq %r8\n  pushq %r9\n"
        "  pushq %rax\n  pushq %rax\n"            /* rax (a variadic call's count), and alignment */
        "  subq $128, %rsp\n"
        "  movdqu %xmm0, 0(%rsp)\n  movdqu %xmm1, 16(%rsp)\n  movdqu %xmm2, 32(%rsp)\n"
        "  movdqu %xmm3, 48(%rsp)\n  movdqu %xmm4, 64(%rsp)\n  movdqu %xmm5, 80(%rsp)\n"
        "  movdqu %xmm6, 96(%rsp)\n  movdqu %xmm7, 112(%rsp)\n"
        "  movq %r10, %rdi\n"
        "  movl %r11d, %esi\n"
        "  call kiln_code_resolve\n"
        "  movq %rax, %r11\n"
        "  movdqu 0(%rsp), %xmm0\n  movdqu 16(%rsp), %xmm1\n  movdqu 32(%rsp), %xmm2\n"
        "  movdqu 48(%rsp), %xmm3\n  movdqu 64(%rsp), %xmm4\n  movdqu 80(%rsp), %xmm5\n"
        "  movdqu 96(%rsp), %xmm6\n  movdqu 112(%rsp), %xmm7\n"
        "  addq $128, %rsp\n"
        "  popq %rax\n  popq %rax\n"
        "  popq %r9\n  popq %r8\n  popq %rcx\n  popq %rdx\n  popq %rsi\n  popq %rdi\n"
        "  popq %rbp\n"
        "  jmp *%r11\n"
        ".size kiln_lazy_entry, .-kiln_lazy_entry\n");
#elif defined(__aarch64__)
static void put_instruction(u8 *p, u32 instruction) { memcpy(p, &instruction, 4); }

static u32 adrp(u32 rd, const u8 *pc, const void *target) {
    s64 pages = (s64)(((uintptr_t)target >> 12) - ((uintptr_t)pc >> 12));
    u32 immlo = (u32)pages & 3u, immhi = ((u32)(pages >> 2)) & 0x7ffffu;
    return 0x90000000u | (immlo << 29) | (immhi << 5) | rd;
}

/* ldr xt, [xn, #lo12(target)]: target is 8-byte aligned. */
static u32 ldr_low12(u32 rt, u32 rn, const void *target) {
    u32 offset = (u32)((uintptr_t)target & 0xfffu) / 8u;
    return 0xf9400000u | (offset << 10) | (rn << 5) | rt;
}

static void write_stub(u8 *stub, void **slot, void **header, u32 k) {
    for (u32 i = 0; i < STUB_BYTES; i += 4) put_instruction(stub + i, 0xd4200000u);  /* brk #0 */
    put_instruction(stub + 0, adrp(16, stub, slot));
    put_instruction(stub + 4, ldr_low12(16, 16, slot));
    put_instruction(stub + 8, 0xd61f0200u);                            /* br x16 */
    u8 *lazy = stub + LAZY_OFFSET;
    put_instruction(lazy + 0, 0x52800000u | ((k & 0xffffu) << 5) | 17u);   /* movz w17, #lo */
    put_instruction(lazy + 4, 0x72a00000u | ((k >> 16) << 5) | 17u);       /* movk w17, #hi, lsl 16 */
    put_instruction(lazy + 8, adrp(16, lazy + 8, header));
    put_instruction(lazy + 12, ldr_low12(15, 16, &header[0]));
    put_instruction(lazy + 16, ldr_low12(16, 16, &header[1]));
    put_instruction(lazy + 20, 0xd61f0200u);                           /* br x16 */
}

__asm__(".text\n"
        ".globl kiln_lazy_entry\n"
        ".type kiln_lazy_entry,%function\n"
        "kiln_lazy_entry:\n"
        "  stp x29, x30, [sp, #-16]!\n"
        "  mov x29, sp\n"
        "  sub sp, sp, #208\n"
        "  stp x0, x1, [sp, #0]\n  stp x2, x3, [sp, #16]\n  stp x4, x5, [sp, #32]\n"
        "  stp x6, x7, [sp, #48]\n  str x8, [sp, #64]\n"
        "  stp q0, q1, [sp, #80]\n  stp q2, q3, [sp, #112]\n  stp q4, q5, [sp, #144]\n"
        "  stp q6, q7, [sp, #176]\n"
        "  mov x0, x15\n"
        "  mov w1, w17\n"
        "  bl kiln_code_resolve\n"
        "  mov x16, x0\n"
        "  ldp q6, q7, [sp, #176]\n  ldp q4, q5, [sp, #144]\n  ldp q2, q3, [sp, #112]\n"
        "  ldp q0, q1, [sp, #80]\n"
        "  ldr x8, [sp, #64]\n  ldp x6, x7, [sp, #48]\n  ldp x4, x5, [sp, #32]\n"
        "  ldp x2, x3, [sp, #16]\n  ldp x0, x1, [sp, #0]\n"
        "  add sp, sp, #208\n"
        "  ldp x29, x30, [sp], #16\n"
        "  br x16\n"
        ".size kiln_lazy_entry, .-kiln_lazy_entry\n");
#endif

kiln_code_table *kiln_code_table_create(u32 functions, kiln_code_resolver resolve, void *owner) {
    kiln_code_table *table = calloc(1, sizeof *table);
    if (!table) return 0;
    u32 count = functions * 2u;
    size_t stub_bytes = page_round((size_t)count * STUB_BYTES + 1);
    size_t slot_bytes = page_round(((size_t)count + HEADER_WORDS) * sizeof(void *));
    u8 *mapping = mmap(0, stub_bytes + slot_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) { free(table); return 0; }
    table->stubs = mapping;
    table->slots = (void **)(mapping + stub_bytes);
    table->count = count;
    table->stub_bytes = STUB_BYTES;
    table->resolve = resolve;
    table->owner = owner;
    table->mapping = mapping;
    table->mapping_bytes = stub_bytes + slot_bytes;
    void **header = table->slots + count;
    header[0] = table;
    header[1] = (void *)kiln_lazy_entry;
    for (u32 k = 0; k < count; k++) {
        u8 *stub = table->stubs + (size_t)k * STUB_BYTES;
        write_stub(stub, &table->slots[k], header, k);
        table->slots[k] = stub + LAZY_OFFSET;
    }
    __builtin___clear_cache((char *)mapping, (char *)mapping + stub_bytes);
    if (mprotect(mapping, stub_bytes, PROT_READ | PROT_EXEC) != 0) {
        munmap(mapping, stub_bytes + slot_bytes);
        free(table);
        return 0;
    }
    return table;
}

void kiln_code_table_destroy(kiln_code_table *table) {
    if (!table) return;
    munmap(table->mapping, table->mapping_bytes);
    free(table);
}

void *kiln_code_table_stub(kiln_code_table *table, u32 slot) {
    return table->stubs + (size_t)slot * STUB_BYTES;
}

void kiln_code_table_install(kiln_code_table *table, u32 slot, void *code) {
    __atomic_store_n(&table->slots[slot], code, __ATOMIC_RELEASE);
}

void *kiln_code_current(void **slot, void *stub) {
    void *code = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    return code == (void *)((u8 *)stub + LAZY_OFFSET) ? stub : code;
}

/* Called by kiln_lazy_entry on the Wasm thread: the owner compiles (or waits for another thread
 * compiling) and installs the slot's code. Swift runs here as in a host call: outside Wasm for
 * the fault handler. A failure traps in the calling entry. */
void *kiln_code_resolve(kiln_code_table *table, u32 slot) {
    int outer = kiln_thread_leave_wasm();
    void *code = table->resolve(table->owner, slot);
    kiln_thread_return_to_wasm(outer);
    if (!code) kiln_trap_current(KILN_TRAP_COMPILATION_FAILED);
    return code;
}
