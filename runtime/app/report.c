/* runtime/app/report.c — one self-contained HTML page from run directories.
 *
 * The page is built in memory, then written through a temporary file that is
 * renamed into place.  Every directory (and its sub-directories, depth first,
 * names in byte order, hidden names skipped) with something to show becomes
 * one section of the table of contents:
 *   - PNG / JPEG pictures: decoded once (a file that does not decode is an
 *     error), inlined as base64 data: URIs with their size, captioned;
 *   - JSON files: rendered as tables (json_*);
 *   - markdown files: headings, pipe tables, lists, code blocks and
 *     paragraphs (md_*).
 * Captions come from the file name, or from a manifest `captions.tsv` in the
 * directory ("FILE<tab>caption" lines; its files come first, in its order).
 * Every string from a file or a file name goes through html_esc.  The page
 * carries a content security policy that allows data: pictures, inline
 * style and one hashed script only, and that script (report_check) writes
 * into <body> how many pictures there are and how many decoded, so a
 * browser-driven test can read it back from the DOM. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "img.h"
#include "vitint.h"

#define REPORT_MAX_DEPTH 8
#define REPORT_MAX_IMAGE_BYTES (16u << 20)
#define REPORT_MAX_JSON_BYTES (8u << 20)
#define REPORT_MAX_ROWS 500
#define REPORT_MAX_COLS 40
#define REPORT_MANIFEST "captions.tsv"

/* ------------------------------------------------------------- buffers */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) { b->oom = 1; return; }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void buf_puts(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t k;
    unsigned min;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) { k = 2; min = 0x80; }
    else if ((s[0] & 0xF0) == 0xE0) { k = 3; min = 0x800; }
    else if ((s[0] & 0xF8) == 0xF0) { k = 4; min = 0x10000; }
    else return 0;
    if (k > n) return 0;
    unsigned cp = s[0] & (0x7F >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

/* n bytes of s as HTML text (also safe inside a quoted attribute). */
static void buf_esc_n(Buf *b, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) { buf_puts(b, rep); i++; continue; }
        if (c < 0x20 && c != '\n' && c != '\t') { buf_puts(b, "\xEF\xBF\xBD"); i++; continue; }
        if (c == 0x7F) { buf_puts(b, "\xEF\xBF\xBD"); i++; continue; }
        size_t k = utf8_len(u + i, n - i);
        if (!k) { buf_puts(b, "\xEF\xBF\xBD"); i++; continue; }
        buf_add(b, s + i, k);
        i += k;
    }
}

static void buf_esc(Buf *b, const char *s) { buf_esc_n(b, s, strlen(s)); }

char *vit_html_escape(const char *s) {
    Buf b = {0};
    buf_puts(&b, "");
    buf_esc(&b, s);
    if (b.oom) { free(b.s); return NULL; }
    return b.s;
}

static void buf_base64(Buf *b, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        q[0] = tab[v >> 18 & 63];
        q[1] = tab[v >> 12 & 63];
        q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        buf_add(b, q, 4);
    }
}

char *vit_base64_encode(const void *data, size_t n) {
    Buf b = {0};
    buf_puts(&b, "");
    buf_base64(&b, data, n);
    if (b.oom) { free(b.s); return NULL; }
    return b.s;
}

/* ---------------------------------------------------------- the walk */

enum item_kind { ITEM_IMAGE, ITEM_JSON, ITEM_MD, ITEM_KIND_COUNT };

typedef struct {
    char *path, *name, *caption;
    int kind;
} Item;

typedef struct {
    char *label; /* the directory as given, plus the sub-path */
    Item *items;
    int n;
    int hidden_images; /* pictures beyond max_images */
} Section;

typedef struct {
    vit_ctx *ctx;
    const vit_report_opts *o;
    Section *sec;
    int nsec, nitems;
    int max_images;
} Walk;

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcasecmp(s + n - m, suf);
}

