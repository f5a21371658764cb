/* runtime/toyworld.c — the toy world generator (toyworld.h): scenes drawn
 * from a splitmix64 stream, integer geometry and textures, PNG through
 * libpng, JPEG through TurboJPEG, labels as JSON lines.  No floating point
 * is used for anything that reaches a pixel. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>
#include <turbojpeg.h>

#include "toyworld.h"

const char *const toy_shape_names[TOY_NSHAPES] = {"circle", "square", "triangle", "diamond", "star", "cross"};
const char *const toy_colour_names[TOY_NCOLOURS] = {"red", "orange", "yellow", "green", "blue", "purple", "white", "black"};
const char *const toy_pattern_names[TOY_NPATTERNS] = {"plain", "striped", "dotted", "checkered"};
const char *const toy_background_names[TOY_NBACKGROUNDS] = {"sky", "grass", "water", "sand"};
static const char *const toy_place[TOY_NBACKGROUNDS] = {"in the sky", "on grass", "on water", "on sand"};
const unsigned char toy_colour_rgb[TOY_NCOLOURS][3] = {
    {220, 30, 30}, {245, 140, 20}, {240, 220, 30}, {40, 190, 60},
    {40, 80, 230}, {140, 50, 200}, {245, 245, 245}, {25, 25, 25},
};
enum { TOY_CIRCLE, TOY_SQUARE, TOY_TRIANGLE, TOY_DIAMOND, TOY_STAR, TOY_CROSS };
/* the spurious splits' two classes, by colour (neighbouring hues apart):
 * A = red, yellow, blue, white; B = orange, green, purple, black */
static const int toy_class_colours[2][4] = {{0, 2, 4, 6}, {1, 3, 5, 7}};

/* ------------------------------------------------------------------ PRNG */

typedef struct { uint64_t s; } ToyRng;

static uint64_t toy_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t toy_next(ToyRng *r) { return toy_mix(r->s += 0x9E3779B97F4A7C15ull); }
/* uniform in [0, n), n >= 1 (modulo bias below 2^-32) */
static int toy_below(ToyRng *r, int n) { return (int)((toy_next(r) >> 16) % (uint64_t)n); }
/* the stream of (seed, index, purpose) */
static ToyRng toy_stream(uint64_t seed, int index, int purpose) {
    ToyRng r = {toy_mix(seed ^ toy_mix(((uint64_t)(uint32_t)index << 8 | (uint64_t)purpose) + 0x632BE59BD9B4E019ull))};
    return r;
}

/* ---------------------------------------------------------------- options */

void toy_opts_default(ToyOpts *o) {
    memset(o, 0, sizeof *o);
    o->count = 1;
    o->size = 64;
    o->format = TOY_PNG;
    o->quality = 95;
    o->split = TOY_SPLIT_UNIFORM;
}

