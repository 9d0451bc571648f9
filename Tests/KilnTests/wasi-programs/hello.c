/* printf, stderr, and a non-zero exit status returned from main (wasi-libc calls proc_exit). */
#include <stdio.h>

int main(void) {
    printf("hello, %s! %d + %d = %d\n", "wasi", 2, 3, 2 + 3);
    printf("%.3f %e %x\n", 3.14159, 6.02e23, 48879);
    fprintf(stderr, "a line on stderr\n");
    return 3;
}
