/* File system work inside the directory argv[1]: create, write, read back, append, seek, rename,
 * list, stat, remove. Prints what it sees; listing is sorted so the order is the host's no more. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[4][512];
static const char *at(int slot, const char *dir, const char *name) {
    snprintf(path[slot], sizeof path[slot], "%s/%s", dir, name);
    return path[slot];
}

static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { printf("opendir %s: %s\n", dir, strerror(errno)); return; }
    char *names[64];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) && count < 64) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        names[count++] = strdup(entry->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof names[0], compare);
    printf("list %s:", dir);
    for (int i = 0; i < count; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: files DIR\n"); return 2; }
    const char *dir = argv[1];

    FILE *f = fopen(at(0, dir, "notes.txt"), "w");
    if (!f) { printf("create: %s\n", strerror(errno)); return 1; }
    for (int i = 0; i < 100; i++) fprintf(f, "line %d\n", i);
    fclose(f);

    f = fopen(at(0, dir, "notes.txt"), "a");
    fputs("appended\n", f);
    fclose(f);

    struct stat st;
    if (stat(at(0, dir, "notes.txt"), &st) != 0) { printf("stat: %s\n", strerror(errno)); return 1; }
    printf("size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));

    int fd = open(at(0, dir, "notes.txt"), O_RDONLY);
    char buffer[64] = {0};
    lseek(fd, 70, SEEK_SET);
    ssize_t n = read(fd, buffer, 20);
    printf("read %zd at 70: [%.*s]\n", n, (int)n, buffer);
    printf("tell %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    close(fd);

    f = fopen(at(0, dir, "notes.txt"), "r");
    char line[64];
    int lines = 0;
    char last[64] = "";
    while (fgets(line, sizeof line, f)) { lines++; strcpy(last, line); }
    fclose(f);
    printf("lines %d last %s", lines, last);

    if (mkdir(at(0, dir, "sub"), 0755) != 0) printf("mkdir: %s\n", strerror(errno));
    if (rename(at(0, dir, "notes.txt"), at(1, dir, "sub/renamed.txt")) != 0) printf("rename: %s\n", strerror(errno));
    printf("old name exists: %d\n", access(at(0, dir, "notes.txt"), F_OK) == 0);
    f = fopen(at(0, dir, "b.txt"), "w"); fputs("b", f); fclose(f);
    f = fopen(at(0, dir, "a.txt"), "w"); fputs("a", f); fclose(f);
    list(dir);
    list(at(0, dir, "sub"));

    printf("open missing: %s\n", open(at(0, dir, "missing.txt"), O_RDONLY) < 0 ? strerror(errno) : "opened?");
    printf("rmdir non-empty fails: %d\n", rmdir(at(0, dir, "sub")) != 0);
    if (unlink(at(0, dir, "sub/renamed.txt")) != 0) printf("unlink: %s\n", strerror(errno));
    if (rmdir(at(0, dir, "sub")) != 0) printf("rmdir: %s\n", strerror(errno));
    unlink(at(0, dir, "a.txt"));
    unlink(at(0, dir, "b.txt"));
    list(dir);
    return 0;
}
