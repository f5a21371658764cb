/* compiler/source.c — source files and diagnostics.
 * Files are read whole into the arena; a Loc is (file, line, col), and a
 * diagnostic prints `file:line:col: error: ...`, the source line and a caret
 * under the column (the chibicc/jq format). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vitc.h"

#define SRC_MAX_BYTES (16 << 20) /* a source file larger than this is refused */
#define DIAG_MAX_LINE 160 /* characters of a source line shown under a message */

void ctx_init(Ctx *c) {
    memset(c, 0, sizeof *c);
    c->diag_out = stderr;
}

void ctx_free(Ctx *c) { arena_free(&c->arena); }

int src_load(Ctx *c, const char *path, Loc from) {
    for (int i = 0; i < c->nfiles; i++)
        if (!strcmp(c->files[i].path, path)) return i;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (from.file >= 0) diag_error(c, from, "cannot read '%s': %s", path, strerror(errno));
        else { fprintf(c->diag_out, "%s: error: cannot read: %s\n", path, strerror(errno)); c->errors++; }
        return -1;
    }
    size_t cap = 1 << 14, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n > SRC_MAX_BYTES) {
            free(buf);
            fclose(f);
            fprintf(c->diag_out, "%s: error: larger than %d MiB; a spec is a short text file\n", path, SRC_MAX_BYTES >> 20);
            c->errors++;
            return -1;
        }
        if (n + 1 == cap) { cap *= 2; char *nb = realloc(buf, cap); if (!nb) { free(buf); buf = NULL; } else buf = nb; }
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        free(buf);
        fprintf(c->diag_out, "%s: error: cannot read file\n", path);
        c->errors++;
        return -1;
    }
    buf[n] = 0;
    if (c->nfiles == c->capfiles) {
        c->capfiles = c->capfiles ? 2 * c->capfiles : 8;
        SrcFile *nf = arena_alloc(&c->arena, sizeof(SrcFile) * (size_t)c->capfiles);
        if (c->nfiles) memcpy(nf, c->files, sizeof(SrcFile) * (size_t)c->nfiles);
        c->files = nf;
    }
    char *text = arena_alloc(&c->arena, n + 1);
    memcpy(text, buf, n + 1);
    free(buf);
    c->files[c->nfiles] = (SrcFile){arena_strdup(&c->arena, path), text, n};
    return c->nfiles++;
}

static void vdiag(Ctx *c, Loc loc, const char *kind, const char *fmt, va_list ap) {
    FILE *o = c->diag_out;
    if (loc.file < 0 || loc.file >= c->nfiles) {
        fprintf(o, "%s: ", kind);
        vfprintf(o, fmt, ap);
        fputc('\n', o);
        return;
    }
    const SrcFile *f = &c->files[loc.file];
    fprintf(o, "%s:%d:%d: %s: ", f->path, loc.line, loc.col, kind);
    vfprintf(o, fmt, ap);
    fputc('\n', o);
    const char *p = f->text;
    for (int l = 1; l < loc.line && *p; p++)
        if (*p == '\n') l++;
    const char *e = strchr(p, '\n');
    int len = e ? (int)(e - p) : (int)strlen(p), col = loc.col;
    if (len > DIAG_MAX_LINE) { /* a window of the line around the column */
        int from = col > DIAG_MAX_LINE / 2 ? col - DIAG_MAX_LINE / 2 : 1;
        if (from > len) from = len;
        p += from - 1;
        len -= from - 1;
        col -= from - 1;
        if (len > DIAG_MAX_LINE) len = DIAG_MAX_LINE;
    }
    fprintf(o, "    %.*s\n    ", len, p);
    for (int i = 1; i < col && i <= len; i++) fputc(p[i - 1] == '\t' ? '\t' : ' ', o);
    fprintf(o, "^\n");
}

void diag_error(Ctx *c, Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, loc, "error", fmt, ap);
    va_end(ap);
    c->errors++;
}

void diag_note(Ctx *c, Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, loc, "note", fmt, ap);
    va_end(ap);
}