int toy_opts_check(const ToyOpts *o, char *err, size_t errlen) {
    if (o->count < 1 || o->count > TOY_MAX_COUNT) {
        snprintf(err, errlen, "count must be 1 .. %d, not %d", TOY_MAX_COUNT, o->count);
        return -1;
    }
    if (o->size < TOY_MIN_SIZE || o->size > TOY_MAX_SIZE) {
        snprintf(err, errlen, "size must be %d .. %d pixels, not %d", TOY_MIN_SIZE, TOY_MAX_SIZE, o->size);
        return -1;
    }
    if (o->format != TOY_PNG && o->format != TOY_JPEG) { snprintf(err, errlen, "unknown image format"); return -1; }
    if (o->quality < 1 || o->quality > 100) { snprintf(err, errlen, "JPEG quality must be 1 .. 100, not %d", o->quality); return -1; }
    if (o->split != TOY_SPLIT_UNIFORM && o->split != TOY_SPLIT_SPURIOUS && o->split != TOY_SPLIT_BALANCED) {
        snprintf(err, errlen, "unknown split");
        return -1;
    }
    if (o->split == TOY_SPLIT_SPURIOUS && (o->spurious_ppm < 0 || o->spurious_ppm > 1000000)) {
        snprintf(err, errlen, "the spurious correlation must be a probability (0 .. 1)");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ scene */

void toy_scene(const ToyOpts *o, int index, ToyScene *s) {
    ToyRng r = toy_stream(o->seed, index, 0);
    int size = o->size;
    memset(s, 0, sizeof *s);
    s->index = index;
    s->size = size;
    s->klass = s->domain = -1;
    if (o->split == TOY_SPLIT_UNIFORM) {
        s->shape = toy_below(&r, TOY_NSHAPES);
        s->background = toy_below(&r, TOY_NBACKGROUNDS);
    } else {
        int agree = 0;
        if (o->split == TOY_SPLIT_SPURIOUS) {
            s->klass = toy_below(&r, 2);
            agree = toy_below(&r, 1000000) < o->spurious_ppm;
            s->domain = agree ? s->klass : 1 - s->klass;
        } else {
            s->klass = (index % 4) >> 1;
            s->domain = index % 2;
        }
        s->colour = toy_class_colours[s->klass][toy_below(&r, 4)];
        s->shape = toy_below(&r, TOY_NSHAPES);
        int land = toy_below(&r, 2) ? TOY_SAND : TOY_GRASS;
        s->background = s->domain ? TOY_WATER : land;
    }
    if (o->split == TOY_SPLIT_UNIFORM) s->colour = toy_below(&r, TOY_NCOLOURS);
    s->pattern = toy_below(&r, TOY_NPATTERNS);
    int rmin = size / 4, rmax = 3 * size / 8, margin = size / 16;
    s->r = rmin + toy_below(&r, rmax - rmin + 1);
    int lo = s->r + margin, hi = size - s->r - margin;
    s->cx = lo + toy_below(&r, hi - lo + 1);
    s->cy = lo + toy_below(&r, hi - lo + 1);
    s->texture_seed = toy_next(&r);
    s->bbox[0] = s->bbox[1] = size;
    for (int y = s->cy - s->r - 1; y <= s->cy + s->r; y++)
        for (int x = s->cx - s->r - 1; x <= s->cx + s->r; x++) {
            if (x < 0 || y < 0 || x >= size || y >= size || !toy_inside(s, x, y)) continue;
            s->area++;
            if (x < s->bbox[0]) s->bbox[0] = x;
            if (y < s->bbox[1]) s->bbox[1] = y;
            if (x + 1 > s->bbox[2]) s->bbox[2] = x + 1;
            if (y + 1 > s->bbox[3]) s->bbox[3] = y + 1;
        }
}

/* ---------------------------------------------------------------- shapes */

/* Directions of the star's ten vertices (outer, inner, ...), from the top
 * clockwise in image coordinates, times 10000. */
static const int toy_star_dir[10][2] = {
    {0, -10000}, {5878, -8090}, {9511, -3090}, {9511, 3090}, {5878, 8090},
    {0, 10000}, {-5878, 8090}, {-9511, 3090}, {-9511, -3090}, {-5878, -8090},
};

/* Crossing-number test of (px, py) against a polygon, all integer. */
static int toy_in_polygon(int64_t px, int64_t py, const int64_t (*v)[2], int n) {
    int in = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        int64_t xi = v[i][0], yi = v[i][1], xj = v[j][0], yj = v[j][1];
        if ((yi > py) == (yj > py)) continue;
        /* px < xi + (py - yi) (xj - xi) / (yj - yi), multiplied out */
        int64_t lhs = (px - xi) * (yj - yi), rhs = (py - yi) * (xj - xi);
        if (yj > yi ? lhs < rhs : lhs > rhs) in = !in;
    }
    return in;
}

int toy_inside(const ToyScene *s, int x, int y) {
    /* pixel centre relative to the object's centre, in half pixels */
    int64_t dx = 2 * (int64_t)x + 1 - 2 * (int64_t)s->cx, dy = 2 * (int64_t)y + 1 - 2 * (int64_t)s->cy;
    int64_t R = 2 * (int64_t)s->r, ax = dx < 0 ? -dx : dx, ay = dy < 0 ? -dy : dy;
    if (ax > R || ay > R) return 0;
    switch (s->shape) {
    case TOY_CIRCLE: return dx * dx + dy * dy <= R * R;
    case TOY_SQUARE: return 5 * ax <= 4 * R && 5 * ay <= 4 * R;
    case TOY_DIAMOND: return ax + ay <= R;
    case TOY_CROSS: return (3 * ax <= R) || (3 * ay <= R);
    case TOY_TRIANGLE: {
        const int64_t v[3][2] = {{0, -32 * R}, {32 * R, 24 * R}, {-32 * R, 24 * R}};
        return toy_in_polygon(32 * dx, 32 * dy, v, 3);
    }
    case TOY_STAR: {
        int64_t v[10][2];
        for (int k = 0; k < 10; k++) {
            int64_t rad = k % 2 ? 45 : 100; /* inner radius 0.45 of the outer */
            v[k][0] = 32 * R * toy_star_dir[k][0] * rad / 1000000;
            v[k][1] = 32 * R * toy_star_dir[k][1] * rad / 1000000;
        }
        return toy_in_polygon(32 * dx, 32 * dy, (const int64_t(*)[2])v, 10);
    }
    }
    return 0;
}

void toy_pattern_rgb(int colour, unsigned char rgb[3]) {
    const unsigned char *c = toy_colour_rgb[colour];
    int luma = (299 * c[0] + 587 * c[1] + 114 * c[2]) / 1000;
    for (int k = 0; k < 3; k++) rgb[k] = (unsigned char)(luma < 60 ? (c[k] + 255) / 2 : c[k] / 2);
}

/* whether the pattern marks pixel (x, y) with its shade */
static int toy_pattern_at(const ToyScene *s, int x, int y) {
    int u = s->size / 32 > 1 ? s->size / 32 : 1;
    /* coordinates relative to the object, shifted to be non-negative */
    int lx = x - s->cx + 48 * u * 64, ly = y - s->cy + 48 * u * 64;
    switch (s->pattern) {
    case 1: return (lx + ly) % (4 * u) >= 5 * u / 2 + (u == 1); /* diagonal stripes, 3 of 8 (u = 2) */
    case 2: {                                                   /* dots on a 3u grid */
        int cell = 3 * u, mx = lx % cell, my = ly % cell;
        int ddx = 2 * mx + 1 - cell, ddy = 2 * my + 1 - cell;
        return ddx * ddx + ddy * ddy <= 4 * u * u - (u == 1 ? 3 : 0); /* a third of the cell; u = 1: one pixel of 9 */
    }
    case 3: return ((lx / (2 * u)) + (ly / (2 * u))) % 2; /* checks of 2u */
    }
    return 0;
}

void toy_outline_rgb(int colour, unsigned char rgb[3]) {
    const unsigned char *c = toy_colour_rgb[colour];
    int luma = (299 * c[0] + 587 * c[1] + 114 * c[2]) / 1000;
    for (int k = 0; k < 3; k++) rgb[k] = (unsigned char)(luma < 60 ? (c[k] + 3 * 255) / 4 : c[k] / 5);
}

int toy_on_outline(const ToyScene *s, int x, int y) {
    int w = s->size / 32 > 1 ? s->size / 32 : 1;
    for (int dy = -w; dy <= w; dy++)
        for (int dx = -w; dx <= w; dx++)
            if (!toy_inside(s, x + dx, y + dy)) return 1;
    return 0;
}

void toy_object_rgb(const ToyScene *s, int x, int y, unsigned char rgb[3]) {
    if (toy_on_outline(s, x, y)) toy_outline_rgb(s->colour, rgb);
    else if (toy_pattern_at(s, x, y)) toy_pattern_rgb(s->colour, rgb);
    else memcpy(rgb, toy_colour_rgb[s->colour], 3);
}

/* -------------------------------------------------------------- textures */

static unsigned char toy_clamp(int v) { return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v); }
static void toy_put(unsigned char *p, int r, int g, int b) {
    p[0] = toy_clamp(r);
    p[1] = toy_clamp(g);
    p[2] = toy_clamp(b);
}
/* signed noise in [-a, a] */
static int toy_noise(ToyRng *r, int a) { return toy_below(r, 2 * a + 1) - a; }
/* a hash of two integers in [0, n) */
static int toy_hash2(uint64_t seed, int a, int b, int n) {
    return (int)((toy_mix(seed ^ ((uint64_t)(uint32_t)a << 32 | (uint32_t)b)) >> 16) % (uint64_t)n);
}