static int item_kind(const char *name) {
    if (ends_with(name, ".png") || ends_with(name, ".jpg") || ends_with(name, ".jpeg")) return ITEM_IMAGE;
    if (ends_with(name, ".json")) return ITEM_JSON;
    if (ends_with(name, ".md")) return ITEM_MD;
    return -1;
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, *a && a[strlen(a) - 1] != '/' ? "/" : "", b);
    return s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void items_free(Item *it, int n) {
    for (int i = 0; i < n; i++) { free(it[i].path); free(it[i].name); free(it[i].caption); }
    free(it);
}

/* The manifest's caption for name, and its line number (or a large one). */
static const char *manifest_caption(char **lines, int n, const char *name, int *rank) {
    *rank = 1 << 30;
    for (int i = 0; i < n; i++) {
        char *tab = strchr(lines[i], '\t');
        if (!tab || lines[i][0] == '#') continue;
        if ((size_t)(tab - lines[i]) == strlen(name) && !strncmp(lines[i], name, (size_t)(tab - lines[i]))) {
            *rank = i;
            return tab + 1;
        }
    }
    return NULL;
}

static char **read_manifest(const char *dir, int *n) {
    *n = 0;
    char *path = join(dir, REPORT_MANIFEST);
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f) return NULL;
    char **v = NULL, *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        char **nv = realloc(v, sizeof *v * (size_t)(*n + 1));
        if (!nv) break;
        v = nv;
        v[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return v;
}

typedef struct {
    Item it;
    int rank;
} Ranked;

static int cmp_ranked(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return strcmp(x->it.name, y->it.name);
}

static int walk_dir(Walk *w, const char *dir, const char *label, int depth) {
    DIR *d = opendir(dir);
    if (!d) return vit_ctx_fail(w->ctx, VIT_ERR_IO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    int nn = 0, rc = VIT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char **nv = realloc(names, sizeof *names * (size_t)(nn + 1));
        if (!nv || !(nv[nn] = strdup(e->d_name))) { names = nv ? nv : names; rc = VIT_ERR_MEM; break; }
        names = nv;
        nn++;
    }
    closedir(d);
    if (rc) { for (int i = 0; i < nn; i++) free(names[i]); free(names); return vit_ctx_fail(w->ctx, rc, "out of memory"); }
    qsort(names, (size_t)nn, sizeof *names, cmp_str);

    int nman = 0;
    char **man = read_manifest(dir, &nman);
    Ranked *r = calloc((size_t)nn + 1, sizeof *r);
    char **subdirs = calloc((size_t)nn + 1, sizeof *subdirs);
    int nr = 0, nsub = 0, nimg = 0, hidden = 0;
    if (!r || !subdirs) rc = vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory");
    for (int i = 0; i < nn && !rc; i++) {
        char *path = join(dir, names[i]);
        struct stat st;
        if (!path) { rc = vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory"); break; }
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) { /* symbolic links to directories are not followed */
            subdirs[nsub++] = path;
            continue;
        }
        int kind = item_kind(names[i]);
        if (kind < 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) { free(path); continue; }
        if (kind == ITEM_IMAGE && ++nimg > w->max_images) { hidden++; free(path); continue; }
        const char *cap = manifest_caption(man, nman, names[i], &r[nr].rank);
        r[nr].it.path = path;
        r[nr].it.name = strdup(names[i]);
        r[nr].it.caption = cap ? strdup(cap) : NULL;
        r[nr].it.kind = kind;
        if (!r[nr].it.name || (cap && !r[nr].it.caption)) rc = vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory");
        nr++;
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    free(names);
    for (int i = 0; i < nman; i++) free(man[i]);
    free(man);
    if (!rc && nr) {
        qsort(r, (size_t)nr, sizeof *r, cmp_ranked);
        Section *ns = realloc(w->sec, sizeof *ns * (size_t)(w->nsec + 1));
        Item *items = malloc(sizeof *items * (size_t)nr);
        char *lab = strdup(label);
        if (ns) w->sec = ns;
        if (!ns || !items || !lab) { free(items); free(lab); rc = vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory"); }
        else {
            for (int i = 0; i < nr; i++) items[i] = r[i].it;
            w->sec[w->nsec++] = (Section){lab, items, nr, hidden};
            w->nitems += nr;
            nr = 0; /* owned by the section now */
        }
    }
    for (int i = 0; i < nr; i++) { free(r[i].it.path); free(r[i].it.name); free(r[i].it.caption); }
    free(r);
    for (int i = 0; i < nsub; i++) {
        if (!rc && depth < REPORT_MAX_DEPTH) {
            char *lab = join(label, strrchr(subdirs[i], '/') + 1);
            rc = lab ? walk_dir(w, subdirs[i], lab, depth + 1) : vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory");
            free(lab);
        }
        free(subdirs[i]);
    }
    free(subdirs);
    return rc;
}

/* ----------------------------------------------------- reading files */

static int read_all(vit_ctx *ctx, const char *path, size_t max, unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || (size_t)st.st_size > max) {
        fclose(f);
        return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: larger than %zu MB, too large for a report", path, max >> 20);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *d = malloc(n + 1);
    if (!d) { fclose(f); return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); }
    size_t got = fread(d, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) { free(d); return vit_ctx_fail(ctx, VIT_ERR_IO, "%s: read error", path); }
    d[n] = 0;
    *data = d;
    *len = n;
    return VIT_OK;
}

/* ----------------------------------------------------------- JSON */

static void json_scalar(Buf *b, const cJSON *v) {
    if (cJSON_IsString(v)) buf_esc(b, v->valuestring);
    else if (cJSON_IsBool(v)) buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) buf_puts(b, "null");
    else if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x == (double)(long long)x && x > -1e15 && x < 1e15) buf_printf(b, "%lld", (long long)x);
        else buf_printf(b, "%.4g", x);
    }
}

