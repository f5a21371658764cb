/* ir/ir.h — the graph IR shared by the compiler (which builds it) and the
 * runtime (which runs it).  A Graph is a list of Nodes in topological order:
 * every source index is smaller than the node's own index.  Every tensor has
 * NAMED axes and is stored row-major in the order of its axes; nothing else
 * about layout exists.  Ops and their linearity class come from ops.def.
 *
 * Op semantics (both engines must agree on them exactly):
 *   INPUT      filled by the runtime (the preprocessed image, [c, h, w]).
 *   PARAM      checkpoint tensor `key`, stored shape `stored`, viewed
 *              row-major as `shape` (same element count).
 *   CONST      `cdata` holds numel floats.
 *   ADD..DIV   out axes = node shape; each source's axes are a subset of the
 *              out axes (any order); missing axes broadcast (stride 0).
 *   SCALE      x * f[0] + f[1].
 *   unary      elementwise, same shape as the source.
 *   SOFTMAX    along axis ax[0] (any position), max-subtracted.
 *   LAYERNORM  over axis ax[0]: (x - mean) / sqrt(var + f[0]) (biased var),
 *              then * gamma + beta when src[1] / src[2] are present
 *              (gamma, beta have the single axis ax[0]).
 *   RMSNORM    x / sqrt(mean(x^2) + f[0]) * gamma.
 *   SUM, MEAN  over axes ax[0..nax); out keeps the other axes in order.
 *   CONTRACT   out[o] = sum over axes ax[0..nax) of a[...] * b[...]; axes
 *              shared by a and b that are not summed are batch axes.  Out
 *              axes: a's non-summed axes in a's order, then b's axes that are
 *              neither in a nor summed, in b's order.
 *   PERMUTE    same axes as the source, reordered as in the node's shape.
 *   RESHAPE    same data (row-major), the node's axes.
 *   SELECT     index i[0] of source axis ax[0]; that axis removed.
 *   SLICE      source axis ax[0] restricted to [i[0], i[0] + size).
 *   CONCAT     src[0] then src[1] along ax[0]; other axes equal, same order.
 *   GATHER     src0 with its axis ax[0] replaced, in place, by the axes of
 *              src1, whose values (integers stored as floats) index ax[0].
 *   ARGMAX     index (as a float) of the maximum along ax[0]; axis removed.
 *   CMP        1.0 where `a OP b` holds, else 0.0; i[0]: 0 ==, 1 !=, 2 <,
 *              3 <=, 4 >, 5 >=; named-axis broadcast as ADD.
 *   WHERE      cond != 0 ? a : b (src0 cond, src1 a, src2 b), broadcast.
 *   PAD        axis ax[0] grown by i[0] before and i[1] after, filled f[0].
 *   ROLL       out[k] = in[(k - i[0]) mod n] along ax[0] (torch.roll).
 *   CONV2D     x's axes ax[0], ax[1], ax[2] are channels C, height H, width
 *              W; w is [O, C/g, KH, KW] (positional); groups i[2], strides
 *              i[0] (H) and i[1] (W), no padding (PAD first).  Out: x's axes
 *              with C renamed/resized to the node's, H and W to
 *              (H - KH) / sH + 1 and (W - KW) / sW + 1.
 *   RESAMPLE   source axes ax[0], ax[1] (adjacent, in that order) resized to
 *              the node's sizes, bicubic (a = -0.5 when i[0] = 1, antialias as
 *              torch's antialias=True; a = -0.75 when i[0] = 0),
 *              align_corners = False.
 */
#ifndef VIT_IR_H
#define VIT_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IR_MAX_RANK 8
#define IR_MAX_SRC 4
/* Size limits every graph obeys (the compiler refuses a spec, the loader a
 * module, that passes them): an axis extent, a tensor's element count, the
 * number of nodes.  With them no size sum or product in the passes overflows. */
#define IR_MAX_DIM (((int64_t)1 << 31) - 1)
#define IR_MAX_NUMEL ((int64_t)1 << 36)
#define IR_MAX_NODES (1 << 24)

enum ir_op {
#define OP(name, nsrc, cls, linsrc) IR_OP_##name,
#include "ops.def"
#undef OP
    IR_OP_COUNT
};

enum lin_class { LIN_LEAF, LIN_AFFINE, LIN_FROZEN, LIN_BILIN, LIN_NONE, LIN_COUNT };

typedef struct {
    const char *name; /* op name as written in dumps */
    int nsrc;         /* number of sources, -1 when variable */
    enum lin_class lin; /* linearity class: the one declaration of it */
    unsigned linsrc;    /* bit s set: contributions may flow through source s */
} IrOpInfo;