static void toy_sky(int S, ToyRng *r, unsigned char *rgb) {
    int puffs[25][3], np = 0, nclouds = 2 + toy_below(r, 3);
    for (int c = 0; c < nclouds; c++) {
        int ccx = toy_below(r, S), ccy = toy_below(r, 2 * S / 3), n = 3 + toy_below(r, 3);
        for (int k = 0; k < n && np < 25; k++, np++) {
            puffs[np][0] = ccx + toy_below(r, S / 4 + 1) - S / 8;
            puffs[np][1] = ccy + toy_below(r, S / 10 + 1) - S / 20;
            puffs[np][2] = S / 16 + toy_below(r, S / 12 + 1);
        }
    }
    for (int y = 0; y < S; y++) {
        int br = 60 + 105 * y / (S - 1), bg = 120 + 80 * y / (S - 1), bb = 215 + 25 * y / (S - 1);
        for (int x = 0; x < S; x++) {
            int cloud = 0;
            for (int k = 0; k < np && !cloud; k++) {
                int dx = x - puffs[k][0], dy = 2 * (y - puffs[k][1]); /* flattened puffs */
                cloud = dx * dx + dy * dy <= puffs[k][2] * puffs[k][2];
            }
            int n = toy_noise(r, 3), cr = br, cg = bg, cb = bb;
            if (cloud) { cr = (cr + 3 * 240) / 4; cg = (cg + 3 * 244) / 4; cb = (cb + 3 * 250) / 4; }
            toy_put(rgb + 3 * (y * S + x), cr + n, cg + n, cb + n);
        }
    }
}

