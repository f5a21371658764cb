/* runtime/app/html.c — building HTML text for the report (report.c): a
 * growing buffer, escaping (every string from a file or a file name goes
 * through html_esc), base64, JSON values as tables and markdown as HTML.
 *
 * JSON: an object's scalars (and one-element lists) make a key / value
 * table; its lists of scalars, and those of a nested object holding only such
 * lists (named "object.key"), are columns of one table per length (component
 * names beside their scores); a list of objects is one row per object with
 * the union of their keys as columns; other nested values get a sub-heading.
 * Tables stop after HTML_MAX_ROWS rows with a note.
 * Markdown: "#" headings (under the file's own heading), pipe tables (the
 * separator row dropped, "\\|" a bar inside a cell), "- " lists, ``` code
 * blocks, paragraphs, `code` and **bold**; comment lines are dropped. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "vit.h"

#define HTML_MAX_ROWS 500
#define HTML_MAX_COLS 40

void html_add(HtmlBuf *b, const char *s, size_t n) {
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

void html_puts(HtmlBuf *b, const char *s) { html_add(b, s, strlen(s)); }

void html_printf(HtmlBuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    html_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
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
void html_esc_n(HtmlBuf *b, const char *s, size_t n) {
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
        if (rep) { html_puts(b, rep); i++; continue; }
        if (c < 0x20 && c != '\n' && c != '\t') { html_puts(b, "\xEF\xBF\xBD"); i++; continue; }
        if (c == 0x7F) { html_puts(b, "\xEF\xBF\xBD"); i++; continue; }
        size_t k = utf8_len(u + i, n - i);
        if (!k) { html_puts(b, "\xEF\xBF\xBD"); i++; continue; }
        html_add(b, s + i, k);
        i += k;
    }
}

void html_esc(HtmlBuf *b, const char *s) { html_esc_n(b, s, strlen(s)); }

char *vit_html_escape(const char *s) {
    HtmlBuf b = {0};
    html_puts(&b, "");
    html_esc(&b, s);
    if (b.oom) { free(b.s); return NULL; }
    return b.s;
}

void html_base64(HtmlBuf *b, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        q[0] = tab[v >> 18 & 63];
        q[1] = tab[v >> 12 & 63];
        q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        html_add(b, q, 4);
    }
}

char *vit_base64_encode(const void *data, size_t n) {
    HtmlBuf b = {0};
    html_puts(&b, "");
    html_base64(&b, data, n);
    if (b.oom) { free(b.s); return NULL; }
    return b.s;
}

/* ----------------------------------------------------------- JSON */

static void json_scalar(HtmlBuf *b, const cJSON *v) {
    if (cJSON_IsString(v)) html_esc(b, v->valuestring);
    else if (cJSON_IsBool(v)) html_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) html_puts(b, "null");
    else if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x == (double)(long long)x && x > -1e15 && x < 1e15) html_printf(b, "%lld", (long long)x);
        else html_printf(b, "%.4g", x);
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
static void json_inline(HtmlBuf *b, const cJSON *v, int depth) {
    if (is_scalar(v)) { json_scalar(b, v); return; }
    if (depth > 3) { html_puts(b, "&hellip;"); return; }
    int obj = cJSON_IsObject(v), i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        if (i) html_puts(b, obj ? ", " : cJSON_IsObject(c) ? "<br>" : ", ");
        if (i >= 50) { html_printf(b, "&hellip; (%d in all)", cJSON_GetArraySize(v)); break; }
        if (obj && c->string) { html_esc(b, c->string); html_puts(b, ": "); }
        json_inline(b, c, depth + 1);
    }
}

void html_table_open(HtmlBuf *b, const char *caption) {
    html_puts(b, "<div class=\"tw\"><table>");
    if (caption) { html_puts(b, "<caption>"); html_esc(b, caption); html_puts(b, "</caption>"); }
}

static void table_more(HtmlBuf *b, int ncols, int shown, int total) {
    if (total > shown) html_printf(b, "<tr><td colspan=\"%d\" class=\"more\">&hellip; %d more rows</td></tr>", ncols, total - shown);
}

