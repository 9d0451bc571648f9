/* A WASI reactor: _initialize sets up state; exports are invoked afterwards. */
#include <stdio.h>
#include <stdlib.h>

static int base;

__attribute__((constructor)) static void setup(void) { base = 1000; }

__attribute__((export_name("add"))) int add(int a, int b) {
    printf("add(%d, %d) with base %d\n", a, b, base);
    fflush(stdout);
    return base + a + b;
}

__attribute__((export_name("quit"))) void quit(int code) {
    printf("quitting with %d\n", code);
    exit(code);
}