static void toy_grass(int S, ToyRng *r, uint64_t seed, unsigned char *rgb) {
    int shade[TOY_MAX_SIZE], phase[TOY_MAX_SIZE];
    for (int x = 0; x < S; x++) { shade[x] = toy_noise(r, 12); phase[x] = toy_below(r, 6); }
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int blade = toy_hash2(seed, x, (y + phase[x]) / 6, 33) - 16; /* short vertical strokes */
            int v = shade[x] + blade, n = toy_noise(r, 5);
            toy_put(rgb + 3 * (y * S + x), 64 + v / 2 + n, 135 + v + n, 48 + v / 3 + n);
        }
}

static void toy_water(int S, ToyRng *r, unsigned char *rgb) {
    int sp = S / 10 > 4 ? S / 10 : 4, nb = S / sp + 1, ph[TOY_MAX_SIZE / 4 + 1];
    for (int k = 0; k < nb; k++) ph[k] = toy_below(r, 64);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int t = (x + ph[y / sp]) & 15, tri = t < 8 ? t : 16 - t; /* 0..8 */
            int d = y % sp - tri * (sp / 2) / 8;                      /* crest where d == 0 */
            int cr = 28 - 10 * y / S, cg = 88 - 20 * y / S, cb = 165 - 25 * y / S;
            if (d == 0) { cr = (cr + 150) / 2; cg = (cg + 190) / 2; cb = (cb + 230) / 2; }
            else if (d == 1) { cr += 15; cg += 20; cb += 20; }
            int n = toy_noise(r, 5);
            toy_put(rgb + 3 * (y * S + x), cr + n, cg + n, cb + n);
        }
}

static void toy_sand(int S, ToyRng *r, unsigned char *rgb) {
    int ph = toy_below(r, 40);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int t = (x + 2 * y + ph) % 40, dune = (t < 20 ? t : 40 - t) - 10; /* -10..10 */
            int g = toy_below(r, 64), v = dune + toy_noise(r, 7);
            if (g == 0) v -= 45;
            else if (g == 1) v += 25;
            toy_put(rgb + 3 * (y * S + x), 214 + v, 186 + v, 136 + v);
        }
}

