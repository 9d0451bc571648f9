/* Writes far past the end of memory: a trap in Wasm, a segmentation fault natively. */
#include <stdint.h>
#include <stdio.h>

__attribute__((noinline)) void poke(volatile uint32_t *p, uint32_t value) { *p = value; }

int main(int argc, char **argv) {
    printf("about to write out of bounds\n");
    fflush(stdout);
    poke((volatile uint32_t *)(uintptr_t)(0xFFFFFF00u - (uint32_t)argc), 42);
    printf("still alive?\n");
    return 0;
}
