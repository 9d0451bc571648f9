/* interp.c - a tiny register-machine bytecode interpreter.  Every instruction
 * is dispatched through a table of function pointers, so the hot loop is an
 * indirect call (call_indirect in wasm) per executed op. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

enum { LI, ADD, ADDI, SUB, MUL, XOR, OR, AND, SHL, SHR, LD, ST, JLT, JNZ, CALL, RET, HALT, NOPS };

typedef struct { uint8_t op, a, b, c; int32_t imm; } Insn;
typedef struct {
    uint32_t r[16];
    uint32_t mem[256];
    int32_t stack[64];
    int32_t sp;
} VM;
typedef int32_t (*Handler)(VM *vm, const Insn *in, int32_t pc);

static int32_t op_li(VM *vm, const Insn *in, int32_t pc)   { vm->r[in->a] = (uint32_t)in->imm; return pc + 1; }
static int32_t op_add(VM *vm, const Insn *in, int32_t pc)  { vm->r[in->a] = vm->r[in->b] + vm->r[in->c]; return pc + 1; }
static int32_t op_addi(VM *vm, const Insn *in, int32_t pc) { vm->r[in->a] = vm->r[in->b] + (uint32_t)in->imm; return pc + 1; }
static int32_t op_sub(VM *vm, const Insn *in, int32_t pc)  { vm->r[in->a] = vm->r[in->b] - vm->r[in->c]; return pc + 1; }
static int32_t op_mul(VM *vm, const Insn *in, int32_t pc)  { vm->r[in->a] = vm->r[in->b] * vm->r[in->c]; return pc + 1; }
static int32_t op_xor(VM *vm, const Insn *in, int32_t pc)  { vm->r[in->a] = vm->r[in->b] ^ vm->r[in->c]; return pc + 1; }
static int32_t op_or(VM *vm, const Insn *in, int32_t pc)   { vm->r[in->a] = vm->r[in->b] | vm->r[in->c]; return pc + 1; }
static int32_t op_and(VM *vm, const Insn *in, int32_t pc)  { vm->r[in->a] = vm->r[in->b] & vm->r[in->c]; return pc + 1; }
static int32_t op_shl(VM *vm, const Insn *in, int32_t pc)  { vm->r[in->a] = vm->r[in->b] << (vm->r[in->c] & 31); return pc + 1; }
static int32_t op_shr(VM *vm, const Insn *in, int32_t pc)  { vm->r[in->a] = vm->r[in->b] >> (vm->r[in->c] & 31); return pc + 1; }
static int32_t op_ld(VM *vm, const Insn *in, int32_t pc)   { vm->r[in->a] = vm->mem[(vm->r[in->b] + (uint32_t)in->imm) & 255]; return pc + 1; }
static int32_t op_st(VM *vm, const Insn *in, int32_t pc)   { vm->mem[(vm->r[in->b] + (uint32_t)in->imm) & 255] = vm->r[in->a]; return pc + 1; }
static int32_t op_jlt(VM *vm, const Insn *in, int32_t pc)  { return vm->r[in->a] < vm->r[in->b] ? in->imm : pc + 1; }
static int32_t op_jnz(VM *vm, const Insn *in, int32_t pc)  { return vm->r[in->a] != 0 ? in->imm : pc + 1; }
static int32_t op_call(VM *vm, const Insn *in, int32_t pc) { vm->stack[vm->sp++ & 63] = pc + 1; return in->imm; }
static int32_t op_ret(VM *vm, const Insn *in, int32_t pc)  { (void)in; (void)pc; return vm->stack[--vm->sp & 63]; }
static int32_t op_halt(VM *vm, const Insn *in, int32_t pc) { (void)vm; (void)in; (void)pc; return -1; }

static Handler const handlers[NOPS] = {
    op_li, op_add, op_addi, op_sub, op_mul, op_xor, op_or, op_and, op_shl,
    op_shr, op_ld, op_st, op_jlt, op_jnz, op_call, op_ret, op_halt,
};

static volatile uint32_t g_iters = 8000000;
static volatile uint32_t g_seed = 20240601;

static Insn code[64];
static int32_t ncode;
static VM vm;

static void emit(uint8_t op, uint8_t a, uint8_t b, uint8_t c, int32_t imm) {
    Insn *in = &code[ncode++];
    in->op = op; in->a = a; in->b = b; in->c = c; in->imm = imm;
}

/* Program: an LCG drives updates of a 256-word memory; a subroutine mixes an
 * accumulator with a rotate.  ~19 dispatched ops per loop iteration. */