/* An array of objects: one row each, the union of their keys as columns. */
static void json_records(HtmlBuf *b, const cJSON *arr, const char *caption) {
    const char *cols[HTML_MAX_COLS];
    int nc = 0, nrow = cJSON_GetArraySize(arr);
    for (const cJSON *o = arr->child; o; o = o->next)
        for (const cJSON *c = o->child; c; c = c->next) {
            int k = 0;
            while (k < nc && strcmp(cols[k], c->string)) k++;
            if (k == nc && nc < HTML_MAX_COLS) cols[nc++] = c->string;
        }
    html_table_open(b, caption);
    html_puts(b, "<thead><tr>");
    for (int k = 0; k < nc; k++) { html_puts(b, "<th>"); html_esc(b, cols[k]); html_puts(b, "</th>"); }
    html_puts(b, "</tr></thead><tbody>");
    int r = 0;
    for (const cJSON *o = arr->child; o && r < HTML_MAX_ROWS; o = o->next, r++) {
        html_puts(b, "<tr>");
        for (int k = 0; k < nc; k++) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, cols[k]);
            html_puts(b, c && cJSON_IsNumber(c) ? "<td class=\"n\">" : "<td>");
            if (c) json_inline(b, c, 0);
            html_puts(b, "</td>");
        }
        html_puts(b, "</tr>");
    }
    table_more(b, nc, r, nrow);
    html_puts(b, "</tbody></table></div>\n");
}

/* Parallel lists of scalars of one length: a column each, named by their path. */
typedef struct {
    char name[256];
    const cJSON *arr;
} Column;

static int collect_columns(const cJSON *obj, const char *prefix, Column *col, int nc) {
    for (const cJSON *c = obj->child; c && nc < HTML_MAX_COLS; c = c->next) {
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

static void json_columns(HtmlBuf *b, Column *col, int nc) {
    int *done = calloc((size_t)nc + 1, sizeof *done);
    if (!done) { b->oom = 1; return; }
    for (int i = 0; i < nc; i++) {
        if (done[i]) continue;
        int n = cJSON_GetArraySize(col[i].arr), m = 0;
        const cJSON *cur[HTML_MAX_COLS];
        html_table_open(b, NULL);
        html_puts(b, "<thead><tr><th>#</th>");
        for (int j = i; j < nc; j++)
            if (!done[j] && cJSON_GetArraySize(col[j].arr) == n) {
                done[j] = 1;
                cur[m++] = col[j].arr->child;
                html_puts(b, "<th>");
                html_esc(b, col[j].name);
                html_puts(b, "</th>");
            }
        html_puts(b, "</tr></thead><tbody>");
        int r = 0;
        for (; r < n && r < HTML_MAX_ROWS; r++) {
            html_printf(b, "<tr><td class=\"n\">%d</td>", r);
            for (int k = 0; k < m; k++) {
                html_puts(b, cJSON_IsNumber(cur[k]) ? "<td class=\"n\">" : "<td>");
                json_scalar(b, cur[k]);
                html_puts(b, "</td>");
                cur[k] = cur[k]->next;
            }
            html_puts(b, "</tr>");
        }
        table_more(b, m + 1, r, n);
        html_puts(b, "</tbody></table></div>\n");
    }
    free(done);
}

static void json_value(HtmlBuf *b, const cJSON *v, int depth);

static void json_object(HtmlBuf *b, const cJSON *obj, int depth) {
    /* scalars (and one-element lists of them) as a key / value table */
    int any = 0;
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (!(is_scalar(c) || (scalar_array(c) && cJSON_GetArraySize(c) <= 1))) continue;
        if (!any++) { html_table_open(b, NULL); html_puts(b, "<tbody>"); }
        html_puts(b, "<tr><th>");
        html_esc(b, c->string);
        html_puts(b, cJSON_IsNumber(c) ? "</th><td class=\"n\">" : "</th><td>");
        json_inline(b, c, 0);
        html_puts(b, "</td></tr>");
    }
    if (any) html_puts(b, "</tbody></table></div>\n");
    Column col[HTML_MAX_COLS];
    int nc = collect_columns(obj, "", col, 0);
    json_columns(b, col, nc);
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (is_scalar(c) || scalar_array(c)) continue;
        int taken = 0;
        for (int k = 0; k < nc; k++) taken |= !strncmp(col[k].name, c->string, strlen(c->string)) &&
                                               col[k].name[strlen(c->string)] == '.';
        if (taken) continue;
        if (object_array(c)) { json_records(b, c, c->string); continue; }
        html_printf(b, "<h4 class=\"jk\">");
        html_esc(b, c->string);
        html_puts(b, "</h4>\n");
        json_value(b, c, depth + 1);
    }
}

static void json_value(HtmlBuf *b, const cJSON *v, int depth) {
    if (is_scalar(v)) { html_puts(b, "<p>"); json_scalar(b, v); html_puts(b, "</p>\n"); }
    else if (depth > 4) { html_puts(b, "<p>"); json_inline(b, v, 0); html_puts(b, "</p>\n"); }
    else if (cJSON_IsObject(v)) json_object(b, v, depth);
    else if (object_array(v)) json_records(b, v, NULL);
    else if (scalar_array(v)) {
        Column c = {"value", v};
        json_columns(b, &c, 1);
    } else {
        int i = 0;
        for (const cJSON *c = v->child; c; c = c->next, i++) {
            html_printf(b, "<h4 class=\"jk\">[%d]</h4>\n", i);
            json_value(b, c, depth + 1);
        }
    }
}

