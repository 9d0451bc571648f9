/* Recurses without end: "call stack exhausted" in Wasm, a stack overflow natively. */
#include <stdio.h>

__attribute__((noinline)) int down(volatile int *depth, int n) {
    volatile char frame[64];
    frame[n & 63] = (char)n;
    (*depth)++;
    return down(depth, n + 1) + frame[(n + 1) & 63];
}

int main(void) {
    volatile int depth = 0;
    printf("recursing\n");
    fflush(stdout);
    int r = down(&depth, 0);
    printf("returned %d\n", r);
    return 0;
}
