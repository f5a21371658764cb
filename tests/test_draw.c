/* tests/test_draw.c — the pictures module (runtime/app/draw.c): PNG files
 * round-trip exactly and are written atomically, the font puts ink where its
 * table says, images resample to the expected pixels, heatmaps are red where
 * the map is positive and blue where negative with the map's token grid laid
 * over the right pixels, grids place cells and captions, and charts draw
 * their series and axes. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <unistd.h>

#include "check.h"
#include "img.h"
#include "vit.h"

static const unsigned char K[3] = {0, 0, 0};

static const unsigned char *px(const vit_picture *p, int x, int y) { return p->rgb + ((size_t)y * p->w + x) * 3; }
static int is_white(const unsigned char *c) { return c[0] == 255 && c[1] == 255 && c[2] == 255; }

TEST(png_round_trip_is_exact) {
    vit_ctx *ctx = vit_ctx_new();
    vit_picture *p = vit_picture_new(37, 23);
    ASSERT(p);
    for (int i = 0; i < 37 * 23 * 3; i++) p->rgb[i] = (unsigned char)(i * 7 + i / 3);
    char dir[] = "/tmp/test_drawXXXXXX", path[256];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.png", dir);
    ASSERT_EQ(vit_picture_write_png(ctx, p, path), VIT_OK);
    vit_picture *q = NULL;
    ASSERT_EQ(vit_picture_read(ctx, path, &q), VIT_OK);
    ASSERT_EQ(q->w, 37);
    ASSERT_EQ(q->h, 23);
    ASSERT(!memcmp(p->rgb, q->rgb, 37 * 23 * 3));
    /* only the file itself: no temporary left */
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    ASSERT_EQ(n, 1);
    /* a directory that does not exist: an error, nothing written */
    snprintf(path, sizeof path, "%s/missing/a.png", dir);
    ASSERT(vit_picture_write_png(ctx, p, path) != VIT_OK);
    ASSERT_CONTAINS(vit_last_error(ctx), "missing/a.png");
    snprintf(path, sizeof path, "%s/a.png", dir);
    unlink(path);
    rmdir(dir);
    vit_picture_free(p);
    vit_picture_free(q);
    vit_ctx_free(ctx);
    return 0;
}

TEST(text_draws_the_font_pixels) {
    vit_picture *p = vit_picture_new(40, 20);
    ASSERT_EQ(vit_draw_text(p, 2, 3, "I-", K, 1), 2 * VIT_FONT_W);
    /* 'I' is 0x41 0x7F 0x41 in columns 1..3: column 2 is solid for 7 rows */
    for (int r = 0; r < 7; r++) ASSERT(!is_white(px(p, 2 + 2, 3 + r)));
    ASSERT(is_white(px(p, 2 + 0, 3 + 3)));
    ASSERT(!is_white(px(p, 2 + 1, 3 + 0))); /* serif */
    ASSERT(is_white(px(p, 2 + 1, 3 + 3)));
    /* '-' is row 3 of its five columns */
    for (int c = 0; c < 5; c++) ASSERT(!is_white(px(p, 2 + VIT_FONT_W + c, 3 + 3)));
    ASSERT(is_white(px(p, 2 + VIT_FONT_W + 2, 3 + 2)));
    /* scale 2: each font pixel becomes 2 x 2; drawing off the canvas is clipped */
    vit_picture *q = vit_picture_new(40, 20);
    vit_draw_text(q, 0, 0, "I", K, 2);
    ASSERT(!is_white(px(q, 4, 7)) && !is_white(px(q, 5, 7)) && is_white(px(q, 6, 7)));
    vit_draw_text(q, 35, 15, "WWWW", K, 3);
    ASSERT_EQ(vit_draw_text_width("abc", 2), 3 * VIT_FONT_W * 2);
    vit_picture_free(p);
    vit_picture_free(q);
    return 0;
}

TEST(image_resamples_bilinearly) {
    /* a 2 x 1 image black | white, drawn at 4 x 1: 0, 64, 191, 255 (align_corners = False) */
    unsigned char src[6] = {0, 0, 0, 255, 255, 255};
    vit_picture *p = vit_picture_new(6, 3);
    vit_draw_image(p, 1, 1, 4, 1, src, 2, 1);
    ASSERT_EQ(px(p, 1, 1)[0], 0);
    ASSERT_EQ(px(p, 2, 1)[0], 64);
    ASSERT_EQ(px(p, 3, 1)[0], 191);
    ASSERT_EQ(px(p, 4, 1)[0], 255);
    ASSERT(is_white(px(p, 0, 1)) && is_white(px(p, 1, 0)));
    /* same size: a copy */
    unsigned char grad[4 * 3 * 3];
    for (int i = 0; i < 36; i++) grad[i] = (unsigned char)(i * 5);
    vit_draw_image(p, 0, 0, 4, 3, grad, 4, 3);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) ASSERT(!memcmp(px(p, x, y), grad + (y * 4 + x) * 3, 3));
    vit_picture_free(p);
    return 0;
}