static int is_scalar(const cJSON *v) { return !cJSON_IsArray(v) && !cJSON_IsObject(v); }

static int scalar_array(const cJSON *v) {
    if (!cJSON_IsArray(v)) return 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if (!is_scalar(c)) return 0;
    return 1;
}

static int object_array(const cJSON *v) {
    if (!cJSON_IsArray(v) || !v->child) return 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if (!cJSON_IsObject(c)) return 0;
    return 1;
}

/* A value inside a table cell: scalars, lists joined, objects as "key: value, ...". */
static void json_inline(Buf *b, const cJSON *v, int depth) {
    if (is_scalar(v)) { json_scalar(b, v); return; }
    if (depth > 3) { buf_puts(b, "&hellip;"); return; }
    int obj = cJSON_IsObject(v), i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        if (i) buf_puts(b, obj ? ", " : cJSON_IsObject(c) ? "<br>" : ", ");
        if (i >= 50) { buf_printf(b, "&hellip; (%d in all)", cJSON_GetArraySize(v)); break; }
        if (obj && c->string) { buf_esc(b, c->string); buf_puts(b, ": "); }
        json_inline(b, c, depth + 1);
    }
}

static void table_open(Buf *b, const char *caption) {
    buf_puts(b, "<div class=\"tw\"><table>");
    if (caption) { buf_puts(b, "<caption>"); buf_esc(b, caption); buf_puts(b, "</caption>"); }
}

static void table_more(Buf *b, int ncols, int shown, int total) {
    if (total > shown) buf_printf(b, "<tr><td colspan=\"%d\" class=\"more\">&hellip; %d more rows</td></tr>", ncols, total - shown);
}

/* An array of objects: one row each, the union of their keys as columns. */
static void json_records(Buf *b, const cJSON *arr, const char *caption) {
    const char *cols[REPORT_MAX_COLS];
    int nc = 0, nrow = cJSON_GetArraySize(arr);
    for (const cJSON *o = arr->child; o; o = o->next)
        for (const cJSON *c = o->child; c; c = c->next) {
            int k = 0;
            while (k < nc && strcmp(cols[k], c->string)) k++;
            if (k == nc && nc < REPORT_MAX_COLS) cols[nc++] = c->string;
        }
    table_open(b, caption);
    buf_puts(b, "<thead><tr>");
    for (int k = 0; k < nc; k++) { buf_puts(b, "<th>"); buf_esc(b, cols[k]); buf_puts(b, "</th>"); }
    buf_puts(b, "</tr></thead><tbody>");
    int r = 0;
    for (const cJSON *o = arr->child; o && r < REPORT_MAX_ROWS; o = o->next, r++) {
        buf_puts(b, "<tr>");
        for (int k = 0; k < nc; k++) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, cols[k]);
            buf_puts(b, c && cJSON_IsNumber(c) ? "<td class=\"n\">" : "<td>");
            if (c) json_inline(b, c, 0);
            buf_puts(b, "</td>");
        }
        buf_puts(b, "</tr>");
    }
    table_more(b, nc, r, nrow);
    buf_puts(b, "</tbody></table></div>\n");
}

