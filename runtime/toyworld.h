/* runtime/toyworld.h — a toy world with ground truth: images of one object
 * (shape, colour, pattern, position, size) on a procedurally textured
 * location (sky, grass, water, sand), each with its label record, the
 * object's pixel mask and a caption ("a red striped triangle on grass").
 *
 * Everything is a function of (seed, index, options): a 64-bit integer PRNG
 * (splitmix64), integer geometry (pixel centres in half-pixel units, fixed
 * point vertex tables) and integer colour arithmetic, so the pixels are the
 * same on every machine.  Objects have hard edges: the mask is exactly the
 * set of pixels the object was drawn on (before any JPEG compression).
 *
 * Splits.  TOY_SPLIT_UNIFORM draws every attribute independently and
 * uniformly.  TOY_SPLIT_SPURIOUS adds a two-class object label, by colour
 * with neighbouring hues apart: class A (red, yellow, blue, white) and class
 * B (orange, green, purple, black), and a background domain, land (grass or
 * sand) or water; the domain agrees with the class (A on land, B on water)
 * with probability spurious_ppm / 10^6.
 * TOY_SPLIT_BALANCED cycles the four (class, domain) groups, index % 4 =
 * 2 * class + domain, so every group has the same size.  Sky is not used in
 * those two splits. */
#ifndef VIT_TOYWORLD_H
#define VIT_TOYWORLD_H

#include <stddef.h>
#include <stdint.h>

enum { TOY_NSHAPES = 6, TOY_NCOLOURS = 8, TOY_NPATTERNS = 4, TOY_NBACKGROUNDS = 4 };
enum toy_background { TOY_SKY, TOY_GRASS, TOY_WATER, TOY_SAND };
enum toy_format { TOY_PNG, TOY_JPEG };
enum toy_split { TOY_SPLIT_UNIFORM, TOY_SPLIT_SPURIOUS, TOY_SPLIT_BALANCED };

/* Attribute names, indexed by the values in ToyScene. */
extern const char *const toy_shape_names[TOY_NSHAPES];         /* circle square triangle diamond star cross */
extern const char *const toy_colour_names[TOY_NCOLOURS];       /* red orange yellow green blue purple white black */
extern const char *const toy_pattern_names[TOY_NPATTERNS];     /* plain striped dotted checkered */
extern const char *const toy_background_names[TOY_NBACKGROUNDS]; /* sky grass water sand */
extern const unsigned char toy_colour_rgb[TOY_NCOLOURS][3];

typedef struct {
    uint64_t seed;      /* dataset seed */
    int count;          /* images, 1 .. TOY_MAX_COUNT */
    int size;           /* width = height in pixels, TOY_MIN_SIZE .. TOY_MAX_SIZE (default 64) */
    enum toy_format format; /* image files: PNG (default) or JPEG */
    int quality;        /* JPEG quality 1..100 (default 95) */
    enum toy_split split;
    int spurious_ppm;   /* TOY_SPLIT_SPURIOUS: P(domain agrees with class) in parts per million */
} ToyOpts;

#define TOY_MAX_COUNT 1000000
#define TOY_MIN_SIZE 16
#define TOY_MAX_SIZE 2048

/* One image's ground truth. Coordinates are pixel-corner coordinates: the
 * object is centred on the corner (cx, cy) with radius r, so it covers pixels
 * inside [cx - r, cx + r) on each axis; bbox is the mask's tight box
 * [x0, y0, x1, y1) (exclusive ends) and area its pixel count. */
typedef struct {
    int index, size;
    int shape, colour, pattern, background;
    int cx, cy, r;
    int klass;   /* spurious / balanced splits: 0 (A) or 1 (B); else -1 */
    int domain;  /* spurious / balanced splits: 0 land, 1 water; else -1 */
    int bbox[4];
    int area;
    uint64_t texture_seed; /* the background texture's stream */
} ToyScene;

void toy_opts_default(ToyOpts *o);
/* Check the options; 0, or -1 with a message. */
int toy_opts_check(const ToyOpts *o, char *err, size_t errlen);

/* The scene of image `index` (attributes, geometry, bbox and area). */
void toy_scene(const ToyOpts *o, int index, ToyScene *s);
/* 1 when pixel (x, y) belongs to the object. */
int toy_inside(const ToyScene *s, int x, int y);
/* The object's colour at pixel (x, y) (meaningful where toy_inside): its
 * outline colour within the outline, else the colour, or for striped /
 * dotted / checkered pixels its pattern shade. */
void toy_object_rgb(const ToyScene *s, int x, int y, unsigned char rgb[3]);
/* 1 when pixel (x, y) of the object lies on its outline: within size / 32
 * pixels (at least 1, Chebyshev distance) of a pixel outside it. */
int toy_on_outline(const ToyScene *s, int x, int y);
/* The outline colour: a fifth of the colour's value, or three quarters of
 * the way to white for dark colours. */
void toy_outline_rgb(int colour, unsigned char rgb[3]);
/* The pattern shade of a colour: half its value, or half-way to white for
 * dark colours. */
void toy_pattern_rgb(int colour, unsigned char rgb[3]);
/* Draw the scene: background, then (with_object) the object.  rgb: size *
 * size * 3 bytes, packed RGB, rows top to bottom; mask (NULL to skip):
 * size * size bytes, 255 on the object, 0 elsewhere. */
void toy_render(const ToyScene *s, int with_object, unsigned char *rgb, unsigned char *mask);

/* "a red striped triangle on grass"; returns the length (snprintf's). */
int toy_caption(const ToyScene *s, char *buf, size_t n);
/* The label record as one line of JSON (no newline), file names included. */
int toy_label_json(const ToyScene *s, const char *image, const char *mask, char *buf, size_t n);

/* PNG (8-bit RGB for channels 3, grey for 1) and JPEG (4:4:4, accurate DCT)
 * files.  0, or -1 with a message. */
int toy_write_png(const char *path, const unsigned char *px, int w, int h, int channels, char *err, size_t errlen);
int toy_write_jpeg(const char *path, const unsigned char *rgb, int w, int h, int quality, char *err, size_t errlen);

/* Write the data set to the directory `dir` (which must not exist, or be
 * empty): images/NNNNNN.png|jpg, masks/NNNNNN.png, labels.jsonl (one record a
 * line, in index order), captions.txt (one a line) and info.json (options and
 * attribute names).  Everything goes to a temporary directory next to `dir`
 * that is renamed into place at the end: on failure nothing is left.
 * 0, or -1 with a message. */
int toy_generate(const ToyOpts *o, const char *dir, char *err, size_t errlen);

#endif
