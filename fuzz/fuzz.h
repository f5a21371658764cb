/* fuzz/fuzz.h — shared by the libFuzzer harnesses (fuzz_*.c): every reader
 * under test takes a path, so each input is written to a file in a scratch
 * directory private to the process (removed at exit). */
#ifndef VIT_FUZZ_H
#define VIT_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[256];

static inline void fz_cleanup(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
    if (fz_dir[0] && system(cmd)) fz_dir[0] = 0;
}

/* path of `name` in the scratch directory (created on first use) */
static inline const char *fz_path(const char *name) {
    static char p[512];
    if (!fz_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/vitfuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir)) { perror("mkdtemp"); abort(); }
        atexit(fz_cleanup);
    }
    snprintf(p, sizeof p, "%s/%s", fz_dir, name);
    return p;
}

/* write n bytes to `name` in the scratch directory; its path */
static inline const char *fz_write(const char *name, const uint8_t *d, size_t n) {
    const char *p = fz_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f)) { perror(p); abort(); }
    return p;
}

#endif
