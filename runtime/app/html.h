/* runtime/app/html.h — HTML text for the report (html.c), used by report.c. */
#ifndef VIT_HTML_H
#define VIT_HTML_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* A growing NUL-terminated string; oom is set (and further text dropped) when out of memory. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} HtmlBuf;

void html_add(HtmlBuf *b, const char *s, size_t n);
void html_puts(HtmlBuf *b, const char *s);
void html_printf(HtmlBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text, escaped for HTML content and quoted attributes (vit_html_escape). */
void html_esc(HtmlBuf *b, const char *s);
void html_esc_n(HtmlBuf *b, const char *s, size_t n);
void html_base64(HtmlBuf *b, const unsigned char *d, size_t n);
/* "<div class=tw><table>" with an optional caption. */
void html_table_open(HtmlBuf *b, const char *caption);
/* A JSON value as tables (see html.c). */
void html_json(HtmlBuf *b, const cJSON *v);
/* Markdown text as HTML (see html.c); text is modified (lines cut in place). */
void html_markdown(HtmlBuf *b, char *text);

#endif
