/* native_main.c - native driver for the Kiln benchmark programs.
 * Links against one programs/NAME.c, calls run() and prints one JSON line:
 *   {"engine":"native","program":NAME,"checksum":N,"run_ns":N}
 * Usage: NAME [repeats]   (each repeat calls run() again; run() is idempotent) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef BENCH_NAME
#define BENCH_NAME "unknown"
#endif

int64_t run(void);

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int repeats = argc > 1 ? atoi(argv[1]) : 1;
    if (repeats < 1) repeats = 1;
    for (int i = 0; i < repeats; i++) {
        uint64_t t0 = now_ns();
        int64_t sum = run();
        uint64_t t1 = now_ns();
        printf("{\"engine\":\"native\",\"program\":\"%s\",\"iteration\":%d,"
               "\"checksum\":%lld,\"run_ns\":%llu}\n",
               BENCH_NAME, i, (long long)sum, (unsigned long long)(t1 - t0));
        fflush(stdout);
    }
    return 0;
}
