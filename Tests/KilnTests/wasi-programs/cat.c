/* Copies stdin to stdout in odd-sized chunks, then reports the byte count on stderr. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    char buffer[1000];
    long total = 0;
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) > 0) {
        ssize_t done = 0;
        while (done < n) {
            ssize_t w = write(1, buffer + done, n - done);
            if (w <= 0) return 2;
            done += w;
        }
        total += n;
    }
    if (n < 0) return 1;
    fprintf(stderr, "%ld bytes\n", total);
    return 0;
}
