/* Prints its arguments (argv[0] aside: it is the host's choice) and a few environment variables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=[%s]\n", i, argv[i]);
    const char *names[] = {"GREETING", "EMPTY", "WITH_EQUALS", "UNSET_VARIABLE"};
    for (int i = 0; i < 4; i++) {
        const char *value = getenv(names[i]);
        printf("%s=%s%s%s\n", names[i], value ? "[" : "", value ? value : "(unset)", value ? "]" : "");
    }
    int count = 0;
    for (char **e = environ; *e; e++) count++;
    fprintf(stderr, "environ has %d entries\n", count);
    return argc == 1 ? 7 : 0;
}
