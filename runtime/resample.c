/* runtime/resample.c — bicubic resize (torch F.interpolate semantics, bicubic,
 * align_corners=False, antialias off or on).  Each output pixel is a weighted
 * sum of source pixels, the weight being the product of one weight per axis;
 * per-axis taps are recomputed on the fly so that no memory is allocated.
 * All arithmetic is in double; results are rounded to float once. */
#include "resample.h"

#include <math.h>

/* One axis: the taps that produce output index o. */
typedef struct {
    int antialias;
    int64_t in;       /* source extent */
    double scale;     /* in / out */
    /* antialias=0: four taps, clamped indices, fixed coefficients */
    int64_t base;     /* floor of the real source index */
    double coef[4];
    /* antialias=1: contiguous window [first, first + n), normalised */
    int64_t first, n;
    double center, invscale, norm;
} Axis;

/* Keys cubic convolution kernel with parameter a (|x| < 1 and 1 <= |x| < 2). */
static double cubic1(double x, double a) { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0; }
static double cubic2(double x, double a) { return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a; }

/* The antialias filter: the same kernel with a = -0.5, zero outside |x| < 2. */
static double aa_filter(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return cubic1(x, a);
    if (x < 2.0) return cubic2(x, a);
    return 0.0;
}

static void axis_init(Axis *ax, int64_t in, int64_t out, int antialias) {
    ax->antialias = antialias;
    ax->in = in;
    ax->scale = (double)in / (double)out;
}

static void axis_at(Axis *ax, int64_t o) {
    if (!ax->antialias) {
        const double a = -0.75;
        double real = ax->scale * ((double)o + 0.5) - 0.5;
        int64_t b = (int64_t)floor(real);
        if (b > ax->in - 1) b = ax->in - 1;
        double t = real - (double)b;
        if (t < 0.0) t = 0.0;
        if (t > 1.0) t = 1.0;
        ax->base = b;
        ax->coef[0] = cubic2(t + 1.0, a);
        ax->coef[1] = cubic1(t, a);
        ax->coef[2] = cubic1(1.0 - t, a);
        ax->coef[3] = cubic2(2.0 - t, a);
        ax->first = 0;
        ax->n = 4;
        return;
    }
    double support = ax->scale >= 1.0 ? 2.0 * ax->scale : 2.0;
    ax->invscale = ax->scale >= 1.0 ? 1.0 / ax->scale : 1.0;
    ax->center = ax->scale * ((double)o + 0.5);
    int64_t lo = (int64_t)(ax->center - support + 0.5); /* truncation, as torch */
    int64_t hi = (int64_t)(ax->center + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > ax->in) hi = ax->in;
    ax->first = lo;
    ax->n = hi > lo ? hi - lo : 0;
    double total = 0.0;
    for (int64_t j = 0; j < ax->n; j++)
        total += aa_filter(((double)(j + lo) - ax->center + 0.5) * ax->invscale);
    ax->norm = total != 0.0 ? 1.0 / total : 1.0;
}

/* Tap k of the current output index: source index and weight. */
static int64_t axis_tap(const Axis *ax, int64_t k, double *w) {
    if (!ax->antialias) {
        int64_t i = ax->base - 1 + k;
        if (i < 0) i = 0;
        if (i > ax->in - 1) i = ax->in - 1;
        *w = ax->coef[k];
        return i;
    }
    int64_t i = ax->first + k;
    *w = aa_filter(((double)i - ax->center + 0.5) * ax->invscale) * ax->norm;
    return i;
}

#define CHUNK 64

void vitrt_resample(const float *src, float *dst, int64_t outer, int64_t ih, int64_t iw,
                    int64_t oh, int64_t ow, int64_t inner, int antialias) {
    if (outer <= 0 || ih <= 0 || iw <= 0 || oh <= 0 || ow <= 0 || inner <= 0) return;
    antialias = antialias != 0;
    Axis ay, ax;
    axis_init(&ay, ih, oh, antialias);
    axis_init(&ax, iw, ow, antialias);
    for (int64_t y = 0; y < oh; y++) {
        axis_at(&ay, y);
        for (int64_t x = 0; x < ow; x++) {
            axis_at(&ax, x);
            for (int64_t b = 0; b < outer; b++) {
                const float *sb = src + b * ih * iw * inner;
                float *d = dst + ((b * oh + y) * ow + x) * inner;
                for (int64_t c0 = 0; c0 < inner; c0 += CHUNK) {
                    int64_t cn = inner - c0 < CHUNK ? inner - c0 : CHUNK;
                    double acc[CHUNK] = {0};
                    for (int64_t ky = 0; ky < ay.n; ky++) {
                        double wy;
                        int64_t iy = axis_tap(&ay, ky, &wy);
                        for (int64_t kx = 0; kx < ax.n; kx++) {
                            double wx;
                            int64_t ix = axis_tap(&ax, kx, &wx);
                            double w = wy * wx;
                            const float *p = sb + (iy * iw + ix) * inner + c0;
                            for (int64_t c = 0; c < cn; c++) acc[c] += w * (double)p[c];
                        }
                    }
                    for (int64_t c = 0; c < cn; c++) d[c0 + c] = (float)acc[c];
                }
            }
        }
    }
}
