/* compiler/arena.c — the compilation arena.
 * Policy: the AST, every string and every temporary table of one
 * compilation come from one Arena; nothing is freed one by one, and
 * arena_free releases all blocks when the compilation ends (so the
 * sanitizers see no leak and no code path needs ownership rules). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vitc.h"

struct ArenaBlock { ArenaBlock *next; size_t used, cap; };

void *arena_alloc(Arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    ArenaBlock *b = a->head;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        b = malloc(sizeof(ArenaBlock) + 16 + cap);
        if (!b) { fprintf(stderr, "vitc: out of memory\n"); abort(); }
        b->cap = cap; b->used = 0; b->next = a->head; a->head = b;
    }
    char *base = (char *)(b + 1);
    base += (16 - ((uintptr_t)base & 15)) & 15;
    void *p = base + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strdup(Arena *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = arena_alloc(a, n);
    memcpy(d, s, n);
    return d;
}

char *arena_printf(Arena *a, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

void arena_free(Arena *a) {
    for (ArenaBlock *b = a->head, *nx; b; b = nx) { nx = b->next; free(b); }
    a->head = NULL;
}