/* Parallel lists of scalars of one length: a column each, named by their path. */
typedef struct {
    char name[256];
    const cJSON *arr;
} Column;

static int collect_columns(const cJSON *obj, const char *prefix, Column *col, int nc) {
    for (const cJSON *c = obj->child; c && nc < REPORT_MAX_COLS; c = c->next) {
        if (scalar_array(c) && cJSON_GetArraySize(c) > 1) {
            snprintf(col[nc].name, sizeof col[nc].name, "%s%s", prefix, c->string);
            col[nc++].arr = c;
        } else if (cJSON_IsObject(c) && c->child && !prefix[0]) {
            char p[256];
            snprintf(p, sizeof p, "%s.", c->string);
            int all = 1;
            for (const cJSON *g = c->child; g; g = g->next) all &= scalar_array(g) && cJSON_GetArraySize(g) > 1;
            if (all) nc = collect_columns(c, p, col, nc);
        }
    }
    return nc;
}

static void json_columns(Buf *b, Column *col, int nc) {
    int *done = calloc((size_t)nc + 1, sizeof *done);
    if (!done) { b->oom = 1; return; }
    for (int i = 0; i < nc; i++) {
        if (done[i]) continue;
        int n = cJSON_GetArraySize(col[i].arr), m = 0;
        const cJSON *cur[REPORT_MAX_COLS];
        table_open(b, NULL);
        buf_puts(b, "<thead><tr><th>#</th>");
        for (int j = i; j < nc; j++)
            if (!done[j] && cJSON_GetArraySize(col[j].arr) == n) {
                done[j] = 1;
                cur[m++] = col[j].arr->child;
                buf_puts(b, "<th>");
                buf_esc(b, col[j].name);
                buf_puts(b, "</th>");
            }
        buf_puts(b, "</tr></thead><tbody>");
        int r = 0;
        for (; r < n && r < REPORT_MAX_ROWS; r++) {
            buf_printf(b, "<tr><td class=\"n\">%d</td>", r);
            for (int k = 0; k < m; k++) {
                buf_puts(b, cJSON_IsNumber(cur[k]) ? "<td class=\"n\">" : "<td>");
                json_scalar(b, cur[k]);
                buf_puts(b, "</td>");
                cur[k] = cur[k]->next;
            }
            buf_puts(b, "</tr>");
        }
        table_more(b, m + 1, r, n);
        buf_puts(b, "</tbody></table></div>\n");
    }
    free(done);
}

static void json_value(Buf *b, const cJSON *v, int depth);

static void json_object(Buf *b, const cJSON *obj, int depth) {
    /* scalars (and one-element lists of them) as a key / value table */
    int any = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!(is_scalar(c) || (scalar_array(c) && cJSON_GetArraySize(c) <= 1))) continue;
        if (!any++) { table_open(b, NULL); buf_puts(b, "<tbody>"); }
        buf_puts(b, "<tr><th>");
        buf_esc(b, c->string);
        buf_puts(b, cJSON_IsNumber(c) ? "</th><td class=\"n\">" : "</th><td>");
        json_inline(b, c, 0);
        buf_puts(b, "</td></tr>");
    }
    if (any) buf_puts(b, "</tbody></table></div>\n");
    Column col[REPORT_MAX_COLS];
    int nc = collect_columns(obj, "", col, 0);
    json_columns(b, col, nc);
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (is_scalar(c) || scalar_array(c)) continue;
        int taken = 0;
        for (int k = 0; k < nc; k++) taken |= !strncmp(col[k].name, c->string, strlen(c->string)) &&
                                               col[k].name[strlen(c->string)] == '.';
        if (taken) continue;
        if (object_array(c)) { json_records(b, c, c->string); continue; }
        buf_printf(b, "<h4 class=\"jk\">");
        buf_esc(b, c->string);
        buf_puts(b, "</h4>\n");
        json_value(b, c, depth + 1);
    }
}