void html_json(HtmlBuf *b, const cJSON *v) { json_value(b, v, 0); }

/* --------------------------------------------------------- markdown */

/* Inline text: `code` and **bold**; everything else escaped. */
static void md_inline(HtmlBuf *b, const char *s, size_t n) {
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
        html_esc_n(b, s + start, i - start);
        html_puts(b, skip == 1 ? "<code>" : "<strong>");
        html_esc_n(b, s + i + skip, (size_t)(close - (s + i + skip)));
        html_puts(b, skip == 1 ? "</code>" : "</strong>");
        i = start = (size_t)(close - s) + skip;
    }
    html_esc_n(b, s + start, n - start);
}

static size_t md_trim(const char **s, size_t n) {
    while (n && isspace((unsigned char)**s)) { (*s)++; n--; }
    while (n && isspace((unsigned char)(*s)[n - 1])) n--;
    return n;
}

/* One pipe-table row as cells (th or td); a '|' after a backslash stays in the cell. */
static void md_row(HtmlBuf *b, const char *line, const char *cell) {
    const char *p = line;
    while (*p == ' ') p++;
    if (*p == '|') p++;
    html_puts(b, "<tr>");
    while (*p) {
        const char *q = p;
        while (*q && !(*q == '|' && (q == p || q[-1] != '\\'))) q++;
        const char *c = p;
        size_t n = md_trim(&c, (size_t)(q - p));
        if (!*q && !n) break; /* nothing after the last bar */
        html_printf(b, "<%s>", cell);
        for (size_t k = 0; k + 1 < n; k++)
            if (c[k] == '\\' && c[k + 1] == '|') { /* "\|": a bar inside the cell */
                md_inline(b, c, k);
                html_puts(b, "|");
                c += k + 2;
                n -= k + 2;
                k = (size_t)-1;
            }
        md_inline(b, c, n);
        html_printf(b, "</%s>", cell);
        p = *q ? q + 1 : q;
    }
    html_puts(b, "</tr>");
}

static int md_separator(const char *line) {
    int dash = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '-') dash = 1;
        else if (!strchr("|: \t", *p)) return 0;
    }
    return dash;
}

void html_markdown(HtmlBuf *b, char *text) {
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
            if (fence) { html_puts(b, "</pre>\n"); st = NONE; }
            else { html_esc(b, line); html_puts(b, "\n"); }
        } else {
            int want = fence ? CODE : !tn ? NONE : pipe ? TABLE : item ? LIST : t[0] == '#' ? NONE : PARA;
            if (st != want || fence || !tn || t[0] == '#') {
                if (st == PARA) html_puts(b, "</p>\n");
                if (st == LIST) html_puts(b, "</ul>\n");
                if (st == TABLE) html_puts(b, "</tbody></table></div>\n");
                if (st != want) st = NONE;
            }
            if (fence) { html_puts(b, "<pre>"); st = CODE; }
            else if (!tn || (tn >= 4 && !strncmp(t, "<!--", 4) && !strcmp(t + tn - 3, "-->"))) st = NONE;
            else if (t[0] == '#') {
                int lv = 0;
                while (t[lv] == '#') lv++;
                const char *h = t + lv;
                size_t hn = md_trim(&h, tn - (size_t)lv);
                int tag = lv + 3 > 6 ? 6 : lv + 3; /* under the file's own <h3> */
                html_printf(b, "<h%d class=\"mh\">", tag);
                md_inline(b, h, hn);
                html_printf(b, "</h%d>\n", tag);
                st = NONE;
            } else if (pipe) {
                if (st != TABLE) { html_table_open(b, NULL); html_puts(b, "<tbody>"); st = TABLE; row = 0; }
                if (!(row == 1 && md_separator(t))) md_row(b, t, row == 0 ? "th" : "td");
                row++;
            } else if (item) {
                if (st != LIST) { html_puts(b, "<ul>"); st = LIST; }
                html_puts(b, "<li>");
                md_inline(b, t + 2, tn - 2);
                html_puts(b, "</li>");
            } else {
                if (st != PARA) { html_puts(b, "<p>"); st = PARA; }
                else html_puts(b, "\n");
                md_inline(b, t, tn);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (st == PARA) html_puts(b, "</p>\n");
    if (st == LIST) html_puts(b, "</ul>\n");
    if (st == TABLE) html_puts(b, "</tbody></table></div>\n");
    if (st == CODE) html_puts(b, "</pre>\n");
}