void toy_render(const ToyScene *s, int with_object, unsigned char *rgb, unsigned char *mask) {
    int S = s->size;
    ToyRng r = {s->texture_seed};
    switch (s->background) {
    case TOY_SKY: toy_sky(S, &r, rgb); break;
    case TOY_GRASS: toy_grass(S, &r, s->texture_seed, rgb); break;
    case TOY_WATER: toy_water(S, &r, rgb); break;
    default: toy_sand(S, &r, rgb); break;
    }
    if (mask) memset(mask, 0, (size_t)S * (size_t)S);
    if (!with_object) return;
    for (int y = s->bbox[1]; y < s->bbox[3]; y++)
        for (int x = s->bbox[0]; x < s->bbox[2]; x++) {
            if (!toy_inside(s, x, y)) continue;
            toy_object_rgb(s, x, y, rgb + 3 * (y * S + x));
            if (mask) mask[y * S + x] = 255;
        }
}

/* ----------------------------------------------------------------- labels */

int toy_caption(const ToyScene *s, char *buf, size_t n) {
    const char *c = toy_colour_names[s->colour];
    return snprintf(buf, n, "%s %s %s %s %s", strchr("aeiou", c[0]) ? "an" : "a", c, toy_pattern_names[s->pattern],
                    toy_shape_names[s->shape], toy_place[s->background]);
}

int toy_label_json(const ToyScene *s, const char *image, const char *mask, char *buf, size_t n) {
    char cap[128];
    toy_caption(s, cap, sizeof cap);
    int k = snprintf(buf, n,
                     "{\"index\": %d, \"image\": \"%s\", \"mask\": \"%s\", \"shape\": \"%s\", \"colour\": \"%s\", "
                     "\"pattern\": \"%s\", \"background\": \"%s\", \"x\": %d, \"y\": %d, \"r\": %d, "
                     "\"bbox\": [%d, %d, %d, %d], \"area\": %d, \"caption\": \"%s\"",
                     s->index, image, mask, toy_shape_names[s->shape], toy_colour_names[s->colour],
                     toy_pattern_names[s->pattern], toy_background_names[s->background], s->cx, s->cy, s->r, s->bbox[0],
                     s->bbox[1], s->bbox[2], s->bbox[3], s->area, cap);
    if (k >= 0 && (size_t)k < n && s->klass >= 0)
        k += snprintf(buf + k, n - (size_t)k, ", \"class\": %d, \"class_name\": \"%s\", \"domain\": \"%s\", \"group\": %d",
                      s->klass, s->klass ? "B" : "A", s->domain ? "water" : "land", 2 * s->klass + s->domain);
    if (k >= 0 && (size_t)k < n) k += snprintf(buf + k, n - (size_t)k, "}");
    return k;
}

/* ------------------------------------------------------------------ files */

typedef struct {
    jmp_buf jmp;
    char *err;
    size_t errlen;
    const char *path;
} ToyPngErr;

static void toy_png_error(png_structp png, png_const_charp msg) {
    ToyPngErr *e = png_get_error_ptr(png);
    snprintf(e->err, e->errlen, "%s: cannot write PNG: %s%s%s", e->path, msg, errno ? ": " : "", errno ? strerror(errno) : "");
    longjmp(e->jmp, 1);
}
static void toy_png_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int toy_write_png(const char *path, const unsigned char *px, int w, int h, int channels, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    ToyPngErr e = {.err = err, .errlen = errlen, .path = path};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, toy_png_error, toy_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc(sizeof(png_bytep) * (size_t)h);
    if (!png || !info || !rows) {
        snprintf(err, errlen, "%s: out of memory", path);
        png_destroy_write_struct(&png, &info);
        free(rows);
        fclose(f);
        return -1;
    }
    volatile int rc = -1;
    errno = 0;
    if (!setjmp(e.jmp)) {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_compression_level(png, 6);
        for (int y = 0; y < h; y++) rows[y] = (png_bytep)(px + (size_t)y * (size_t)w * (size_t)channels);
        png_set_rows(png, info, rows);
        png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
        rc = 0;
    }
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (fflush(f) || ferror(f)) {
        if (!rc) snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        rc = -1;
    }
    if (fclose(f) && !rc) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

static int toy_write_bytes(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    int ok = fwrite(data, 1, len, f) == len;
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) { snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno)); return -1; }
    return 0;
}