TEST(heatmap_is_red_where_positive_blue_where_negative) {
    /* a grey 16 x 16 image; a 2 x 2 map: +1 top-left, -1 bottom-right, 0 elsewhere */
    vit_picture *im = vit_picture_new(16, 16);
    memset(im->rgb, 128, 16 * 16 * 3);
    const float map[4] = {1, 0, 0, -1};
    vit_picture *h = vit_draw_heatmap(im, map, 2, 2, 0, 2, NULL);
    ASSERT(h);
    /* image at (8, 8), 32 x 32 pixels; the map's cells are 16 x 16 */
    const unsigned char *tl = px(h, 8 + 1, 8 + 1), *br = px(h, 8 + 30, 8 + 30), *tr = px(h, 8 + 30, 8 + 1);
    ASSERT(tl[0] > 200 && tl[2] < 60);
    ASSERT(br[2] > 200 && br[0] < 60);
    ASSERT(tr[0] == 128 && tr[1] == 128 && tr[2] == 128);
    /* the centre of the top-left cell is pure +1; half way to the neighbour, half as strong */
    const unsigned char *mid = px(h, 8 + 16, 8 + 7);
    ASSERT(mid[0] > 128 && mid[0] < tl[0]);
    /* colour bar right of the image: red on top, blue at the bottom, white in the middle */
    int bx = 8 + 32 + 8;
    ASSERT(px(h, bx, 8)[0] > 200 && px(h, bx, 8)[2] < 80);
    ASSERT(px(h, bx, 8 + 31)[2] > 200 && px(h, bx, 8 + 31)[0] < 80);
    ASSERT(px(h, bx, 8 + 16)[1] > 200);
    /* a fixed range halves the colour of a half-range value */
    vit_picture *h2 = vit_draw_heatmap(im, map, 2, 2, 2, 2, "title");
    ASSERT(h2 && h2->h > h->h);
    vit_picture_free(h);
    vit_picture_free(h2);
    vit_picture_free(im);
    return 0;
}

TEST(grid_places_cells_and_captions) {
    vit_picture *a = vit_picture_new(4, 4), *b = vit_picture_new(8, 4);
    memset(a->rgb, 0, 48);
    for (int i = 0; i < 8 * 4; i++) { b->rgb[3 * i] = 255; b->rgb[3 * i + 1] = 0; b->rgb[3 * i + 2] = 0; }
    const vit_picture *ims[3] = {a, b, a};
    const char *caps[3] = {"one", "two", NULL};
    vit_picture *g = vit_draw_grid(ims, caps, 3, 2, 32, NULL);
    ASSERT(g);
    /* pad 6; cells 32 + 6 apart horizontally; rows 32 + 2 lines of caption + 6 */
    ASSERT_EQ(g->w, 6 + 2 * 38);
    ASSERT(px(g, 6 + 16, 6 + 16)[0] == 0);
    /* b is 2:1 so it fills the width and half the height, centred */
    ASSERT(px(g, 44 + 16, 6 + 16)[0] == 255 && px(g, 44 + 16, 6 + 16)[1] == 0);
    ASSERT(px(g, 44 + 16, 6 + 2)[0] == 225); /* letterbox */
    /* some ink in the caption line under the first cell */
    int ink = 0;
    for (int y = 6 + 32 + 2; y < 6 + 32 + 10; y++)
        for (int x = 6; x < 6 + 32; x++) ink += !is_white(px(g, x, y));
    ASSERT(ink > 10);
    ASSERT(!vit_draw_grid(ims, caps, 0, 2, 32, NULL));
    vit_picture_free(g);
    vit_picture_free(a);
    vit_picture_free(b);
    return 0;
}

TEST(chart_draws_series_axes_and_legend) {
    const float x[3] = {0, 1, 2}, y1[3] = {0.9f, 0.8f, 0.5f}, y2[3] = {0.5f, 0.5f, 0.5f};
    vit_series s[2] = {{"model a", x, y1, 3}, {"model b", x, y2, 3}};
    vit_chart c = {.title = "accuracy", .xlabel = "removed", .ylabel = "acc", .series = s, .nseries = 2, .ymin = 0, .ymax = 1};
    vit_picture *p = vit_draw_chart(&c);
    ASSERT(p && p->w == 640 && p->h == 420);
    /* count pixels of each series colour: both lines drawn */
    int n1 = 0, n2 = 0;
    for (int i = 0; i < p->w * p->h; i++) {
        const unsigned char *q = p->rgb + 3 * i;
        n1 += q[0] == 31 && q[1] == 119 && q[2] == 180;
        n2 += q[0] == 214 && q[1] == 39 && q[2] == 40;
    }
    ASSERT(n1 > 200 && n2 > 200);
    /* y2 is constant 0.5: a horizontal run of its colour across the plot */
    int row = -1;
    for (int y = 0; y < p->h && row < 0; y++) {
        int run = 0;
        for (int xx = 0; xx < p->w; xx++) {
            const unsigned char *q = px(p, xx, y);
            run = (q[0] == 214 && q[1] == 39 && q[2] == 40) ? run + 1 : 0;
            if (run > 400) row = y;
        }
    }
    ASSERT(row > 0);
    vit_chart empty = {0};
    ASSERT(!vit_draw_chart(&empty));
    vit_picture_free(p);
    return 0;
}

TESTS {
    T(png_round_trip_is_exact),
    T(text_draws_the_font_pixels),
    T(image_resamples_bilinearly),
    T(heatmap_is_red_where_positive_blue_where_negative),
    T(grid_places_cells_and_captions),
    T(chart_draws_series_axes_and_legend),
};

int main(int argc, char **argv) { return check_main(argc, argv); }
