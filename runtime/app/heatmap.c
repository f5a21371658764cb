/* runtime/app/heatmap.c — from tokens to pixels, read off the graph: the
 * patch grid of the token axis (the reshape that merges two spatial axes
 * into tokens, and the concatenations that put class and register tokens in
 * front of the patches) and the token a pooled output reads.  Nothing here
 * knows a model: the same walk serves every spec. */
#include <stdlib.h>
#include <string.h>

#include "img.h"
#include "ir.h"
#include "vitint.h"

/* a reshape merging two adjacent source axes into one: its position, else -1 */
static int merged_axis(const IrGraph *g, const IrNode *n) {
    const IrShape *o = &n->shape, *s = &g->nodes[n->src[0]].shape;
    if (n->op != IR_OP_RESHAPE || s->rank != o->rank + 1) return -1;
    for (int p = 0; p < o->rank; p++) {
        int ok = s->ax[p].size * s->ax[p + 1].size == o->ax[p].size && s->ax[p].size > 1 && s->ax[p + 1].size > 1;
        for (int q = 0; ok && q < o->rank; q++)
            if (q != p) ok = o->ax[q].size == s->ax[q < p ? q : q + 1].size;
        if (ok) return p;
    }
    return -1;
}

int vit_model_token_grid(vit_ctx *ctx, const vit_model *m, int ntok, int *first, int *gh, int *gw) {
    const IrGraph *g = vit_model_graph(m);
    for (int r = 0; r < g->n; r++) {
        int p = merged_axis(g, &g->nodes[r]);
        if (p < 0) continue;
        const char *ax = g->nodes[r].shape.ax[p].name;
        int64_t size = g->nodes[r].shape.ax[p].size, off = 0;
        int cur = r;
        /* follow the tokens forward: through ops that keep the axis, and concatenations along it */
        while (size < ntok) {
            int next = -1;
            for (int j = cur + 1; j < g->n && next < 0; j++) {
                const IrNode *nd = &g->nodes[j];
                int k = ir_axis_find(&nd->shape, ax);
                if (k < 0) continue;
                for (int s = 0; s < nd->nsrc; s++)
                    if (nd->src[s] == cur) next = j;
                if (next < 0) continue;
                if (nd->op == IR_OP_CONCAT && !strcmp(nd->ax[0], ax)) {
                    if (nd->src[1] == cur) off += nd->shape.ax[k].size - size;
                    size = nd->shape.ax[k].size;
                } else if (nd->shape.ax[k].size != size) next = -2;
            }
            if (next < 0) break;
            cur = next;
        }
        if (size != ntok) continue;
        const IrShape *s = &g->nodes[g->nodes[r].src[0]].shape;
        *first = (int)off;
        *gh = (int)s->ax[p].size;
        *gw = (int)s->ax[p + 1].size;
        return VIT_OK;
    }
    return vit_ctx_fail(ctx, VIT_ERR_SHAPE, "no patch grid of %d tokens in this model's graph", ntok);
}

int vit_model_output_token(const vit_model *m, const char *name, int ntok) {
    const IrGraph *g = vit_model_graph(m);
    int start = ir_output_find(g, name);
    if (start < 0) return -1;
    /* breadth first from the output towards the input: the nearest SELECT over ntok tokens */
    int *queue = malloc(sizeof(int) * (size_t)g->n);
    unsigned char *seen = calloc((size_t)g->n, 1);
    int head = 0, tail = 0, found = -1;
    if (!queue || !seen) { free(queue); free(seen); return -1; }
    queue[tail++] = start;
    seen[start] = 1;
    while (head < tail && found < 0) {
        const IrNode *nd = &g->nodes[queue[head++]];
        if (nd->op == IR_OP_SELECT) {
            const IrShape *s = &g->nodes[nd->src[0]].shape;
            int k = ir_axis_find(s, nd->ax[0]);
            if (k >= 0 && s->ax[k].size == ntok) { found = (int)nd->i[0]; break; }
        }
        for (int s = 0; s < nd->nsrc; s++)
            if (!seen[nd->src[s]]) { seen[nd->src[s]] = 1; queue[tail++] = nd->src[s]; }
    }
    free(queue);
    free(seen);
    return found;
}

void vit_map_resize(const float *map, int mw, int mh, float *out, int w, int h) {
    for (int y = 0; y < h; y++) {
        float fy = ((float)y + 0.5f) * (float)mh / (float)h - 0.5f;
        fy = fy < 0 ? 0 : fy > (float)(mh - 1) ? (float)(mh - 1) : fy;
        int y0 = (int)fy, y1 = y0 + 1 < mh ? y0 + 1 : y0;
        float wy = fy - (float)y0;
        for (int x = 0; x < w; x++) {
            float fx = ((float)x + 0.5f) * (float)mw / (float)w - 0.5f;
            fx = fx < 0 ? 0 : fx > (float)(mw - 1) ? (float)(mw - 1) : fx;
            int x0 = (int)fx, x1 = x0 + 1 < mw ? x0 + 1 : x0;
            float wx = fx - (float)x0;
            out[(size_t)y * w + x] = (map[y0 * mw + x0] * (1 - wx) + map[y0 * mw + x1] * wx) * (1 - wy) +
                                     (map[y1 * mw + x0] * (1 - wx) + map[y1 * mw + x1] * wx) * wy;
        }
    }
}

int vit_model_view(vit_ctx *ctx, const vit_model *m, const char *path, int as_mask, vit_picture **out) {
    const IrGraph *g = vit_model_graph(m);
    char err[1024];
    unsigned char *rgb = NULL;
    int w, h, S = g->pre.size;
    *out = NULL;
    if (img_load_rgb8(path, &rgb, &w, &h, err, sizeof err)) return vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err);
    vit_picture *p = vit_picture_new(S, S);
    if (!p) { free(rgb); return vit_ctx_fail(ctx, VIT_ERR_MEM, "out of memory"); }
    if (img_resize_crop_rgb8(rgb, w, h, &g->pre, p->rgb, err, sizeof err)) {
        free(rgb);
        vit_picture_free(p);
        return vit_ctx_fail(ctx, VIT_ERR_IO, "%s", err);
    }
    free(rgb);
    if (as_mask)
        for (int i = 0; i < S * S * 3; i++) p->rgb[i] = p->rgb[i] >= 128 ? 255 : 0;
    *out = p;
    return VIT_OK;
}
