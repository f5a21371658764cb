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
 * A sub-directory holding a labels.jsonl is a data set: named with its
 * number of images, not shown.  Files larger than REPORT_MAX_*_BYTES (an
 * index manifest, say) are named, not shown.  Names matching an --exclude
 * pattern (fnmatch) are skipped, files and directories alike.
 * Every string from a file or a file name goes through html_esc.  The page
 * carries a content security policy that allows data: pictures, inline
 * style and one hashed script only, and that script (report_check) writes
 * into <body> how many pictures there are and how many decoded, so a
 * browser-driven test can read it back from the DOM. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "html.h"
#include "img.h"
#include "vitint.h"

#define REPORT_MAX_DEPTH 8
#define REPORT_MAX_IMAGE_BYTES (16u << 20)
#define REPORT_MAX_JSON_BYTES (8u << 20)
#define REPORT_MANIFEST "captions.tsv"

/* ---------------------------------------------------------- the walk */

enum item_kind { ITEM_IMAGE, ITEM_JSON, ITEM_MD, ITEM_KIND_COUNT };

typedef struct {
    char *path, *name, *caption;
    int kind;
    long long size; /* bytes */
} Item;

typedef struct {
    char *label; /* the directory as given, plus the sub-path */
    Item *items;
    int n;
    int hidden_images; /* pictures beyond max_images */
    int dataset;       /* a data set (labels.jsonl), not shown ... */
    int dataset_images; /* ... of this many labelled images */
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

static int section_add(Walk *w, const char *label, Item *items, int n, int hidden, int dataset_images) {
    Section *ns = realloc(w->sec, sizeof *ns * (size_t)(w->nsec + 1));
    char *lab = strdup(label);
    if (ns) w->sec = ns;
    if (!ns || !lab) { free(lab); return vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory"); }
    w->sec[w->nsec++] = (Section){lab, items, n, hidden, dataset_images >= 0, dataset_images};
    w->nitems += n;
    return VIT_OK;
}

/* A directory holding labels.jsonl is a data set (vitrun toyworld, the
 * application commands' DATA): named, not shown.  Its lines, or -1. */
static int dataset_size(const char *dir) {
    char *path = join(dir, "labels.jsonl");
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f) return -1;
    int n = 0, c, last = '\n';
    while ((c = getc(f)) != EOF) { n += c == '\n'; last = c; }
    fclose(f);
    return n + (last != '\n');
}

static int excluded(const Walk *w, const char *name) {
    for (int k = 0; k < w->o->nexclude; k++)
        if (!fnmatch(w->o->exclude[k], name, FNM_PERIOD)) return 1;
    return 0;
}

static int walk_dir(Walk *w, const char *dir, const char *label, int depth) {
    int ds = depth > 0 ? dataset_size(dir) : -1;
    if (ds >= 0) return section_add(w, label, NULL, 0, 0, ds);
    DIR *d = opendir(dir);
    if (!d) return vit_ctx_fail(w->ctx, VIT_ERR_IO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    int nn = 0, rc = VIT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || excluded(w, e->d_name)) continue;
        char **nv = realloc(names, sizeof *names * (size_t)(nn + 1));
        if (!nv || !(nv[nn] = strdup(e->d_name))) { names = nv ? nv : names; rc = VIT_ERR_MEM; break; }
        names = nv;
        nn++;
    }
    closedir(d);
    if (rc) { for (int i = 0; i < nn; i++) free(names[i]); free(names); return vit_ctx_fail(w->ctx, rc, "out of memory"); }
    if (nn) qsort(names, (size_t)nn, sizeof *names, cmp_str);

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
        r[nr].it.size = (long long)st.st_size;
        if (!r[nr].it.name || (cap && !r[nr].it.caption)) rc = vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory");
        nr++;
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    free(names);
    for (int i = 0; i < nman; i++) free(man[i]);
    free(man);
    if (!rc && nr) {
        qsort(r, (size_t)nr, sizeof *r, cmp_ranked);
        Item *items = malloc(sizeof *items * (size_t)nr);
        if (!items) rc = vit_ctx_fail(w->ctx, VIT_ERR_MEM, "out of memory");
        else {
            for (int i = 0; i < nr; i++) items[i] = r[i].it;
            rc = section_add(w, label, items, nr, hidden, -1);
            if (rc) free(items);
            else nr = 0; /* owned by the section now */
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

/* ------------------------------------------------------------- items */

static void item_heading(HtmlBuf *b, const Item *it, int s, int i) {
    html_printf(b, "<h3 id=\"s%d-%d\">", s, i);
    html_esc(b, it->caption ? it->caption : it->name);
    if (it->caption) { html_puts(b, " <span class=\"fn\">"); html_esc(b, it->name); html_puts(b, "</span>"); }
    html_puts(b, "</h3>\n");
}

static int item_image(vit_ctx *ctx, HtmlBuf *b, const Item *it, int s, int i, const unsigned char *d, size_t n) {
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
    html_printf(b, "<figure id=\"s%d-%d\"><img src=\"data:image/%s;base64,", s, i, png ? "png" : "jpeg");
    html_base64(b, d, n);
    html_printf(b, "\" width=\"%d\" height=\"%d\" alt=\"", w, h);
    html_esc(b, it->name);
    html_puts(b, "\"><figcaption>");
    html_esc(b, it->caption ? it->caption : it->name);
    if (it->caption) { html_puts(b, " <span class=\"fn\">"); html_esc(b, it->name); html_puts(b, "</span>"); }
    html_printf(b, " <span class=\"fn\">%d &times; %d</span></figcaption></figure>\n", w, h);
    return VIT_OK;
}

static int item_render(vit_ctx *ctx, HtmlBuf *b, const Item *it, int s, int i, vit_report_stats *stats) {
    unsigned char *d;
    size_t n, max = it->kind == ITEM_IMAGE ? REPORT_MAX_IMAGE_BYTES : REPORT_MAX_JSON_BYTES;
    if (it->size > (long long)max) { /* a large index or sidecar: named, not shown */
        html_printf(b, "<p class=\"note\" id=\"s%d-%d\">", s, i);
        html_esc(b, it->name);
        html_printf(b, ": %.1f MB, larger than %zu MB: not shown.</p>\n", (double)it->size / 1e6, max >> 20);
        stats->skipped++;
        return VIT_OK;
    }
    int rc = read_all(ctx, it->path, max, &d, &n);
    if (rc) return rc;
    if (it->kind == ITEM_IMAGE) {
        rc = item_image(ctx, b, it, s, i, d, n);
        stats->images += !rc;
    } else if (it->kind == ITEM_JSON) {
        cJSON *j = cJSON_ParseWithLength((const char *)d, n);
        if (!j) rc = vit_ctx_fail(ctx, VIT_ERR_FORMAT, "%s: not valid JSON (near byte %ld)", it->path,
                                  (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - (const char *)d : 0));
        else {
            html_puts(b, "<section class=\"item\">");
            item_heading(b, it, s, i);
            html_json(b, j);
            html_puts(b, "</section>\n");
            cJSON_Delete(j);
            stats->json++;
        }
    } else {
        html_puts(b, "<section class=\"item\">");
        item_heading(b, it, s, i);
        html_markdown(b, (char *)d);
        html_puts(b, "</section>\n");
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
    "h4{font-size:1.05em}h5,h6{font-size:1em}"
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

static void page_head(HtmlBuf *b, const char *title) {
    html_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
                "style-src 'unsafe-inline'; script-src '" REPORT_CHECK_HASH "'\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    html_esc(b, title);
    html_puts(b, "</title>\n<style>");
    html_puts(b, page_style);
    html_puts(b, "</style>\n<script>" REPORT_CHECK_SCRIPT "</script>\n</head>\n<body>\n<h1>");
    html_esc(b, title);
    html_puts(b, "</h1>\n");
}

static void page_toc(HtmlBuf *b, const Walk *w) {
    html_puts(b, "<nav><h2>Contents</h2><ul>\n");
    for (int s = 0; s < w->nsec; s++) {
        html_printf(b, "<li><a href=\"#s%d\">", s);
        html_esc(b, w->sec[s].label);
        html_puts(b, "</a><ul>");
        for (int i = 0; i < w->sec[s].n; i++) {
            const Item *it = &w->sec[s].items[i];
            html_printf(b, "<li><a href=\"#s%d-%d\">", s, i);
            html_esc(b, it->caption ? it->caption : it->name);
            html_puts(b, "</a></li>");
        }
        html_puts(b, "</ul></li>\n");
    }
    html_puts(b, "</ul></nav>\n");
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
    HtmlBuf b = {0};
    if (!rc) {
        page_head(&b, o->title ? o->title : "vitrun report");
        page_toc(&b, &w);
    }
    int done = 0;
    for (int s = 0; s < w.nsec && !rc; s++) {
        const Section *sec = &w.sec[s];
        html_printf(&b, "<h2 id=\"s%d\">", s);
        html_esc(&b, sec->label);
        html_puts(&b, "</h2>\n");
        for (int i = 0; i < sec->n && !rc; i++) {
            rc = item_render(ctx, &b, &sec->items[i], s, i, stats);
            if (o->progress) o->progress(o->user, ++done, w.nitems);
        }
        if (sec->dataset)
            html_printf(&b, "<p class=\"note\">A data set of %d labelled images (labels.jsonl): not shown.</p>\n", sec->dataset_images);
        if (sec->hidden_images) {
            html_printf(&b, "<p class=\"note\">%d more pictures in this directory not shown (at most %d a directory).</p>\n",
                       sec->hidden_images, w.max_images);
            stats->hidden += sec->hidden_images;
        }
    }
    if (!rc) html_puts(&b, "</body></html>\n");
    if (!rc && b.oom) rc = vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    if (!rc) rc = write_atomic(ctx, out, b.s, b.len);
    if (!rc) stats->bytes = b.len;
    free(b.s);
    for (int s = 0; s < w.nsec; s++) { free(w.sec[s].label); items_free(w.sec[s].items, w.sec[s].n); }
    free(w.sec);
    return rc;
}