int toy_write_jpeg(const char *path, const unsigned char *rgb, int w, int h, int quality, char *err, size_t errlen) {
    tjhandle tj = tjInitCompress();
    if (!tj) { snprintf(err, errlen, "%s: cannot start the JPEG encoder: %s", path, tjGetErrorStr2(NULL)); return -1; }
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int rc = -1;
    if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &buf, &len, TJSAMP_444, quality, TJFLAG_ACCURATEDCT) < 0)
        snprintf(err, errlen, "%s: JPEG encoding failed: %s", path, tjGetErrorStr2(tj));
    else
        rc = toy_write_bytes(path, buf, len, err, errlen);
    tjFree(buf);
    tjDestroy(tj);
    return rc;
}

/* Remove a directory tree written here (two levels: files and subdirectories of files). */
static void toy_rmtree(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        size_t n = strlen(dir) + 300;
        char *p = malloc(n);
        while (p && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, n, "%s/%s", dir, e->d_name);
            struct stat st;
            if (depth > 0 && !lstat(p, &st) && S_ISDIR(st.st_mode)) toy_rmtree(p, depth - 1);
            else unlink(p);
        }
        free(p);
        closedir(d);
    }
    rmdir(dir);
}

static int toy_write_info(const ToyOpts *o, const char *path, char *err, size_t errlen) {
    char buf[4096];
    size_t k = 0;
    const char *split = o->split == TOY_SPLIT_SPURIOUS ? "spurious" : o->split == TOY_SPLIT_BALANCED ? "balanced" : "uniform";
    k += (size_t)snprintf(buf + k, sizeof buf - k,
                          "{\n  \"generator\": \"vitrun toyworld\",\n  \"version\": 1,\n  \"seed\": %llu,\n  \"count\": %d,\n"
                          "  \"size\": %d,\n  \"format\": \"%s\",\n  \"split\": \"%s\",\n",
                          (unsigned long long)o->seed, o->count, o->size, o->format == TOY_JPEG ? "jpeg" : "png", split);
    if (o->format == TOY_JPEG) k += (size_t)snprintf(buf + k, sizeof buf - k, "  \"quality\": %d,\n", o->quality);
    if (o->split == TOY_SPLIT_SPURIOUS)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "  \"spurious\": %d.%06d,\n", o->spurious_ppm / 1000000,
                              o->spurious_ppm % 1000000);
    const char *const *lists[4] = {toy_shape_names, toy_colour_names, toy_pattern_names, toy_background_names};
    const int lens[4] = {TOY_NSHAPES, TOY_NCOLOURS, TOY_NPATTERNS, TOY_NBACKGROUNDS};
    const char *keys[4] = {"shapes", "colours", "patterns", "backgrounds"};
    for (int l = 0; l < 4; l++) {
        k += (size_t)snprintf(buf + k, sizeof buf - k, "  \"%s\": [", keys[l]);
        for (int i = 0; i < lens[l]; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\"%s\"", i ? ", " : "", lists[l][i]);
        k += (size_t)snprintf(buf + k, sizeof buf - k, "],\n");
    }
    k += (size_t)snprintf(buf + k, sizeof buf - k,
                          "  \"classes\": {\"A\": [\"red\", \"yellow\", \"blue\", \"white\"], \"B\": [\"orange\", \"green\", \"purple\", \"black\"]},\n"
                          "  \"domains\": {\"land\": [\"grass\", \"sand\"], \"water\": [\"water\"]},\n"
                          "  \"coordinates\": \"x, y: the object's centre (a pixel corner); r: its radius; bbox: [x0, y0, x1, y1) of the mask\"\n}\n");
    return toy_write_bytes(path, buf, k, err, errlen);
}