static void json_value(Buf *b, const cJSON *v, int depth) {
    if (is_scalar(v)) { buf_puts(b, "<p>"); json_scalar(b, v); buf_puts(b, "</p>\n"); }
    else if (depth > 4) { buf_puts(b, "<p>"); json_inline(b, v, 0); buf_puts(b, "</p>\n"); }
    else if (cJSON_IsObject(v)) json_object(b, v, depth);
    else if (object_array(v)) json_records(b, v, NULL);
    else if (scalar_array(v)) {
        Column c = {"value", v};
        json_columns(b, &c, 1);
    } else {
        int i = 0;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            buf_printf(b, "<h4 class=\"jk\">[%d]</h4>\n", i);
            json_value(b, c, depth + 1);
        }
    }
}

/* --------------------------------------------------------- markdown */

/* Inline text: `code` and **bold**; everything else escaped. */
static void md_inline(Buf *b, const char *s, size_t n) {
    size_t i = 0, start = 0;
    while (i < n) {
        const char *close = NULL;
        size_t skip = 0;
        if (s[i] == '`') { skip = 1; close = memchr(s + i + 1, '`', n - i - 1); }
        else if (s[i] == '*' && i + 1 < n && s[i + 1] == '*') {
            skip = 2;
            for (size_t j = i + 2; j + 1 < n; j++)
                if (s[j] == '*' && s[j + 1] == '*') { close = s + j; break; }
        }
        if (!close || close == s + i + skip) { i++; continue; }
        buf_esc_n(b, s + start, i - start);
        buf_puts(b, skip == 1 ? "<code>" : "<strong>");
        buf_esc_n(b, s + i + skip, (size_t)(close - (s + i + skip)));
        buf_puts(b, skip == 1 ? "</code>" : "</strong>");
        i = start = (size_t)(close - s) + skip;
    }
    buf_esc_n(b, s + start, n - start);
}

static size_t md_trim(const char **s, size_t n) {
    while (n && isspace((unsigned char)**s)) { (*s)++; n--; }
    while (n && isspace((unsigned char)(*s)[n - 1])) n--;
    return n;
}

/* One pipe-table row as cells (th or td); a '|' after a backslash stays in the cell. */
static void md_row(Buf *b, const char *line, const char *cell) {
    const char *p = line;
    while (*p == ' ') p++;
    if (*p == '|') p++;
    buf_puts(b, "<tr>");
    while (*p) {
        const char *q = p;
        while (*q && !(*q == '|' && (q == p || q[-1] != '\\'))) q++;
        const char *c = p;
        size_t n = md_trim(&c, (size_t)(q - p));
        if (!*q && !n) break; /* nothing after the last bar */
        buf_printf(b, "<%s>", cell);
        for (size_t k = 0; k + 1 < n; k++)
            if (c[k] == '\\' && c[k + 1] == '|') { /* "\|": a bar inside the cell */
                md_inline(b, c, k);
                buf_puts(b, "|");
                c += k + 2;
                n -= k + 2;
                k = (size_t)-1;
            }
        md_inline(b, c, n);
        buf_printf(b, "</%s>", cell);
        p = *q ? q + 1 : q;
    }
    buf_puts(b, "</tr>");
}

static int md_separator(const char *line) {
    int dash = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '-') dash = 1;
        else if (!strchr("|: \t", *p)) return 0;
    }
    return dash;
}

