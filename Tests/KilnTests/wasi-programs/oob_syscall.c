/* Hands WASI pointers outside linear memory: the host must trap, not crash or touch host memory. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

int main(int argc, char **argv) {
    printf("in bounds first\n");
    fflush(stdout);
    __wasi_ciovec_t vec = {(const uint8_t *)(uintptr_t)0xFFFF0000u, 100};
    if (argc > 1 && strcmp(argv[1], "iovec-array") == 0) {
        size_t written;
        __wasi_fd_write(1, (const __wasi_ciovec_t *)(uintptr_t)0xFFFFFFF0u, 2, &written);
    } else if (argc > 1 && strcmp(argv[1], "result") == 0) {
        __wasi_fd_write(1, &(__wasi_ciovec_t){(const uint8_t *)"x\n", 2}, 1, (size_t *)(uintptr_t)0xFFFFFFFEu);
    } else {
        size_t written;
        __wasi_fd_write(1, &vec, 1, &written);
    }
    printf("not reached\n");
    return 0;
}
