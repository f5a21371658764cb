/* runtime/app/draw.c — pictures for the applications: RGB8 canvases, a 5 x 7
 * bitmap font, image grids with captions, signed heatmaps over an image with
 * a colour bar, and line charts.  Everything is integer pixels drawn in
 * order; PNG files are written with libpng through a temporary file that is
 * renamed into place. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img.h"
#include "toyworld.h"
#include "vitint.h"

/* Printable ASCII 32..126: five columns each, bit 0 the top row. */
static const unsigned char font5x7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x56, 0x20, 0x50}, {0x00, 0x00, 0x07, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x2A, 0x1C, 0x7F, 0x1C, 0x2A}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x0C, 0x52, 0x52, 0x52, 0x3E},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3D, 0x00},
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7C, 0x14, 0x14, 0x14, 0x08},
    {0x08, 0x14, 0x14, 0x18, 0x7C}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0C, 0x50, 0x50, 0x50, 0x3C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},
};

static const unsigned char BLACK[3] = {0, 0, 0}, GREY[3] = {128, 128, 128}, LIGHT[3] = {225, 225, 225};

vit_picture *vit_picture_new(int w, int h) {
    if (w < 1 || h < 1 || (int64_t)w * h > (int64_t)1 << 28) return NULL;
    vit_picture *p = malloc(sizeof *p);
    unsigned char *px = malloc((size_t)w * (size_t)h * 3);
    if (!p || !px) { free(p); free(px); return NULL; }
    memset(px, 255, (size_t)w * (size_t)h * 3);
    p->w = w;
    p->h = h;
    p->rgb = px;
    return p;
}

void vit_picture_free(vit_picture *p) {
    if (!p) return;
    free(p->rgb);
    free(p);
}

int vit_picture_write_png(vit_ctx *ctx, const vit_picture *p, const char *path) {
    char err[1024];
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory");
    snprintf(tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) { vit_ctx_fail(ctx, VIT_ERR_IO, "%s: %s", path, strerror(errno)); free(tmp); return VIT_ERR_IO; }
    fchmod(fd, 0644); /* as a plain file would be (mkstemp makes it private) */
    close(fd);
    int bad = toy_write_png(tmp, p->rgb, p->w, p->h, 3, err, sizeof err);
    if (!bad && rename(tmp, path)) {
        snprintf(err, sizeof err, "%s: %s", path, strerror(errno));
        bad = 1;
    }
    if (bad) {
        unlink(tmp);
        free(tmp);
        return vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err);
    }
    free(tmp);
    return VIT_OK;
}

int vit_picture_read(vit_ctx *ctx, const char *path, vit_picture **out) {
    char err[1024];
    unsigned char *rgb;
    int w, h;
    *out = NULL;
    if (img_load_rgb8(path, &rgb, &w, &h, err, sizeof err)) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err);
    vit_picture *p = malloc(sizeof *p);
    if (!p) { free(rgb); return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); }
    p->w = w;
    p->h = h;
    p->rgb = rgb;
    *out = p;
    return VIT_OK;
}

static void put(vit_picture *p, int x, int y, const unsigned char c[3]) {
    if (x < 0 || y < 0 || x >= p->w || y >= p->h) return;
    memcpy(p->rgb + ((size_t)y * (size_t)p->w + (size_t)x) * 3, c, 3);
}

void vit_draw_fill(vit_picture *p, int x, int y, int w, int h, const unsigned char rgb[3]) {
    for (int j = y < 0 ? 0 : y; j < y + h && j < p->h; j++)
        for (int i = x < 0 ? 0 : x; i < x + w && i < p->w; i++) put(p, i, j, rgb);
}

void vit_draw_line(vit_picture *p, int x0, int y0, int x1, int y1, const unsigned char rgb[3]) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) { /* Bresenham */
        put(p, x0, y0, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) { e += dy; x0 += sx; }
        if (e2 <= dx) { e += dx; y0 += sy; }
    }
}

int vit_draw_text_width(const char *s, int scale) { return (int)strlen(s) * VIT_FONT_W * (scale < 1 ? 1 : scale); }

