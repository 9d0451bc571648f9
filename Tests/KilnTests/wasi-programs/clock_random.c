/* Clocks and randomness: prints properties, not values, so output is deterministic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

static long long ns(clockid_t clock) {
    struct timespec t;
    if (clock_gettime(clock, &t) != 0) return -1;
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
    long long wall = ns(CLOCK_REALTIME);
    printf("realtime after 2020: %d\n", wall > 1577836800LL * 1000000000LL);
    printf("time() agrees: %d\n", llabs((long long)time(NULL) - wall / 1000000000LL) <= 2);
    long long a = ns(CLOCK_MONOTONIC);
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
    long long b = ns(CLOCK_MONOTONIC);
    printf("monotonic advanced by the 20 ms sleep: %d\n", b - a >= 20 * 1000 * 1000);
    printf("monotonic sane (under 10 s): %d\n", b - a < 10LL * 1000 * 1000 * 1000);
    struct timespec res;
    printf("resolution known: %d\n", clock_getres(CLOCK_MONOTONIC, &res) == 0 && (res.tv_sec > 0 || res.tv_nsec > 0));
    clock_t c = clock();
    printf("clock() works: %d\n", c != (clock_t)-1);

    unsigned char x[32], y[32], zero[32] = {0};
    int ok = getentropy(x, sizeof x) == 0 && getentropy(y, sizeof y) == 0;
    printf("getentropy: %d\n", ok);
    printf("random bytes not zero: %d\n", memcmp(x, zero, sizeof x) != 0);
    printf("two draws differ: %d\n", memcmp(x, y, sizeof x) != 0);
    int histogram[4] = {0};
    unsigned char big[4096];
    getentropy(big, 256);
    getentropy(big + 256, 256);
    for (int i = 0; i < 512; i++) histogram[big[i] >> 6]++;
    int spread = 1;
    for (int i = 0; i < 4; i++) if (histogram[i] < 64) spread = 0;
    printf("bytes spread over quarters: %d\n", spread);
    return 0;
}