int toy_generate(const ToyOpts *o, const char *dir, char *err, size_t errlen) {
    if (toy_opts_check(o, err, errlen)) return -1;
    struct stat st;
    if (!stat(dir, &st)) {
        DIR *d = S_ISDIR(st.st_mode) ? opendir(dir) : NULL;
        int empty = d != NULL;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
        if (d) closedir(d);
        if (!empty) {
            snprintf(err, errlen, "%s: already exists%s", dir, S_ISDIR(st.st_mode) ? " and is not empty" : " and is not a directory");
            return -1;
        }
    }
    size_t n = strlen(dir) + 64;
    char *tmp = malloc(n), *path = malloc(n), *line = malloc(4096);
    int S = o->size, rc = -1;
    unsigned char *rgb = malloc((size_t)S * (size_t)S * 3), *mask = malloc((size_t)S * (size_t)S);
    FILE *labels = NULL, *caps = NULL;
    if (!tmp || !path || !line || !rgb || !mask) { snprintf(err, errlen, "out of memory"); goto fail_nodir; }
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--; /* "out/" -> temporary "out.tmpXXXXXX" */
    snprintf(tmp, n, "%.*s.tmpXXXXXX", (int)dl, dir);
    if (!mkdtemp(tmp)) { snprintf(err, errlen, "%s: cannot create a directory next to it: %s", dir, strerror(errno)); goto fail_nodir; }
    snprintf(path, n, "%s/images", tmp);
    int bad = mkdir(path, 0777);
    snprintf(path, n, "%s/masks", tmp);
    if (bad || mkdir(path, 0777)) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); goto fail; }
    snprintf(path, n, "%s/labels.jsonl", tmp);
    if (!(labels = fopen(path, "w"))) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); goto fail; }
    snprintf(path, n, "%s/captions.txt", tmp);
    if (!(caps = fopen(path, "w"))) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); goto fail; }
    const char *ext = o->format == TOY_JPEG ? "jpg" : "png";
    for (int i = 0; i < o->count; i++) {
        ToyScene s;
        char img[64], msk[64];
        toy_scene(o, i, &s);
        toy_render(&s, 1, rgb, mask);
        snprintf(img, sizeof img, "images/%06d.%s", i, ext);
        snprintf(msk, sizeof msk, "masks/%06d.png", i);
        snprintf(path, n, "%s/%s", tmp, img);
        if (o->format == TOY_JPEG ? toy_write_jpeg(path, rgb, S, S, o->quality, err, errlen)
                                  : toy_write_png(path, rgb, S, S, 3, err, errlen))
            goto fail;
        snprintf(path, n, "%s/%s", tmp, msk);
        if (toy_write_png(path, mask, S, S, 1, err, errlen)) goto fail;
        toy_label_json(&s, img, msk, line, 4096);
        fprintf(labels, "%s\n", line);
        toy_caption(&s, line, 4096);
        fprintf(caps, "%s\n", line);
        if (ferror(labels) || ferror(caps)) {
            snprintf(err, errlen, "%s/%s: write failed: %s", dir, ferror(labels) ? "labels.jsonl" : "captions.txt", strerror(errno));
            goto fail;
        }
    }
    int e1 = fclose(labels), e2 = fclose(caps);
    labels = caps = NULL;
    if (e1 || e2) { snprintf(err, errlen, "%s/%s: write failed: %s", dir, e1 ? "labels.jsonl" : "captions.txt", strerror(errno)); goto fail; }
    snprintf(path, n, "%s/info.json", tmp);
    if (toy_write_info(o, path, err, errlen)) goto fail;
    if (rename(tmp, dir)) { snprintf(err, errlen, "%s: cannot move the finished data set into place: %s", dir, strerror(errno)); goto fail; }
    rc = 0;
    goto done;
fail:
    if (labels) fclose(labels);
    if (caps) fclose(caps);
    toy_rmtree(tmp, 1);
fail_nodir:
done:
    free(tmp);
    free(path);
    free(line);
    free(rgb);
    free(mask);
    return rc;
}
