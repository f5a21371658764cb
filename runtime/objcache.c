/* runtime/objcache.c — the JIT's object cache.  Each entry is the object
 * file of one optimised module for one host, named by a 128-bit hash of the
 * bitcode, the target triple, the host CPU and its features and the LLVM
 * version.  Directory: $VITRUN_CACHE, else $XDG_CACHE_HOME/vitrun, else
 * $HOME/.cache/vitrun; VITRUN_CACHE=off disables it.  Entries are written
 * atomically (temporary file, then rename).  A hit refreshes the entry's
 * modification time; after each new entry the least recently used others
 * are removed while the directory holds more than $VITRUN_CACHE_MAX bytes
 * (K, M, G suffixes; default 1G).  Only files named like entries are ever
 * removed. */
#include "objcache.h"

#include <llvm-c/Core.h>
#include <llvm-c/Support.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_LIMIT (1ll << 30)

long long objcache_limit(const char *s) {
    if (!s || !*s) return DEFAULT_LIMIT;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0) return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    else if (*end == 'M' || *end == 'm') shift = 20, end++;
    else if (*end == 'G' || *end == 'g') shift = 30, end++;
    if (*end || v > (LLONG_MAX >> shift)) return -1;
    return v << shift;
}

/* 32 hex digits and ".o": a name this cache gave */
static int is_entry(const char *name) {
    size_t n = strlen(name);
    if (n != 34 || strcmp(name + 32, ".o")) return 0;
    for (size_t i = 0; i < 32; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return 0;
    return 1;
}

typedef struct {
    char name[40];
    long long size;
    struct timespec used;
} Entry;

static int older(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec) return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec) return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Remove least recently used entries other than keep while over the limit. */
static void evict(const char *keep) {
    long long limit = objcache_limit(getenv("VITRUN_CACHE_MAX"));
    if (limit < 0) limit = DEFAULT_LIMIT;
    char dir[3300];
    snprintf(dir, sizeof dir, "%s", keep);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    const char *keepname = slash + 1;
    DIR *d = opendir(dir);
    if (!d) return;
    Entry *e = NULL;
    size_t n = 0, cap = 0;
    long long total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!is_entry(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) || !S_ISREG(st.st_mode)) continue;
        total += st.st_size;
        if (!strcmp(de->d_name, keepname)) continue;
        if (n == cap) {
            Entry *g = realloc(e, (cap = cap ? 2 * cap : 64) * sizeof *e);
            if (!g) break;
            e = g;
        }
        memcpy(e[n].name, de->d_name, 35); /* is_entry: 34 characters and the NUL */
        e[n].size = st.st_size, e[n].used = st.st_mtim;
        n++;
    }
    if (total > limit && n) {
        qsort(e, n, sizeof *e, older);
        for (size_t i = 0; i < n && total > limit; i++)
            if (!unlinkat(dirfd(d), e[i].name, 0)) total -= e[i].size;
    }
    closedir(d);
    free(e);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* dir/KEY.o for this bitcode on this host, or 0 when the cache is off */
int objcache_path(const void *bc, size_t bclen, const char *triple, const char *cpu, const char *features,
                      char *path, size_t len) {
    const char *env = getenv("VITRUN_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[3072];
    if (env && (!strcmp(env, "off") || !strcmp(env, "0") || !*env)) return 0;
    if (env) snprintf(dir, sizeof dir, "%s", env);
    else if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/vitrun", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/vitrun", home);
    else return 0;
    if (!env && xdg && *xdg) mkdir(xdg, 0755);
    else if (!env && home) {
        char c[3072];
        snprintf(c, sizeof c, "%s/.cache", home);
        mkdir(c, 0755);
    }
    if (mkdir(dir, 0755) && errno != EEXIST) return 0;
    unsigned maj = 0, min = 0, pat = 0;
    LLVMGetVersion(&maj, &min, &pat);
    char salt[64];
    snprintf(salt, sizeof salt, "vitrun-object-1 llvm %u.%u.%u", maj, min, pat);
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    const void *parts[] = {salt, triple, cpu, features};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]) + 1;
        h1 = fnv1a(h1, parts[i], n);
        h2 = fnv1a(h2 ^ 0x9e3779b97f4a7c15ull, parts[i], n);
    }
    h1 = fnv1a(h1, bc, bclen);
    h2 = fnv1a(h2, bc, bclen);
    h2 = fnv1a(h2, &bclen, sizeof bclen);
    return snprintf(path, len, "%s/%016llx%016llx.o", dir, (unsigned long long)h1, (unsigned long long)h2) < (int)len;
}

/* The cached object (ours), or NULL */
LLVMMemoryBufferRef objcache_read(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    LLVMMemoryBufferRef mb = NULL;
    if (!fstat(fd, &st) && st.st_size > 0 && st.st_size < (off_t)1 << 31) {
        char *buf = malloc((size_t)st.st_size);
        size_t got = 0;
        while (buf && got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (buf && got == (size_t)st.st_size) mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(buf, got, path);
        free(buf);
    }
    close(fd);
    if (mb) utimensat(AT_FDCWD, path, NULL, 0); /* used now: the last to be evicted */
    return mb;
}

/* Best effort: a failure only costs the next start a compile. */
void objcache_write(const char *path, LLVMMemoryBufferRef obj) {
    char tmp[3400];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) return;
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    const char *p = LLVMGetBufferStart(obj);
    size_t n = LLVMGetBufferSize(obj), put = 0;
    while (put < n) {
        ssize_t w = write(fd, p + put, n - put);
        if (w <= 0) break;
        put += (size_t)w;
    }
    int ok = put == n && !fsync(fd);
    close(fd);
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return;
    }
    evict(path);
}