static void md_render(Buf *b, char *text) {
    enum { NONE, PARA, LIST, TABLE, CODE };
    int st = NONE;
    int row = 0;
    for (char *line = text; line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = 0;
        const char *t = line;
        size_t tn = md_trim(&t, len);
        int fence = tn >= 3 && !strncmp(t, "```", 3);
        int item = tn >= 2 && (t[0] == '-' || t[0] == '*') && t[1] == ' ';
        int pipe = tn && t[0] == '|';
        if (st == CODE) {
            if (fence) { buf_puts(b, "</pre>\n"); st = NONE; }
            else { buf_esc(b, line); buf_puts(b, "\n"); }
        } else {
            int want = fence ? CODE : !tn ? NONE : pipe ? TABLE : item ? LIST : t[0] == '#' ? NONE : PARA;
            if (st != want || fence || !tn || t[0] == '#') {
                if (st == PARA) buf_puts(b, "</p>\n");
                if (st == LIST) buf_puts(b, "</ul>\n");
                if (st == TABLE) buf_puts(b, "</tbody></table></div>\n");
                if (st != want) st = NONE;
            }
            if (fence) { buf_puts(b, "<pre>"); st = CODE; }
            else if (!tn || (tn >= 4 && !strncmp(t, "<!--", 4) && !strcmp(t + tn - 3, "-->"))) st = NONE;
            else if (t[0] == '#') {
                int lv = 0;
                while (t[lv] == '#') lv++;
                const char *h = t + lv;
                size_t hn = md_trim(&h, tn - (size_t)lv);
                int tag = lv + 3 > 6 ? 6 : lv + 3; /* under the file's own <h3> */
                buf_printf(b, "<h%d class=\"mh\">", tag);
                md_inline(b, h, hn);
                buf_printf(b, "</h%d>\n", tag);
                st = NONE;
            } else if (pipe) {
                if (st != TABLE) { table_open(b, NULL); buf_puts(b, "<tbody>"); st = TABLE; row = 0; }
                if (!(row == 1 && md_separator(t))) md_row(b, t, row == 0 ? "th" : "td");
                row++;
            } else if (item) {
                if (st != LIST) { buf_puts(b, "<ul>"); st = LIST; }
                buf_puts(b, "<li>");
                md_inline(b, t + 2, tn - 2);
                buf_puts(b, "</li>");
            } else {
                if (st != PARA) { buf_puts(b, "<p>"); st = PARA; }
                else buf_puts(b, "\n");
                md_inline(b, t, tn);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (st == PARA) buf_puts(b, "</p>\n");
    if (st == LIST) buf_puts(b, "</ul>\n");
    if (st == TABLE) buf_puts(b, "</tbody></table></div>\n");
    if (st == CODE) buf_puts(b, "</pre>\n");
}

/* ------------------------------------------------------------- items */

static void item_heading(Buf *b, const Item *it, int s, int i) {
    buf_printf(b, "<h3 id=\"s%d-%d\">", s, i);
    buf_esc(b, it->caption ? it->caption : it->name);
    if (it->caption) { buf_puts(b, " <span class=\"fn\">"); buf_esc(b, it->name); buf_puts(b, "</span>"); }
    buf_puts(b, "</h3>\n");
}

static int item_image(vit_ctx *ctx, Buf *b, const Item *it, int s, int i, const unsigned char *d, size_t n) {
    char err[1024];
    unsigned char *rgb = NULL;
    int w, h;
    if (img_decode_rgb8(d, n, it->path, &rgb, &w, &h, err, sizeof err)) {
        size_t pl = strlen(it->path); /* the decoder's message starts with the path too */
        const char *why = !strncmp(err, it->path, pl) && !strncmp(err + pl, ": ", 2) ? err + pl + 2 : err;
        return vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: not a readable PNG or JPEG picture (%s)", it->path, why);
    }
    free(rgb);
    int png = n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8);
    buf_printf(b, "<figure id=\"s%d-%d\"><img src=\"data:image/%s;base64,", s, i, png ? "png" : "jpeg");
    buf_base64(b, d, n);
    buf_printf(b, "\" width=\"%d\" height=\"%d\" alt=\"", w, h);
    buf_esc(b, it->name);
    buf_puts(b, "\"><figcaption>");
    buf_esc(b, it->caption ? it->caption : it->name);
    if (it->caption) { buf_puts(b, " <span class=\"fn\">"); buf_esc(b, it->name); buf_puts(b, "</span>"); }
    buf_printf(b, " <span class=\"fn\">%d &times; %d</span></figcaption></figure>\n", w, h);
    return VIT_OK;
}

static int item_render(vit_ctx *ctx, Buf *b, const Item *it, int s, int i, vit_report_stats *stats) {
    unsigned char *d;
    size_t n;
    int rc = read_all(ctx, it->path, it->kind == ITEM_IMAGE ? REPORT_MAX_IMAGE_BYTES : REPORT_MAX_JSON_BYTES, &d, &n);
    if (rc) return rc;
    if (it->kind == ITEM_IMAGE) {
        rc = item_image(ctx, b, it, s, i, d, n);
        stats->images += !rc;
    } else if (it->kind == ITEM_JSON) {
        cJSON *j = cJSON_ParseWithLength((const char *)d, n);
        if (!j) rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", it->path,
                                  (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - (const char *)d : 0));
        else {
            buf_puts(b, "<section class=\"item\">");
            item_heading(b, it, s, i);
            json_value(b, j, 0);
            buf_puts(b, "</section>\n");
            cJSON_Delete(j);
            stats->json++;
        }
    } else {
        buf_puts(b, "<section class=\"item\">");
        item_heading(b, it, s, i);
        md_render(b, (char *)d);
        buf_puts(b, "</section>\n");
        stats->markdown++;
    }
    free(d);
    return rc;
}

/* ------------------------------------------------------------- page */

/* The check script and its hash for the content security policy
 * (base64 of its SHA-256: a browser runs the script only when they match,
 * which tests/cli/report.sh sees in the DOM). */
#define REPORT_CHECK_SCRIPT                                                                                              \
    "addEventListener('load',function(){var m=document.images,k=0;for(var i=0;i<m.length;i++)"                         \
    "if(m[i].complete&&m[i].naturalWidth>0)k++;document.body.setAttribute('data-images',m.length);"                    \
    "document.body.setAttribute('data-decoded',k);});"
#define REPORT_CHECK_HASH "sha256-zQvyPQJiKr/Vj0GVCjF2OaGtroWWolaEJV6bfJIw6mA="

static const char page_style[] =
    "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}"
    "h1{font-size:1.6em}h2{border-bottom:2px solid #ccc;margin-top:2em}h3{margin:1.4em 0 .4em}"
    "nav ul{padding-left:1.2em}nav li{margin:.1em 0}"
    ".fn{color:#777;font-size:.85em;font-weight:normal}"
    "figure{display:inline-block;margin:.6em 1em .6em 0;vertical-align:top;max-width:100%}"
    "figure img{max-width:100%;height:auto;border:1px solid #ddd;image-rendering:pixelated}"
    "figcaption{font-size:.9em}"
    ".tw{overflow-x:auto;margin:.5em 0}table{border-collapse:collapse;font-size:.9em}"
    "caption{text-align:left;font-weight:bold;padding:.2em 0}"
    "th,td{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}"
    "thead th,tbody th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.more{color:#777;font-style:italic}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}"
    "code{background:#f2f2f2;padding:0 .2em}.note{color:#777}";

static void page_head(Buf *b, const char *title) {
    buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
                "style-src 'unsafe-inline'; script-src '" REPORT_CHECK_HASH "'\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    buf_esc(b, title);
    buf_puts(b, "</title>\n<style>");
    buf_puts(b, page_style);
    buf_puts(b, "</style>\n<script>" REPORT_CHECK_SCRIPT "</script>\n</head>\n<body>\n<h1>");
    buf_esc(b, title);
    buf_puts(b, "</h1>\n");
}

static void page_toc(Buf *b, const Walk *w) {
    buf_puts(b, "<nav><h2>Contents</h2><ul>\n");
    for (int s = 0; s < w->nsec; s++) {
        buf_printf(b, "<li><a href=\"#s%d\">", s);
        buf_esc(b, w->sec[s].label);
        buf_puts(b, "</a><ul>");
        for (int i = 0; i < w->sec[s].n; i++) {
            const Item *it = &w->sec[s].items[i];
            buf_printf(b, "<li><a href=\"#s%d-%d\">", s, i);
            buf_esc(b, it->caption ? it->caption : it->name);
            buf_puts(b, "</a></li>");
        }
        buf_puts(b, "</ul></li>\n");
    }
    buf_puts(b, "</ul></nav>\n");
}

static int write_atomic(vit_ctx *ctx, const char *path, const char *data, size_t n) {
    size_t pn = strlen(path) + 16;
    char *tmp = malloc(pn);
    if (!tmp) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    snprintf(tmp, pn, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) { vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", path, strerror(errno)); free(tmp); return VIT_ERR_IO; }
    fchmod(fd, 0644); /* as a plain file would be (mkstemp makes it private) */
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(data, 1, n, f) == n && fflush(f) == 0 && fsync(fd) == 0;
    if (f) ok &= fclose(f) == 0;
    else close(fd);
    if (!ok || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return vit_ctx_fail(ctx, VIT_ERR_IO, "%s: write failed (%s)", path, strerror(e));
    }
    free(tmp);
    return VIT_OK;
}

int vit_report_write(vit_ctx *ctx, const char *const *dirs, int ndirs, const vit_report_opts *opts, const char *out,
                     vit_report_stats *stats) {
    static const vit_report_opts none = {0};
    vit_report_stats st0;
    const vit_report_opts *o = opts ? opts : &none;
    if (!stats) stats = &st0;
    memset(stats, 0, sizeof *stats);
    if (ndirs < 1) return vit_ctx_fail(ctx, VIT_ERR_ARG, "no directory to report on");
    if (!out || !*out) return vit_ctx_fail(ctx, VIT_ERR_ARG, "no output file");
    Walk w = {ctx, o, NULL, 0, 0, o->max_images > 0 ? o->max_images : 48};
    int rc = VIT_OK;
    for (int k = 0; k < ndirs && !rc; k++) {
        struct stat st;
        if (stat(dirs[k], &st)) rc = vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", dirs[k], strerror(errno));
        else if (!S_ISDIR(st.st_mode)) rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "%s: not a directory", dirs[k]);
        else {
            int before = w.nitems;
            rc = walk_dir(&w, dirs[k], dirs[k], 0);
            if (!rc && w.nitems == before)
                rc = vit_ctx_fail(ctx, VIT_ERR_ARG, "%s: no PNG, JPEG, JSON or markdown files to report", dirs[k]);
        }
    }
    Buf b = {0};
    if (!rc) {
        page_head(&b, o->title ? o->title : "vitrun report");
        page_toc(&b, &w);
    }
    int done = 0;
    for (int s = 0; s < w.nsec && !rc; s++) {
        const Section *sec = &w.sec[s];
        buf_printf(&b, "<h2 id=\"s%d\">", s);
        buf_esc(&b, sec->label);
        buf_puts(&b, "</h2>\n");
        for (int i = 0; i < sec->n && !rc; i++) {
            rc = item_render(ctx, &b, &sec->items[i], s, i, stats);
            if (o->progress) o->progress(o->user, ++done, w.nitems);
        }
        if (sec->hidden_images) {
            buf_printf(&b, "<p class=\"note\">%d more pictures in this directory not shown (at most %d a directory).</p>\n",
                       sec->hidden_images, w.max_images);
            stats->hidden += sec->hidden_images;
        }
    }
    if (!rc) buf_puts(&b, "</body></html>\n");
    if (!rc && b.oom) rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    if (!rc) rc = write_atomic(ctx, out, b.s, b.len);
    if (!rc) stats->bytes = b.len;
    free(b.s);
    for (int s = 0; s < w.nsec; s++) { free(w.sec[s].label); items_free(w.sec[s].items, w.sec[s].n); }
    free(w.sec);
    return rc;
}
