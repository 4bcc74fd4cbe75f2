/* replay_main.c — a harness without libFuzzer: LLVMFuzzerTestOneInput on every file named on
 * the command line and on every file of every directory named (one level, names sorted, dot
 * files skipped). Each input is read into a buffer of exactly its size, so that the sanitizers
 * see an overread as libFuzzer's driver would.
 *
 *   fuzz_replay_<target> [-q] PATH...   prints each input before running it (the last name
 *                                       printed is the culprit of a crash; -q: only the count),
 *                                       then "replayed N inputs"; exits 1 when a path cannot be
 *                                       read or no input ran. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int quiet;

/* Runs the harness on the file; 0 when it could not be read. */
static int replay_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        return 0;
    }
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || sb.st_size < 0) {
        fclose(fp);
        fprintf(stderr, "replay: %s: cannot stat\n", path);
        return 0;
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *data = malloc(size ? size : 1); /* [size] */
    int ok = data && fread(data, 1, size, fp) == size;
    fclose(fp);
    if (!ok) {
        free(data);
        fprintf(stderr, "replay: %s: cannot read\n", path);
        return 0;
    }
    if (!quiet) {
        printf("replay: %s (%zu bytes)\n", path, size);
        fflush(stdout);
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

static int skip_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays path (a file, or a directory's files); returns the count, -1 on an unreadable path. */
static long replay_path(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: %s: no such file or directory\n", path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) return replay_file(path) ? 1 : -1;
    struct dirent **names;
    int n = scandir(path, &names, skip_dot, by_name);
    if (n < 0) {
        fprintf(stderr, "replay: %s: cannot list\n", path);
        return -1;
    }
    long count = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
        struct stat fs;
        if (count >= 0 && stat(file, &fs) == 0 && S_ISREG(fs.st_mode))
            count = replay_file(file) ? count + 1 : -1;
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv) {
    long total = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) {
            quiet = 1;
            continue;
        }
        long n = replay_path(argv[i]);
        if (n < 0) failed = 1;
        else total += n;
    }
    printf("replayed %ld inputs\n", total);
    if (total == 0) fprintf(stderr, "replay: no input ran\n");
    return failed || total == 0 ? 1 : 0;
}