int vit_draw_text(vit_picture *p, int x, int y, const char *s, const unsigned char rgb[3], int scale) {
    if (scale < 1) scale = 1;
    int x0 = x;
    for (; *s; s++, x += VIT_FONT_W * scale) {
        int c = (unsigned char)*s;
        const unsigned char *g = font5x7[(c >= 32 && c < 127 ? c : '?') - 32];
        for (int col = 0; col < 5; col++)
            for (int row = 0; row < 7; row++)
                if (g[col] >> row & 1) vit_draw_fill(p, x + col * scale, y + row * scale, scale, scale, rgb);
    }
    return x - x0;
}

void vit_draw_image(vit_picture *p, int x, int y, int dw, int dh, const unsigned char *rgb, int sw, int sh) {
    for (int j = 0; j < dh; j++) {
        float fy = ((float)j + 0.5f) * (float)sh / (float)dh - 0.5f;
        int y0 = (int)floorf(fy);
        float wy = fy - (float)y0;
        int ya = y0 < 0 ? 0 : y0, yb = y0 + 1 >= sh ? sh - 1 : y0 + 1;
        for (int i = 0; i < dw; i++) {
            float fx = ((float)i + 0.5f) * (float)sw / (float)dw - 0.5f;
            int x0 = (int)floorf(fx);
            float wx = fx - (float)x0;
            int xa = x0 < 0 ? 0 : x0, xb = x0 + 1 >= sw ? sw - 1 : x0 + 1;
            if (x0 >= sw) xa = sw - 1;
            if (y0 >= sh) ya = sh - 1;
            unsigned char c[3];
            for (int k = 0; k < 3; k++) {
                float a = rgb[((size_t)ya * sw + xa) * 3 + k], b = rgb[((size_t)ya * sw + xb) * 3 + k];
                float d = rgb[((size_t)yb * sw + xa) * 3 + k], e = rgb[((size_t)yb * sw + xb) * 3 + k];
                float v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
                c[k] = (unsigned char)lrintf(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            put(p, x + i, y + j, c);
        }
    }
}

/* the longest prefix of s (from *pos) that fits `width` pixels at scale 1 */
static int fit(const char *s, int width) {
    int n = (int)strlen(s), m = width / VIT_FONT_W;
    return n < m ? n : m;
}

vit_picture *vit_draw_grid(const vit_picture *const *images, const char *const *captions, int n, int cols, int cell,
                           const char *title) {
    if (n < 1 || cols < 1 || cell < 8) return NULL;
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols, pad = 6, caph = 2 * VIT_FONT_H + 2, top = title ? VIT_FONT_H * 2 + 2 * pad : pad;
    int cw = cell + pad, ch = cell + caph + pad;
    int W = cols * cw + pad;
    if (title && vit_draw_text_width(title, 2) + 2 * pad > W) W = vit_draw_text_width(title, 2) + 2 * pad;
    vit_picture *p = vit_picture_new(W, top + rows * ch);
    if (!p) return NULL;
    if (title) vit_draw_text(p, pad, pad, title, BLACK, 2);
    for (int k = 0; k < n; k++) {
        int x = pad + (k % cols) * cw, y = top + (k / cols) * ch;
        const vit_picture *im = images[k];
        vit_draw_fill(p, x, y, cell, cell, LIGHT);
        if (im) {
            int dw = cell, dh = cell;
            if (im->w > im->h) dh = (int)((int64_t)cell * im->h / im->w);
            else dw = (int)((int64_t)cell * im->w / im->h);
            if (dw < 1) dw = 1;
            if (dh < 1) dh = 1;
            vit_draw_image(p, x + (cell - dw) / 2, y + (cell - dh) / 2, dw, dh, im->rgb, im->w, im->h);
        }
        const char *c = captions ? captions[k] : NULL;
        char line[256];
        for (int l = 0; c && *c && l < 2; l++) {
            int m = fit(c, cell);
            if (m > 255) m = 255;
            memcpy(line, c, (size_t)m);
            line[m] = 0;
            vit_draw_text(p, x, y + cell + 2 + l * VIT_FONT_H, line, BLACK, 1);
            c += m;
        }
    }
    return p;
}

/* red (v > 0) or blue (v < 0) over base, opacity |v| (|v| <= 1) */
static void tint(unsigned char *px, float v) {
    float a = fabsf(v) > 1 ? 1 : fabsf(v);
    a *= 0.85f;
    const float red[3] = {230, 20, 20}, blue[3] = {20, 40, 230};
    const float *c = v >= 0 ? red : blue;
    for (int k = 0; k < 3; k++) px[k] = (unsigned char)lrintf((1 - a) * (float)px[k] + a * c[k]);
}

/* a round tick step near span / 5 */
static double nice_step(double span) {
    if (!(span > 0)) return 1;
    double raw = span / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void fmt_num(char *buf, size_t n, double v) {
    if (fabs(v) < 1e-12) v = 0;
    snprintf(buf, n, "%.3g", v);
}

vit_picture *vit_draw_heatmap(const vit_picture *image, const float *map, int mw, int mh, float range, int scale,
                              const char *title) {
    if (!image || !map || mw < 1 || mh < 1) return NULL;
    if (scale < 1) scale = 1;
    if (!(range > 0)) {
        range = 0;
        for (int i = 0; i < mw * mh; i++) range = fabsf(map[i]) > range ? fabsf(map[i]) : range;
        if (!(range > 0)) range = 1;
    }
    int iw = image->w * scale, ih = image->h * scale, pad = 8, barw = 16;
    int top = title ? VIT_FONT_H * (vit_draw_text_width(title, 1) > iw + 80 ? 2 : 1) + 2 * pad : pad;
    int W = pad + iw + pad + barw + 4 + 7 * VIT_FONT_W + pad;
    vit_picture *p = vit_picture_new(W, top + ih + pad);
    if (!p) return NULL;
    if (title) { /* one or two lines */
        int m = fit(title, W - 2 * pad);
        char line[512];
        snprintf(line, sizeof line, "%.*s", m, title);
        vit_draw_text(p, pad, pad, line, BLACK, 1);
        if (title[m]) vit_draw_text(p, pad, pad + VIT_FONT_H, title + m, BLACK, 1);
    }
    float *up = malloc(sizeof(float) * (size_t)iw * (size_t)ih);
    if (!up) { vit_picture_free(p); return NULL; }
    vit_map_resize(map, mw, mh, up, iw, ih); /* the map over the image's pixels */
    for (int y = 0; y < ih; y++)
        for (int x = 0; x < iw; x++) {
            unsigned char px[3];
            memcpy(px, image->rgb + ((size_t)(y / scale) * (size_t)image->w + (size_t)(x / scale)) * 3, 3);
            tint(px, up[(size_t)y * iw + x] / range);
            put(p, pad + x, top + y, px);
        }
    free(up);
    /* colour bar: +range at the top, 0 in the middle, -range at the bottom */
    int bx = pad + iw + pad;
    for (int y = 0; y < ih; y++) {
        unsigned char px[3] = {255, 255, 255};
        tint(px, 1 - 2 * ((float)y + 0.5f) / (float)ih);
        vit_draw_fill(p, bx, top + y, barw, 1, px);
    }
    vit_draw_line(p, bx - 1, top - 1, bx + barw, top - 1, GREY);
    vit_draw_line(p, bx - 1, top + ih, bx + barw, top + ih, GREY);
    char lab[32];
    const float vals[3] = {range, 0, -range};
    const int ys[3] = {top, top + ih / 2 - VIT_FONT_H / 2, top + ih - VIT_FONT_H + 1};
    for (int k = 0; k < 3; k++) {
        fmt_num(lab, sizeof lab, vals[k]);
        vit_draw_text(p, bx + barw + 4, ys[k], lab, BLACK, 1);
    }
    return p;
}

static const unsigned char series_rgb[8][3] = {{31, 119, 180}, {214, 39, 40},  {44, 160, 44},  {255, 127, 14},
                                               {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};

vit_picture *vit_draw_chart(const vit_chart *c) {
    if (!c || c->nseries < 1) return NULL;
    int W = c->w > 0 ? c->w : 640, H = c->h > 0 ? c->h : 420;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < c->nseries; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double x = c->series[s].x[i], y = c->series[s].y[i];
            x0 = x < x0 ? x : x0; x1 = x > x1 ? x : x1;
            y0 = y < y0 ? y : y0; y1 = y > y1 ? y : y1;
        }
    if (!(x0 <= x1)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (c->ymin < c->ymax) { y0 = c->ymin; y1 = c->ymax; }
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) { y0 -= 0.5; y1 += 0.5; }
    vit_picture *p = vit_picture_new(W, H);
    if (!p) return NULL;
    int left = 8 + 7 * VIT_FONT_W + 2 * VIT_FONT_H, right = 16, top = c->title ? 2 * VIT_FONT_H + 16 : 16;
    int bottom = 2 * VIT_FONT_H + 18 + (VIT_FONT_H + 4) * ((c->nseries + 2) / 3);
    int pw = W - left - right, ph = H - top - bottom;
    if (pw < 20 || ph < 20) { vit_picture_free(p); return NULL; }
    if (c->title) vit_draw_text(p, (W - vit_draw_text_width(c->title, 2)) / 2, 8, c->title, BLACK, 2);
#define PX(v) (left + (int)lround(((v) - x0) / (x1 - x0) * (pw - 1)))
#define PY(v) (top + ph - 1 - (int)lround(((v) - y0) / (y1 - y0) * (ph - 1)))
    char lab[128];
    double xs = nice_step(x1 - x0), ysd = nice_step(y1 - y0);
    if (xs < 1 && x1 - x0 >= 5 && floor(x0) == x0) xs = 1;
    for (double t = ceil(x0 / xs - 1e-9) * xs; t <= x1 + 1e-9 * xs; t += xs) {
        int x = PX(t);
        vit_draw_line(p, x, top, x, top + ph - 1, LIGHT);
        vit_draw_line(p, x, top + ph, x, top + ph + 4, BLACK);
        fmt_num(lab, sizeof lab, t);
        vit_draw_text(p, x - vit_draw_text_width(lab, 1) / 2, top + ph + 7, lab, BLACK, 1);
    }
    for (double t = ceil(y0 / ysd - 1e-9) * ysd; t <= y1 + 1e-9 * ysd; t += ysd) {
        int y = PY(t);
        vit_draw_line(p, left, y, left + pw - 1, y, LIGHT);
        vit_draw_line(p, left - 5, y, left - 1, y, BLACK);
        fmt_num(lab, sizeof lab, t);
        vit_draw_text(p, left - 7 - vit_draw_text_width(lab, 1), y - 3, lab, BLACK, 1);
    }
    vit_draw_line(p, left - 1, top, left - 1, top + ph, BLACK);
    vit_draw_line(p, left - 1, top + ph, left + pw - 1, top + ph, BLACK);
    if (c->xlabel)
        vit_draw_text(p, left + (pw - vit_draw_text_width(c->xlabel, 1)) / 2, top + ph + 8 + VIT_FONT_H + 2, c->xlabel, BLACK, 1);
    if (c->ylabel) { /* vertical, one character a line */
        int n = (int)strlen(c->ylabel), y = top + (ph - n * VIT_FONT_H) / 2;
        for (int i = 0; i < n; i++) {
            char ch2[2] = {c->ylabel[i], 0};
            vit_draw_text(p, 6, y + i * VIT_FONT_H, ch2, BLACK, 1);
        }
    }
    for (int s = 0; s < c->nseries; s++) {
        const vit_series *se = &c->series[s];
        const unsigned char *col = series_rgb[s % 8];
        for (int i = 0; i < se->n; i++) {
            int x = PX(se->x[i]), y = PY(se->y[i]);
            if (i) {
                int px = PX(se->x[i - 1]), py = PY(se->y[i - 1]);
                for (int d = -1; d <= 1; d++) vit_draw_line(p, px, py + d, x, y + d, col);
            }
            vit_draw_fill(p, x - 2, y - 2, 5, 5, col);
        }
        /* legend: three entries a row under the axis label */
        int lx = left + (s % 3) * (pw / 3), ly = H - bottom + 2 * VIT_FONT_H + 16 + (s / 3) * (VIT_FONT_H + 4);
        vit_draw_fill(p, lx, ly + 2, 14, 3, col);
        snprintf(lab, sizeof lab, "%s", se->name ? se->name : "");
        vit_draw_text(p, lx + 18, ly, lab, BLACK, 1);
    }
#undef PX
#undef PY
    return p;
}