static void assemble(void) {
    ncode = 0;
    emit(LI, 1, 0, 0, 0);                        /* 0: r1 = i = 0        */
    emit(LI, 2, 0, 0, (int32_t)g_iters);         /* 1: r2 = n            */
    emit(LI, 3, 0, 0, (int32_t)g_seed);          /* 2: r3 = x            */
    emit(LI, 4, 0, 0, 1103515245);               /* 3: r4 = mult         */
    emit(LI, 5, 0, 0, 12345);                    /* 4: r5 = incr         */
    emit(LI, 6, 0, 0, 0);                        /* 5: r6 = acc          */
    emit(LI, 7, 0, 0, 16);                       /* 6: r7 = 16           */
    emit(LI, 11, 0, 0, 5);                       /* 7: r11 = 5           */
    emit(LI, 12, 0, 0, 27);                      /* 8: r12 = 27          */
    /* loop: */
    emit(MUL, 3, 3, 4, 0);                       /* 9: x = x * mult      */
    emit(ADD, 3, 3, 5, 0);                       /* 10: x += incr        */
    emit(SHR, 8, 3, 7, 0);                       /* 11: r8 = x >> 16     */
    emit(LD, 9, 8, 0, 0);                        /* 12: r9 = mem[r8]     */
    emit(ADD, 9, 9, 1, 0);                       /* 13: r9 += i          */
    emit(XOR, 9, 9, 3, 0);                       /* 14: r9 ^= x          */
    emit(ST, 9, 1, 0, 3);                        /* 15: mem[i+3] = r9    */
    emit(CALL, 0, 0, 0, 22);                     /* 16: call mix         */
    emit(ADDI, 1, 1, 0, 1);                      /* 17: i++              */
    emit(JLT, 1, 2, 0, 9);                       /* 18: if i < n loop    */
    emit(LD, 9, 0, 0, 7);                        /* 19: r9 = mem[7]      */
    emit(XOR, 6, 6, 9, 0);                       /* 20: acc ^= r9        */
    emit(HALT, 0, 0, 0, 0);                      /* 21                   */
    /* mix: acc = rotl(acc ^ r9, 5) + (r8 & 0xff) */
    emit(XOR, 6, 6, 9, 0);                       /* 22 */
    emit(SHL, 10, 6, 11, 0);                     /* 23 */
    emit(SHR, 6, 6, 12, 0);                      /* 24 */
    emit(OR, 6, 6, 10, 0);                       /* 25 */
    emit(LI, 10, 0, 0, 255);                     /* 26 */
    emit(AND, 10, 8, 10, 0);                     /* 27 */
    emit(ADD, 6, 6, 10, 0);                      /* 28 */
    emit(SUB, 13, 6, 1, 0);                      /* 29 */
    emit(JNZ, 13, 0, 0, 31);                     /* 30 */
    emit(RET, 0, 0, 0, 0);                       /* 31 */
}

static uint64_t execute(void) {
    uint64_t steps = 0;
    int32_t pc = 0;
    while (pc >= 0) {
        const Insn *in = &code[pc];
        pc = handlers[in->op](&vm, in, pc);
        steps++;
    }
    return steps;
}

EXPORT("run") int64_t run(void) {
    for (int i = 0; i < 16; i++) vm.r[i] = 0;
    for (int i = 0; i < 256; i++) vm.mem[i] = (uint32_t)i * 2654435761u;
    vm.sp = 0;
    assemble();
    uint64_t steps = execute();
    uint64_t h = steps;
    for (int i = 0; i < 256; i++) h = (h ^ vm.mem[i]) * 1099511628211ull;
    h ^= (uint64_t)vm.r[6] << 32;
    return (int64_t)h;
}
