/* runtime/resize.c — PIL-exact resampling of packed RGB8 (Image.resize with
 * BILINEAR or BICUBIC and the default box).  Separable filter whose support
 * widens by the downscale factor, weights normalised then rounded to fixed
 * point with 22 fraction bits, a horizontal pass over only the rows the
 * vertical pass reads, clipped to uint8, then the vertical pass. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"

/* Pillow's x86-64 builds (baseline ISA) round every product in the weight
 * formulas on its own; no fused multiply-add here either, whatever -march. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define FRAC_BITS 22 /* 32 - 8 bits of result - 2 bits of headroom */

/* Weights for one axis: output sample i reads `cnt[i]` inputs from `first[i]`. */
typedef struct {
    int n;          /* output samples */
    int stride;     /* weights stored per output sample (>= every cnt) */
    int *first;     /* first input index read, per output sample */
    int *cnt;       /* number of inputs read, per output sample */
    int32_t *wt;    /* n * stride fixed-point weights */
} Taps;

/* triangle, support 1 */
static double tri_kernel(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Keys cubic with a = -0.5, support 2; written in the same operation order
 * as the reference so the doubles round identically */
static double cubic_kernel(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static void taps_free(Taps *t) {
    free(t->first);
    free(t->cnt);
    free(t->wt);
    memset(t, 0, sizeof *t);
}

/* Weights resampling `in_n` samples to `out_n`. 0 ok, -1 out of memory. */
static int taps_build(int in_n, int out_n, int interp, Taps *t) {
    double (*kernel)(double) = interp ? cubic_kernel : tri_kernel;
    double reach = interp ? 2.0 : 1.0;
    double step = (double)in_n / out_n;         /* input distance per output sample */
    double widen = step < 1.0 ? 1.0 : step;     /* kernel stretch when shrinking */
    double support = reach * widen;
    double inv_widen = 1.0 / widen;
    memset(t, 0, sizeof *t);
    t->n = out_n;
    t->stride = (int)ceil(support) * 2 + 1;
    t->first = malloc((size_t)out_n * sizeof *t->first);
    t->cnt = malloc((size_t)out_n * sizeof *t->cnt);
    t->wt = calloc((size_t)out_n * (size_t)t->stride, sizeof *t->wt);
    double *w = malloc((size_t)t->stride * sizeof *w);
    if (!t->first || !t->cnt || !t->wt || !w) {
        free(w);
        taps_free(t);
        return -1;
    }
    for (int i = 0; i < out_n; i++) {
        double centre = (i + 0.5) * step;
        int lo = (int)(centre - support + 0.5);
        int hi = (int)(centre + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_n) hi = in_n;
        int cnt = hi - lo;
        if (cnt > t->stride) cnt = t->stride; /* cannot happen; keeps writes in bounds */
        double total = 0.0;
        for (int j = 0; j < cnt; j++) {
            w[j] = kernel(((double)(lo + j) - centre + 0.5) * inv_widen);
            total += w[j];
        }
        int32_t *fx = t->wt + (size_t)i * t->stride;
        for (int j = 0; j < cnt; j++) {
            double v = total != 0.0 ? w[j] / total : w[j];
            double s = v * (double)(1 << FRAC_BITS);
            fx[j] = (int32_t)(v < 0 ? s - 0.5 : s + 0.5);
        }
        t->first[i] = lo;
        t->cnt[i] = cnt;
    }
    free(w);
    return 0;
}

/* rounded fixed-point sum to uint8: the accumulator starts at one half */
static unsigned char clip_u8(int64_t acc) {
    int64_t v = acc >> FRAC_BITS; /* floor, also for negative sums */
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* rows [y0, y0 + rows) of in (w wide) resampled along x into out (t->n wide) */
static void pass_x(const unsigned char *in, int w, int y0, int rows, const Taps *t, unsigned char *out) {
    for (int y = 0; y < rows; y++) {
        const unsigned char *src = in + ((size_t)(y0 + y) * w) * 3;
        unsigned char *dst = out + (size_t)y * t->n * 3;
        for (int x = 0; x < t->n; x++) {
            const int32_t *k = t->wt + (size_t)x * t->stride;
            const unsigned char *p = src + (size_t)t->first[x] * 3;
            int64_t r = 1 << (FRAC_BITS - 1), g = r, b = r;
            for (int j = 0; j < t->cnt[x]; j++, p += 3) {
                r += (int64_t)p[0] * k[j];
                g += (int64_t)p[1] * k[j];
                b += (int64_t)p[2] * k[j];
            }
            dst[3 * x + 0] = clip_u8(r);
            dst[3 * x + 1] = clip_u8(g);
            dst[3 * x + 2] = clip_u8(b);
        }
    }
}

/* in (w wide) resampled along y into out (t->n rows); row indices in t are
 * relative to in's first row plus `shift` */
static void pass_y(const unsigned char *in, int w, int shift, const Taps *t, unsigned char *out) {
    size_t rowlen = (size_t)w * 3;
    for (int y = 0; y < t->n; y++) {
        const int32_t *k = t->wt + (size_t)y * t->stride;
        const unsigned char *src = in + (size_t)(t->first[y] - shift) * rowlen;
        unsigned char *dst = out + (size_t)y * rowlen;
        for (size_t c = 0; c < rowlen; c++) {
            int64_t acc = 1 << (FRAC_BITS - 1);
            const unsigned char *p = src + c;
            for (int j = 0; j < t->cnt[y]; j++, p += rowlen) acc += (int64_t)*p * k[j];
            dst[c] = clip_u8(acc);
        }
    }
}

int img_resample_rgb8(const unsigned char *in, int w, int h, int ow, int oh, int interp,
                      unsigned char *out, char *err, size_t errlen) {
    if (w < 1 || h < 1 || ow < 1 || oh < 1 || w > 65535 || h > 65535 || ow > 65535 || oh > 65535) {
        snprintf(err, errlen, "resample: bad size %dx%d -> %dx%d", w, h, ow, oh);
        return -1;
    }
    if (interp != 0 && interp != 1) {
        snprintf(err, errlen, "resample: unknown interpolation %d (0 bilinear, 1 bicubic)", interp);
        return -1;
    }
    if (ow == w && oh == h) { /* PIL returns a copy */
        memcpy(out, in, (size_t)w * h * 3);
        return 0;
    }
    Taps tx, ty;
    if (taps_build(w, ow, interp, &tx)) {
        snprintf(err, errlen, "resample: out of memory");
        return -1;
    }
    if (taps_build(h, oh, interp, &ty)) {
        taps_free(&tx);
        snprintf(err, errlen, "resample: out of memory");
        return -1;
    }
    int rc = 0;
    if (ow == w) {
        pass_y(in, w, 0, &ty, out);
    } else if (oh == h) {
        pass_x(in, w, 0, h, &tx, out);
    } else {
        /* only the rows the vertical pass reads go through the horizontal one */
        int y0 = ty.first[0];
        int y1 = ty.first[oh - 1] + ty.cnt[oh - 1];
        unsigned char *mid = malloc((size_t)ow * (size_t)(y1 - y0) * 3);
        if (!mid) {
            snprintf(err, errlen, "resample: out of memory");
            rc = -1;
        } else {
            pass_x(in, w, y0, y1 - y0, &tx, mid);
            pass_y(mid, ow, y0, &ty, out);
            free(mid);
        }
    }
    taps_free(&tx);
    taps_free(&ty);
    return rc;
}