extern const IrOpInfo ir_op_info[IR_OP_COUNT];
const char *ir_lin_name(enum lin_class c);

typedef struct {
    const char *name; /* axis name, e.g. "tok", "ch", "head" */
    int64_t size;     /* extent */
} IrAxis;

typedef struct {
    int rank;                /* number of axes */
    IrAxis ax[IR_MAX_RANK];  /* outermost first; row-major storage */
} IrShape;

typedef struct {
    int file;  /* index into Graph.files (-1: none) */
    int line;  /* 1-based */
    int col;   /* 1-based */
} IrLoc;

typedef struct {
    enum ir_op op;
    int nsrc;                 /* number of sources */
    int src[IR_MAX_SRC];      /* source node indices (< own index) */
    IrShape shape;            /* output shape */
    int nax;                  /* number of axis-name attributes */
    const char *ax[IR_MAX_RANK]; /* axis attributes (over / along) */
    int64_t i[4];             /* integer attributes */
    float f[4];               /* float attributes */
    const char *key;          /* PARAM: checkpoint key; else NULL */
    IrShape stored;           /* PARAM: stored shape (axis names unused) */
    const char *scope;        /* parameter scope of the block that made it */
    const char *label;        /* optional name (the DSL variable) */
    float *cdata;             /* CONST: numel floats */
    IrLoc loc;                /* where in the sources it came from */
    int64_t offset;           /* memory plan: float offset in the arena, -1 if none */
} IrNode;

typedef struct {
    const char *name; /* output name, e.g. "repr", "logits" */
    int node;         /* node index */
} IrOutput;

typedef struct {
    int size;              /* crop size (input is [3, size, size]) */
    int resize;            /* shorter side resized to this before the crop */
    int interp;            /* 0 bilinear, 1 bicubic */
    float mean[3], std[3]; /* normalisation per channel */
} IrPreprocess;

typedef struct IrGraph {
    IrNode *nodes;     /* nodes[0..n) in topological order */
    int n, cap;
    IrOutput *outputs; /* named outputs */
    int nout, capout;
    int input;         /* index of the INPUT node, -1 if none */
    IrPreprocess pre;  /* image preprocessing */
    const char *name;  /* model name */
    const char **files; /* source file names for IrLoc.file */
    int nfiles;
    char **unused;     /* key prefixes the spec declares unused */
    int nunused;
    int64_t arena_floats; /* memory plan: arena size in floats */
    const char *meta;  /* JSON text the passes attach (e.g. the decomposition's components), or NULL */
    /* every string and array above is owned by the graph's pool */
    struct IrPool *pool;
} IrGraph;

/* ir.c */
IrGraph *ir_graph_new(void);
void ir_graph_free(IrGraph *g);
void *ir_alloc(IrGraph *g, size_t n);            /* zeroed, owned by g */
const char *ir_strdup(IrGraph *g, const char *s); /* owned by g */
int ir_node_add(IrGraph *g, const IrNode *proto); /* returns the index */
void ir_output_add(IrGraph *g, const char *name, int node);
int ir_output_find(const IrGraph *g, const char *name); /* node, -1 if absent */
int64_t ir_numel(const IrShape *s);
/* ir_numel checked against the limits above: -1 when the rank is outside
 * [0, IR_MAX_RANK], an extent outside [0, IR_MAX_DIM] or the product above IR_MAX_NUMEL */
int64_t ir_numel_checked(const IrShape *s);
int ir_axis_find(const IrShape *s, const char *name); /* -1 if absent */
void ir_shape_str(const IrShape *s, char *buf, size_t n); /* "[tok=197, ch=768]" */
void ir_strides(const IrShape *s, int64_t *st);   /* row-major strides */
/* Strides of `src` laid over the axes of `out` (0 where src lacks the axis). */
void ir_bcast_strides(const IrShape *out, const IrShape *src, int64_t *st);
void ir_dump(const IrGraph *g, void *FILE_out); /* text dump, one node a line */

/* module.c: the .vitm file.  Layout: "VITM" magic, u32 format version, then
 * a length-prefixed serialised graph, then the length-prefixed LLVM bitcode
 * (length 0 when absent).  All integers little-endian. */
#define VITM_VERSION 2u
int ir_module_write(const char *path, const IrGraph *g, const void *bc, size_t bclen,
                    char *err, size_t errlen);
/* returns 0 on success; *bc is malloc'd (NULL when the module has none) */
int ir_module_read(const char *path, IrGraph **g, void **bc, size_t *bclen,
                   char *err, size_t errlen);

#endif
