/* runtime/img.c — image files to model input.  JPEG through TurboJPEG (ISLOW
 * DCT, fancy upsampling: what PIL's decoder gets from libjpeg-turbo), PNG
 * through libpng with every colour type mapped to RGB8 as PIL 9's
 * convert('RGB') maps it, then timm's eval transform: Resize (resize.c),
 * CenterCrop with torchvision's rounding, ToTensor and Normalize in float32. */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <turbojpeg.h>

#include "img.h"

/* PIL refuses images above twice Image.MAX_IMAGE_PIXELS (decompression bomb) */
#define IMG_MAX_PIXELS (2LL * 89478485LL)

static int too_big(int w, int h, const char *name, char *err, size_t errlen) {
    if (w < 1 || h < 1 || (long long)w * h > IMG_MAX_PIXELS) {
        snprintf(err, errlen, "%s: image size %dx%d is out of range (1 to %lld pixels)", name, w, h, IMG_MAX_PIXELS);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ JPEG */

/* Whether PIL would call this JPEG truncated, judged by walking its markers
 * the way libjpeg reads them.  PIL's decoder suspends when the data runs out;
 * it fails only if that happens before every scanline is out.  With a single
 * sequential scan that means the scan's data must end at a marker; with
 * several scans (progressive) libjpeg must read on to EOI.  Only consulted
 * when libjpeg warned: TurboJPEG pads a short file and decodes it anyway. */
static int jpeg_truncated(const unsigned char *d, size_t n) {
    size_t i = 2;
    int progressive = 0, nf = 0, scans = 0;
    while (i + 1 < n) {
        if (d[i] != 0xFF) { i++; continue; }         /* stray bytes: libjpeg skips them */
        unsigned m = d[i + 1];
        if (m == 0xFF) { i++; continue; }            /* fill byte */
        if (m == 0xD9) return 0;                     /* EOI */
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
        if (i + 3 >= n) return 1;
        size_t seg = ((size_t)d[i + 2] << 8) | d[i + 3];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) { /* SOFn */
            progressive = (m & 3) == 2;
            if (i + 9 < n) nf = d[i + 9];
        }
        if (m != 0xDA) { i += 2 + seg; continue; }
        int ns = i + 4 < n ? d[i + 4] : 0;
        scans++;
        i += 2 + seg; /* entropy-coded data runs to the next real marker */
        while (i + 1 < n && !(d[i] == 0xFF && d[i + 1] != 0x00 && !(d[i + 1] >= 0xD0 && d[i + 1] <= 0xD7)))
            i++;
        if (i + 1 >= n) return 1;
        if (scans == 1 && !progressive && ns == nf) return 0;
    }
    return 1;
}

/* 1 when libjpeg only warned (PIL ignores warnings).  TurboJPEG reports a
 * fatal error after an earlier warning as a warning too, so the last
 * message, which is the fatal one if there was one, must be a warning's. */
static int jpeg_warning_only(tjhandle tj) {
    static const char *const warnings[] = {
        "Corrupt JPEG data", "Premature end of JPEG file", "Warning: unknown JFIF revision",
        "Unknown Adobe color transform code", "Inconsistent progression sequence",
        "Invalid SOS parameters for sequential JPEG", "Application transferred too many scanlines",
    };
    if (tjGetErrorCode(tj) != TJERR_WARNING) return 0;
    const char *msg = tjGetErrorStr2(tj);
    for (size_t i = 0; i < sizeof warnings / sizeof warnings[0]; i++)
        if (!strncmp(msg, warnings[i], strlen(warnings[i]))) return 1;
    return 0;
}

/* PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts with
 * r = clip(k' - k' * c' / 255) where c' = 255 - c, k' = k (its cmyk2rgb) */
static void cmyk_to_rgb(const unsigned char *in, unsigned char *out, size_t npix) {
    for (size_t i = 0; i < npix; i++, in += 4, out += 3) {
        int nk = in[3]; /* 255 - (255 - k) */
        for (int c = 0; c < 3; c++) {
            int t = (255 - in[c]) * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            out[c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static int decode_jpeg(const unsigned char *data, size_t len, const char *name,
                       unsigned char **rgb, int *w, int *h, char *err, size_t errlen) {
    tjhandle tj = tjInitDecompress();
    if (!tj) {
        snprintf(err, errlen, "%s: cannot start the JPEG decoder: %s", name, tjGetErrorStr2(NULL));
        return -1;
    }
    int rc = -1, iw = 0, ih = 0, subsamp = -1, cs = -1;
    unsigned char *raw = NULL, *out = NULL;
    /* A failing call that still filled in size and colour space only met a
     * warning or sampling factors TurboJPEG cannot name; libjpeg (and PIL)
     * decode those. */
    int hdr = tjDecompressHeader3(tj, data, (unsigned long)len, &iw, &ih, &subsamp, &cs);
    if (iw < 1 || ih < 1 || cs < 0) {
        snprintf(err, errlen, "%s: %s JPEG file: %s", name,
                 jpeg_truncated(data, len) ? "truncated or corrupt" : "corrupt",
                 hdr < 0 ? tjGetErrorStr2(tj) : "no frame header");
        goto done;
    }
    if (too_big(iw, ih, name, err, errlen)) goto done;
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    int pf = cmyk ? TJPF_CMYK : TJPF_RGB;
    size_t npix = (size_t)iw * (size_t)ih;
    raw = malloc(npix * (size_t)tjPixelSize[pf]);
    if (!raw) {
        snprintf(err, errlen, "%s: out of memory for a %dx%d image", name, iw, ih);
        goto done;
    }
    /* flags 0: accurate integer DCT and fancy upsampling, libjpeg's defaults */
    if (tjDecompress2(tj, data, (unsigned long)len, raw, iw, 0, ih, pf, 0) < 0) {
        const char *msg = tjGetErrorStr2(tj);
        int trunc = jpeg_truncated(data, len);
        if (!jpeg_warning_only(tj) || trunc) {
            snprintf(err, errlen, "%s: %s JPEG file: %s", name, trunc ? "truncated" : "corrupt", msg);
            goto done;
        }
    }
    if (cmyk) {
        out = malloc(npix * 3);
        if (!out) {
            snprintf(err, errlen, "%s: out of memory for a %dx%d image", name, iw, ih);
            goto done;
        }
        cmyk_to_rgb(raw, out, npix);
        free(raw);
    } else {
        out = raw;
    }
    raw = NULL;
    *rgb = out;
    *w = iw;
    *h = ih;
    rc = 0;
done:
    free(raw);
    tjDestroy(tj);
    return rc;
}

/* ------------------------------------------------------------------- PNG */

/* PNG goes through libpng's progressive reader: the whole file is pushed in
 * and rows come out as the image data inflates, which is how PIL decodes it.
 * So a file is truncated exactly when its data ends before the last row
 * (PIL does without the trailing checksum, CRC and IEND), and zlib errors
 * after the last row still count, as they do in PIL's inflate. */

/* Heap state of one PNG decode, so nothing the error longjmp skips over
 * lives in a local variable. */
typedef struct {
    png_structp png;        /* libpng read state */
    png_infop info;         /* libpng header info */
    unsigned char *raw;     /* decoded samples, rows back to back */
    png_bytep *rows;        /* row pointers into raw */
    unsigned char *out;     /* RGB8 result */
    int w, h, depth, ctype; /* header: size, bits per sample, colour type */
    int interlaced;         /* Adam7 */
    int have_info;          /* header read and buffers allocated */
    int bad_size;           /* header size out of range */
    int no_mem;             /* row buffers could not be allocated */
    int bad_stream;         /* zlib failed on the image data */
    char msg[200];          /* libpng's error or zlib warning text */
} PngJob;

static void png_fail(png_structp png, png_const_charp msg) {
    PngJob *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) {
    /* Ancillary-chunk trouble and data after the last row are ignored, as
     * PIL ignores them; zlib failing on the image data is not. */
    PngJob *j = png_get_error_ptr(png);
    if (strstr(msg, "checksum mismatch") || strstr(msg, "Truncated compressed data")) {
        snprintf(j->msg, sizeof j->msg, "%s", msg);
        j->bad_stream = 1;
    }
}

/* every row of every pass delivered */
static int png_rows_done(PngJob *j) {
    if (!j->have_info) return 0;
    if (j->interlaced) return png_get_current_pass_number(j->png) >= 7;
    return (int)png_get_current_row_number(j->png) >= j->h;
}

static void png_on_info(png_structp png, png_infop info) {
    PngJob *j = png_get_progressive_ptr(png);
    j->w = (int)png_get_image_width(png, info);
    j->h = (int)png_get_image_height(png, info);
    j->depth = png_get_bit_depth(png, info);
    j->ctype = png_get_color_type(png, info);
    j->interlaced = png_get_interlace_type(png, info) != PNG_INTERLACE_NONE;
    if (j->w < 1 || j->h < 1 || (long long)j->w * j->h > IMG_MAX_PIXELS) {
        j->bad_size = 1;
        png_error(png, "image size out of range");
    }
    /* PIL checks the CRC of every chunk before the image data, none after */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
    if (j->depth < 8) png_set_packing(png); /* one sample a byte, values unscaled */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    j->raw = calloc((size_t)j->h, rowbytes);
    j->rows = malloc((size_t)j->h * sizeof *j->rows);
    j->out = malloc((size_t)j->w * (size_t)j->h * 3);
    if (!j->raw || !j->rows || !j->out) {
        j->no_mem = 1;
        png_error(png, "out of memory");
    }
    for (int y = 0; y < j->h; y++) j->rows[y] = j->raw + (size_t)y * rowbytes;
    j->have_info = 1;
}

static void png_on_row(png_structp png, png_bytep row, png_uint_32 y, int pass) {
    PngJob *j = png_get_progressive_ptr(png);
    (void)pass;
    if (row && y < (png_uint_32)j->h) png_progressive_combine_row(png, j->rows[y], row);
}

/* Decoded rows (sub-byte depths unpacked to one sample a byte, 16-bit big
 * endian) to RGB8 the way PIL 9 opens and converts each PNG mode. */
static void png_to_rgb(PngJob *j) {
    unsigned char pal[256][3];
    int w = j->w, depth = j->depth, ctype = j->ctype;
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = NULL;
        int np = 0;
        png_get_PLTE(j->png, j->info, &plte, &np);
        for (int i = 0; i < 256; i++) { /* PIL's palette beyond the file's: a grey ramp */
            int in = plte && i < np;
            pal[i][0] = in ? plte[i].red : (unsigned char)i;
            pal[i][1] = in ? plte[i].green : (unsigned char)i;
            pal[i][2] = in ? plte[i].blue : (unsigned char)i;
        }
    }
    int bps = depth == 16 ? 2 : 1; /* bytes per sample */
    for (int y = 0; y < j->h; y++) {
        const unsigned char *s = j->rows[y];
        unsigned char *d = j->out + (size_t)y * w * 3;
        for (int x = 0; x < w; x++, d += 3) {
            switch (ctype) {
            case PNG_COLOR_TYPE_GRAY: {
                int v = s[x * bps];
                if (depth == 16) { /* mode "I", clipped to 0..255 by convert */
                    v = (v << 8) | s[x * 2 + 1];
                    if (v > 255) v = 255;
                } else if (depth == 1) {
                    v = v ? 255 : 0;
                } else if (depth == 2) {
                    v *= 0x55;
                } else if (depth == 4) {
                    v *= 0x11;
                }
                d[0] = d[1] = d[2] = (unsigned char)v;
                break;
            }
            case PNG_COLOR_TYPE_GRAY_ALPHA: /* high byte of grey, alpha dropped */
                d[0] = d[1] = d[2] = s[x * 2 * bps];
                break;
            case PNG_COLOR_TYPE_RGB:
            case PNG_COLOR_TYPE_RGB_ALPHA: { /* high bytes, alpha dropped */
                int ns = ctype == PNG_COLOR_TYPE_RGB ? 3 : 4;
                const unsigned char *p = s + (size_t)x * ns * bps;
                d[0] = p[0];
                d[1] = p[bps];
                d[2] = p[2 * bps];
                break;
            }
            default: /* palette; tRNS does not affect RGB */
                memcpy(d, pal[s[x]], 3);
                break;
            }
        }
    }
}

static int decode_png(const unsigned char *data, size_t len, const char *name,
                      unsigned char **rgb, int *w, int *h, char *err, size_t errlen) {
    PngJob *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    int rc = -1;
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_fail, png_warn);
    if (j->png) j->info = png_create_info_struct(j->png);
    if (!j->png || !j->info) {
        snprintf(err, errlen, "%s: cannot start the PNG decoder", name);
        goto done;
    }
    if (setjmp(png_jmpbuf(j->png))) {
        /* an error after the last row (a broken trailing chunk) does not matter */
        if (png_rows_done(j) && !j->bad_stream) goto convert;
        if (j->bad_size) snprintf(err, errlen, "%s: image size %dx%d is out of range (1 to %lld pixels)", name, j->w, j->h, IMG_MAX_PIXELS);
        else if (j->no_mem) snprintf(err, errlen, "%s: out of memory for a %dx%d image", name, j->w, j->h);
        else snprintf(err, errlen, "%s: corrupt PNG file: %s", name, j->msg);
        goto done;
    }
    png_set_crc_action(j->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_progressive_read_fn(j->png, j, png_on_info, png_on_row, NULL);
    png_process_data(j->png, j->info, (png_bytep)data, len);
    if (j->bad_stream) {
        snprintf(err, errlen, "%s: corrupt PNG file: %s", name, j->msg);
        goto done;
    }
    if (!png_rows_done(j)) {
        snprintf(err, errlen, "%s: truncated PNG file", name);
        goto done;
    }
convert:
    png_to_rgb(j);
    *rgb = j->out;
    j->out = NULL;
    *w = j->w;
    *h = j->h;
    rc = 0;
done:
    if (j->png) png_destroy_read_struct(&j->png, j->info ? &j->info : NULL, NULL);
    free(j->raw);
    free(j->rows);
    free(j->out);
    free(j);
    return rc;
}

/* -------------------------------------------------------------- loading */

int img_decode_rgb8(const unsigned char *data, size_t len, const char *name,
                    unsigned char **rgb, int *w, int *h, char *err, size_t errlen) {
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    *rgb = NULL;
    *w = *h = 0;
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(data, len, name, rgb, w, h, err, errlen);
    if (len >= 8 && !memcmp(data, png_sig, 8))
        return decode_png(data, len, name, rgb, w, h, err, errlen);
    snprintf(err, errlen, "%s: not an image (neither JPEG nor PNG)", name);
    return -1;
}

/* the whole file into a malloc'd buffer */
static int read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *nb = cap > ((size_t)1 << 31) ? NULL : realloc(b, cap * 2);
        if (!nb) { free(b); b = NULL; break; }
        b = nb;
        cap *= 2;
    }
    int bad = ferror(f), e = errno;
    fclose(f);
    if (!b) {
        snprintf(err, errlen, "cannot read %s: out of memory or file too large", path);
        return -1;
    }
    if (bad) {
        free(b);
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

int img_load_rgb8(const char *path, unsigned char **rgb, int *w, int *h, char *err, size_t errlen) {
    unsigned char *data;
    size_t len;
    *rgb = NULL;
    *w = *h = 0;
    if (read_file(path, &data, &len, err, errlen)) return -1;
    int rc = img_decode_rgb8(data, len, path, rgb, w, h, err, errlen);
    free(data);
    return rc;
}

/* ------------------------------------------------------- preprocessing */

void img_resized_size(int w, int h, int resize, int *ow, int *oh) {
    int shortside = w <= h ? w : h, longside = w <= h ? h : w;
    /* Python's int(resize * long / short): exact product, rounded quotient, truncated */
    int other = (int)((double)((long long)resize * longside) / shortside);
    *ow = w <= h ? resize : other;
    *oh = w <= h ? other : resize;
}

/* offset of the crop window along one axis: torchvision pads (crop - n) // 2
 * before when the crop is larger, else starts at int(round((n - crop) / 2.0))
 * with Python's round-half-to-even */
static int crop_start(int n, int crop) {
    if (crop > n) return -((crop - n) / 2);
    int d = n - crop, q = d / 2;
    if (d % 2 && q % 2) q++; /* q + 0.5 rounds to the even neighbour */
    return q;
}

static int check_pre(const IrPreprocess *p, char *err, size_t errlen) {
    if (p->size < 1 || p->size > 16384 || p->resize < 1 || p->resize > 65535) {
        snprintf(err, errlen, "preprocess: bad crop size %d or resize %d", p->size, p->resize);
        return -1;
    }
    if (p->interp != 0 && p->interp != 1) {
        snprintf(err, errlen, "preprocess: unknown interpolation %d (0 bilinear, 1 bicubic)", p->interp);
        return -1;
    }
    for (int c = 0; c < 3; c++)
        if (p->std[c] == 0.0f) {
            snprintf(err, errlen, "preprocess: std[%d] is zero", c);
            return -1;
        }
    return 0;
}

int img_resize_crop_rgb8(const unsigned char *rgb, int w, int h, const IrPreprocess *p,
                         unsigned char *out, char *err, size_t errlen) {
    if (check_pre(p, err, errlen)) return -1;
    if (w < 1 || h < 1) {
        snprintf(err, errlen, "preprocess: empty image %dx%d", w, h);
        return -1;
    }
    int rw, rh;
    img_resized_size(w, h, p->resize, &rw, &rh);
    if (rw > 65535 || rh > 65535 || (long long)rw * rh > IMG_MAX_PIXELS) {
        snprintf(err, errlen, "preprocess: resize of %dx%d to %dx%d is too large", w, h, rw, rh);
        return -1;
    }
    unsigned char *mid = malloc((size_t)rw * (size_t)rh * 3);
    if (!mid) {
        snprintf(err, errlen, "preprocess: out of memory");
        return -1;
    }
    if (img_resample_rgb8(rgb, w, h, rw, rh, p->interp, mid, err, errlen)) {
        free(mid);
        return -1;
    }
    int s = p->size, top = crop_start(rh, s), left = crop_start(rw, s);
    for (int y = 0; y < s; y++) {
        unsigned char *d = out + (size_t)y * s * 3;
        int sy = top + y;
        if (sy < 0 || sy >= rh) {
            memset(d, 0, (size_t)s * 3);
            continue;
        }
        for (int x = 0; x < s; x++) {
            int sx = left + x;
            if (sx < 0 || sx >= rw) memset(d + 3 * x, 0, 3);
            else memcpy(d + 3 * x, mid + ((size_t)sy * rw + sx) * 3, 3);
        }
    }
    free(mid);
    return 0;
}

int img_preprocess(const unsigned char *rgb, int w, int h, const IrPreprocess *p,
                   float *out, char *err, size_t errlen) {
    if (check_pre(p, err, errlen)) return -1;
    size_t plane = (size_t)p->size * p->size;
    unsigned char *crop = malloc(plane * 3);
    if (!crop) {
        snprintf(err, errlen, "preprocess: out of memory");
        return -1;
    }
    if (img_resize_crop_rgb8(rgb, w, h, p, crop, err, errlen)) {
        free(crop);
        return -1;
    }
    /* ToTensor then Normalize, each a float32 operation as in torch */
    for (int c = 0; c < 3; c++) {
        float m = p->mean[c], sd = p->std[c];
        float *o = out + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) {
            float v = (float)crop[i * 3 + c] / 255.0f;
            o[i] = (v - m) / sd;
        }
    }
    free(crop);
    return 0;
}

int img_load_tensor(const char *path, const IrPreprocess *p, float *out, char *err, size_t errlen) {
    unsigned char *rgb;
    int w, h;
    if (img_load_rgb8(path, &rgb, &w, &h, err, errlen)) return -1;
    int rc = img_preprocess(rgb, w, h, p, out, err, errlen);
    free(rgb);
    return rc;
}
