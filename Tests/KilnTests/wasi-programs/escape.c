/* Tries to leave the sandbox argv[1] in every way a path can; each attempt must fail.
 * Also reads a file the sandbox does contain, through a ".." that stays inside. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int attempt(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char buffer[64] = {0};
        ssize_t n = read(fd, buffer, sizeof buffer - 1);
        close(fd);
        printf("OPENED %s: %zd bytes\n", path, n);
        return 1;
    }
    printf("refused %s\n", path);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: escape SANDBOX ABSOLUTE-OUTSIDE-PATH\n"); return 2; }
    char path[512];
    int escaped = 0;
    snprintf(path, sizeof path, "%s/../outside.txt", argv[1]);           escaped += attempt(path);
    snprintf(path, sizeof path, "%s/sub/../../outside.txt", argv[1]);    escaped += attempt(path);
    snprintf(path, sizeof path, "%s/link-absolute", argv[1]);            escaped += attempt(path);
    snprintf(path, sizeof path, "%s/link-relative", argv[1]);            escaped += attempt(path);
    snprintf(path, sizeof path, "%s/sub/link-up-up", argv[1]);           escaped += attempt(path);
    escaped += attempt(argv[2]);
    escaped += attempt("/etc/passwd");
    escaped += attempt("../outside.txt");
    snprintf(path, sizeof path, "%s/../outside-new.txt", argv[1]);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    printf("%s %s\n", fd >= 0 ? "CREATED" : "refused create", path);
    if (fd >= 0) escaped++;
    int inside = 0;
    snprintf(path, sizeof path, "%s/sub/../inside.txt", argv[1]);        inside += attempt(path);
    snprintf(path, sizeof path, "%s/link-inside", argv[1]);              inside += attempt(path);
    printf("escaped %d inside %d\n", escaped, inside);
    return escaped ? 1 : 0;
}
