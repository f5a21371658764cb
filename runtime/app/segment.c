/* runtime/app/segment.c — zero-shot segmentation metrics.  A heat map is
 * turned into a mask the reference way (clip at 0, divide by the max,
 * threshold at the mean); pixel accuracy and the intersection and union of
 * both classes accumulate over the images, average precision is per image
 * (the heat as a score ranking pixels for the foreground) and averaged. */
#include <stdlib.h>

#include "vitint.h"

static int cmp_desc(const void *a, const void *b) {
    float x = ((const float *)a)[0], y = ((const float *)b)[0];
    return x < y ? 1 : x > y ? -1 : 0;
}

/* average precision of scores h against 0/1 truth m (ties broken by a stable order of equal scores as a block) */
static double average_precision(const float *h, const unsigned char *m, int npix) {
    float *pairs = malloc(sizeof(float) * 2 * (size_t)npix);
    if (!pairs) return 0;
    int pos = 0;
    for (int i = 0; i < npix; i++) { pairs[2 * i] = h[i]; pairs[2 * i + 1] = m[i] ? 1.0f : 0.0f; pos += m[i] != 0; }
    if (!pos) { free(pairs); return 0; }
    qsort(pairs, (size_t)npix, 2 * sizeof(float), cmp_desc);
    double ap = 0, tp = 0;
    for (int i = 0; i < npix;) { /* a block of equal scores counts as one threshold */
        int j = i;
        double btp = 0;
        while (j < npix && pairs[2 * j] == pairs[2 * i]) btp += pairs[2 * j++ + 1];
        tp += btp;
        ap += btp / pos * (tp / j);
        i = j;
    }
    free(pairs);
    return ap;
}

void vit_seg_add(vit_seg_stats *s, const float *heat, const unsigned char *mask, int npix) {
    float mx = 0;
    double mean = 0;
    for (int i = 0; i < npix; i++) mx = heat[i] > mx ? heat[i] : mx;
    for (int i = 0; i < npix; i++) mean += (heat[i] > 0 && mx > 0 ? heat[i] / mx : 0) / npix;
    for (int i = 0; i < npix; i++) {
        double v = heat[i] > 0 && mx > 0 ? heat[i] / mx : 0;
        int pred = v > mean, truth = mask[i] != 0;
        s->correct += pred == truth;
        s->pixels++;
        for (int c = 0; c < 2; c++) {
            s->inter[c] += (pred == c) && (truth == c);
            s->uni[c] += (pred == c) || (truth == c);
        }
    }
    s->ap_sum += average_precision(heat, mask, npix);
    s->images++;
}

void vit_seg_result(const vit_seg_stats *s, double *pixacc, double *miou, double *fg_iou, double *map) {
    double iou[2];
    for (int c = 0; c < 2; c++) iou[c] = s->uni[c] > 0 ? s->inter[c] / s->uni[c] : 0;
    *pixacc = s->pixels > 0 ? s->correct / s->pixels : 0;
    *miou = (iou[0] + iou[1]) / 2;
    *fg_iou = iou[1];
    *map = s->images ? s->ap_sum / s->images : 0;
}
