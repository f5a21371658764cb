/* runtime/vit.h — the public runtime API (what vitrun uses and others link).
 * A context holds the last error; a model is a loaded .vitm module bound to
 * a checkpoint.  Every call returns a status; nothing here exits. */
#ifndef VIT_H
#define VIT_H

#include <stddef.h>
#include <stdint.h>

#define VIT_API __attribute__((visibility("default")))

/* VIT_ERR_INTERRUPTED: a long call stopped early when its caller asked (the
 * work done so far saved where the call says, e.g. vit_align_train). */
enum vit_status { VIT_OK = 0, VIT_ERR_IO, VIT_ERR_FORMAT, VIT_ERR_SHAPE, VIT_ERR_MEM, VIT_ERR_ARG, VIT_ERR_INTERRUPTED, VIT_ERR_COUNT };
enum vit_engine { VIT_ENGINE_JIT = 0, VIT_ENGINE_INTERP, VIT_ENGINE_COUNT };

typedef struct vit_ctx vit_ctx;
typedef struct vit_model vit_model;
struct IrGraph;

typedef struct {
    int allow_missing; /* run with parameters absent from the file (left at zero) */
    int allow_unused;  /* accept keys in the file that the spec does not use */
} vit_bind_opts;

VIT_API vit_ctx *vit_ctx_new(void);
VIT_API void vit_ctx_free(vit_ctx *ctx);
VIT_API const char *vit_last_error(const vit_ctx *ctx);

/* Load a module (.vitm); checks the format version. */
VIT_API int vit_model_load(vit_ctx *ctx, const char *path, vit_model **out);
VIT_API void vit_model_free(vit_model *m);
/* A model from a graph and its bitcode (both taken over, freed with the model). */
VIT_API int vit_model_from_graph(vit_ctx *ctx, struct IrGraph *g, void *bc, size_t bclen, vit_model **out);
VIT_API const struct IrGraph *vit_model_graph(const vit_model *m);

/* Bind a .safetensors checkpoint: every key the module needs must be present
 * with the stored shape; every key in the file must be used (or declared
 * `unused` by the spec).  All problems are listed in the error message. */
VIT_API int vit_model_bind(vit_ctx *ctx, vit_model *m, const char *weights, const vit_bind_opts *opts);

/* Runtime parameters (keys starting with "__", e.g. the decomposition's
 * "__directions") are not read from the checkpoint: set them here.  The data
 * is borrowed and must outlive the runs. */
VIT_API int vit_model_set_param(vit_ctx *ctx, vit_model *m, const char *key, const float *data, int64_t numel);

/* Prepare an engine (JIT-compiles on first use). */
VIT_API int vit_model_prepare(vit_ctx *ctx, vit_model *m, enum vit_engine engine);

/* Run n inputs (each the model's input numel floats, contiguous) with
 * `threads` threads; outputs[k] receives n * numel(output k) floats for the
 * k-th output in the module's order. */
VIT_API int vit_model_run(vit_ctx *ctx, vit_model *m, enum vit_engine engine, const float *input, int n,
                          int threads, float **outputs);

VIT_API int vit_model_noutputs(const vit_model *m);
VIT_API const char *vit_model_output_name(const vit_model *m, int k);
VIT_API int64_t vit_model_output_numel(const vit_model *m, int k);
VIT_API int64_t vit_model_input_numel(const vit_model *m);

/* Text embeddings (text.c) for a text model: input one sequence of token ids
 * [tok = N] (as floats), output `embedding` (or its only output), ids
 * looked up in a table of one row per vocabulary entry (else VIT_ERR_SHAPE).
 * Each text is tokenized with tok (runtime/bpe.h, truncated to N); out
 * receives n rows of the embedding's size, each L2-normalised.  With
 * ntemplates > 0, each template has "{}" replaced by the text, every
 * template's embedding is L2-normalised, they are averaged and the mean
 * L2-normalised (CLIP's zero-shot classifier).  opts may be NULL (JIT, every
 * core). */
struct BpeTok;
typedef struct {
    enum vit_engine engine; /* VIT_ENGINE_JIT (0) or VIT_ENGINE_INTERP */
    int threads;            /* 0: the cores available */
} vit_text_opts;
VIT_API int vit_embed_texts(vit_ctx *ctx, vit_model *m, const struct BpeTok *tok, const char *const *texts, int n,
                            const char *const *templates, int ntemplates, const vit_text_opts *opts, float *out);

/* ======================================================================
 * The applications (runtime/app/), one section per file.  They derive the
 * decomposition they need from a module on demand (the compiler's passes
 * are linked in), so a plain `vitc compile` module serves all of them.
 * ====================================================================== */

/* ---- decomposition (runtime/app/decomp.c) ---- */
typedef struct {
    const char *output; /* the output to decompose; NULL: "repr" */
    const char *split;  /* axes kept apart, comma-separated ("head", "head,token"); NULL: none */
    const char *from;   /* first decomposed layer (ordinal or scope); NULL: all */
    const char *bias;   /* "equal" (default: constants shared, the reference convention) or "separate" */
    const char *ln;     /* "exact" (default), "reference" or "center" */
    int directions;     /* k > 0: output "proj.NAME" [comp, k] on the k rows of the runtime parameter
                           "__directions" (set with vit_model_set_param) instead of "contrib.NAME" */
    const char *attention; /* an axis name (e.g. the key-token axis): every SOFTMAX over it also becomes an
                              output "softmax.SCOPE" (its own axes), in graph order; NULL: none */
} vit_decomp_opts;

/* Load a module and derive a decomposition of one output into it (unless the
 * module already holds one with the same options).  The model's outputs then
 * include "contrib.NAME" [comp, ...NAME's axes] (or "proj.NAME" [comp, k])
 * beside NAME itself; bind weights and run it as any model.  opts may be NULL
 * (head-level split of "repr" is NOT implied: NULL means no split). */
VIT_API int vit_model_load_decomposed(vit_ctx *ctx, const char *module, const vit_decomp_opts *opts, vit_model **out);
/* The components' JSON sidecar of a decomposed model ({"components": [{"index", "name",
 * "kind", "scope", "layer", "head", "token", ...}], "options": ...}), or NULL. */
VIT_API const char *vit_model_components_json(const vit_model *m);
/* Index of the output called name, or -1. */
VIT_API int vit_model_output_find(const vit_model *m, const char *name);
/* Read and preprocess one image file (JPEG/PNG) the way the module's spec
 * says (timm / OpenCLIP eval transform) into out (vit_model_input_numel floats). */
VIT_API int vit_model_read_image(vit_ctx *ctx, const vit_model *m, const char *path, float *out);

/* ---- component index (runtime/app/index.c) ----
 * A folder of images decomposed once and stored: DIR/index.json (the
 * manifest) and DIR/shard-NNNNN.safetensors (one per chunk of the sorted
 * image list: `contrib` [n, ncomp, dim] F32, `output` [n, dim] F32, `images`
 * [n] I64 = positions in the folder's image list).  The format is in
 * README.md ("Component index").  An index may be partial (an interrupted
 * build, one --shard of several): it then exposes the images it holds. */
typedef struct vit_index vit_index;

/* Open DIR (reads index.json; shards are read on demand). */
VIT_API int vit_index_open(vit_ctx *ctx, const char *dir, vit_index **out);
VIT_API void vit_index_close(vit_index *ix); /* NULL is fine */
/* Images indexed (complete ones; i in vit_index_* calls is 0 .. count-1, in sorted path order). */
VIT_API int64_t vit_index_count(const vit_index *ix);
/* Images in the indexed folder; count < total for a partial index or one shard. */
VIT_API int64_t vit_index_total(const vit_index *ix);
VIT_API int vit_index_ncomp(const vit_index *ix); /* components */
VIT_API int vit_index_dim(const vit_index *ix);   /* numel of the decomposed output */
/* The decomposition sidecar, as vit_model_components_json ({"components": [...], "options": ...}). */
VIT_API const char *vit_index_components_json(const vit_index *ix);
/* Content hash of the module + weights + decomposition options (32 hex digits):
 * consumers refuse an index from another module (vit_index_check_module). */
VIT_API const char *vit_index_module_id(const vit_index *ix);
/* The module and weights paths and the folder as given to the build (informative). */
VIT_API const char *vit_index_module_path(const vit_index *ix);
VIT_API const char *vit_index_weights_path(const vit_index *ix);
VIT_API const char *vit_index_source(const vit_index *ix);
/* Content hash of the weights file the index was built with (as vit_file_hash); NULL when not recorded. */
VIT_API const char *vit_index_weights_hash(const vit_index *ix);
/* The decomposition options the index was built with (load the same model with them). */
VIT_API const vit_decomp_opts *vit_index_decomp_opts(const vit_index *ix);
/* Image i's path relative to the indexed folder; NULL when out of range. */
VIT_API const char *vit_index_image_path(const vit_index *ix, int64_t i);
/* Image i's position in the folder's sorted image list (0 .. total-1); -1 when out of range. */
VIT_API int64_t vit_index_image_id(const vit_index *ix, int64_t i);
/* ImageFolder class of image i (index into the class names), or -1 (no classes / out of range).
 * Classes exist when every image sits in a first-level folder; they are those folders, sorted. */
VIT_API int vit_index_label(const vit_index *ix, int64_t i);
VIT_API int vit_index_nclasses(const vit_index *ix);
VIT_API const char *vit_index_class_name(const vit_index *ix, int c); /* NULL when out of range */
/* Copy images first .. first+count-1: contrib [count, ncomp, dim] and output
 * [count, dim] (either may be NULL).  Safe to call from several threads. */
VIT_API int vit_index_read(vit_ctx *ctx, const vit_index *ix, int64_t first, int64_t count, float *contrib,
                           float *output);

/* The id an index of this module, weights and options would have (opts NULL:
 * no split, "repr"); id receives 32 hex digits and a NUL. */
#define VIT_MODULE_ID_LEN 33
VIT_API int vit_module_id(vit_ctx *ctx, const char *module, const char *weights, const vit_decomp_opts *opts,
                          char id[VIT_MODULE_ID_LEN]);
/* Content hash of a file (32 hex digits and a NUL), as an index records its module and weights. */
VIT_API int vit_file_hash(vit_ctx *ctx, const char *path, char hex[VIT_MODULE_ID_LEN]);
/* VIT_OK when the index was built from this module file and these weights
 * (with its own decomposition options); else VIT_ERR_ARG and a message
 * saying which differs. */
VIT_API int vit_index_check_module(vit_ctx *ctx, const vit_index *ix, const char *module, const char *weights);

/* Build (or continue building) an index of every JPEG / PNG under `images`
 * (recursive, sorted by path, dot files skipped) into the directory `out`.
 * Resumable: shards are written atomically, then the manifest; a rerun with
 * the same arguments skips the chunks already in the manifest.  Images that
 * fail to decode are skipped, reported through `warn` and recorded in the
 * manifest.  `out` must not exist, be empty, or hold an index of the same
 * module, folder, chunk size and shard. */
typedef struct {
    vit_decomp_opts decomp; /* what to decompose (the index holds contrib.OUTPUT and OUTPUT) */
    enum vit_engine engine;
    int threads;            /* 0: the cores available */
    int batch;              /* images per run; 0: 16 */
    int chunk;              /* images per shard file; 0: 256 */
    int shard_i, shard_n;   /* this build indexes chunks k with k % shard_n == shard_i; 0/0 means 0/1 */
    /* called after every batch with images done and to do in this build; a non-zero
     * return stops the build at once (the unfinished chunk is dropped, nothing else lost) */
    int (*progress)(void *ud, int64_t done, int64_t todo);
    void (*warn)(void *ud, const char *msg); /* a skipped image; NULL: silent */
    void *ud;
} vit_index_opts;

typedef struct {
    int64_t total;     /* images in the folder */
    int64_t mine;      /* images in this shard's chunks */
    int64_t before;    /* of those, indexed by earlier runs (resumed) */
    int64_t adopted;   /* of those, in shards written but not yet listed when a run was cut off */
    int64_t done;      /* indexed by this run (skipped ones included) */
    int64_t skipped;   /* unreadable images skipped by this run */
    int stopped;       /* 1: stopped by the progress callback */
    double t_decode;   /* seconds: reading + preprocessing (reader thread, overlaps the forward pass) */
    double t_forward;  /* seconds: forward pass + decomposition */
    double t_write;    /* seconds: writing shards and the manifest */
    double t_wait;     /* seconds the forward pass waited for images */
    double t_wall;     /* seconds from the first image to the last write */
} vit_index_stats;

VIT_API int vit_index_build(vit_ctx *ctx, const char *module, const char *weights, const char *images,
                            const char *out, const vit_index_opts *opts, vit_index_stats *stats);
/* Join shard indexes of the same module and folder into `out` (absent or
 * empty): every chunk must be in exactly one input. */
VIT_API int vit_index_merge(vit_ctx *ctx, const char *out, const char *const *inputs, int n);

/* ---- alignment, descriptions and scores (runtime/app/align.c, describe.c, score.c) ---- */
/* Plain row-major float arrays: contributions [n, ncomp, dim] (one image's
 * components contiguous), CLIP image embeddings (targets) [n, edim], text
 * embeddings [t, edim] (L2-normalised rows, vit_embed_texts).  "Aligned"
 * contributions are [n, ncomp, edim]: component c of image i mapped into
 * CLIP's image space. */

/* COMPALIGN (PAPER.md 2): one map W_c [dim, edim] per component and one
 * shared bias b [edim]; f_c(x) = x_c W_c + b / ncomp, so the aligned
 * components sum to (sum_c x_c W_c) + b.  shared: one W for all components
 * (the ablation's baseline). */
typedef struct vit_aligner {
    int ncomp, dim, edim; /* components, model dimension, CLIP dimension */
    int shared;           /* 1: w holds one map used by every component */
    float *w;             /* [shared ? 1 : ncomp, dim, edim] */
    float *b;             /* [edim] */
    char **names;         /* [ncomp] component names from the file's metadata, or NULL (vit_aligner_load) */
} vit_aligner;

typedef struct {
    double lambda;  /* orthogonality weight: loss += lambda * edim * mean_{c,i,j} (W_c^T W_c - I)^2 (1) */
    double lr;      /* Adam learning rate (3e-4) */
    double wd;      /* weight decay, added to the gradient as torch.optim.Adam does (1e-6) */
    int epochs;     /* passes over the training part (2) */
    int batch;      /* images per step (32) */
    int patience;   /* stop after this many steps without a new held-out minimum (50); 0: never */
    double holdout; /* fraction of the images held out for early stopping (0.1), the last of a seeded shuffle */
    int shared;     /* one map for every component (baseline) */
    uint64_t seed;  /* initialisation (randn * 0.02) and shuffling */
    void (*progress)(void *ud, int64_t step, int64_t steps); /* optional, called after each step */
    /* optional, polled after each step: nonzero stops training with the
     * state saved (when checkpoint is set) and VIT_ERR_INTERRUPTED */
    int (*interrupted)(void *ud);
    void *ud;
    /* Resumable training (NULL: none).  The file holds the whole training
     * state (maps, best maps, Adam moments, RNG, order, counters; bit exact)
     * and a fingerprint of the inputs and options.  When it exists, training
     * continues from it, ending bit for bit where an uninterrupted run
     * ends; a checkpoint of other inputs or options is refused
     * (VIT_ERR_ARG, naming what differs).  It is rewritten atomically at
     * most every checkpoint_every seconds (and no more often than keeps
     * the writes to a tenth of the time) and when interrupted; the caller
     * removes it once the result is saved. */
    const char *checkpoint;
    double checkpoint_every; /* seconds (2; 0: as often as the tenth allows) */
} vit_align_opts;

typedef struct {
    int ntrain, nheldout; /* images used for steps / for early stopping */
    int steps, best_step; /* steps taken; the step whose weights are returned */
    double heldout_cos;   /* mean 1 - cos(sum_c f_c, target) on the held-out part at best_step */
    double ortho;         /* edim * mean (W^T W - I)^2 of the returned maps */
    int resumed_step;     /* the step a checkpoint continued from (0: from the start) */
} vit_align_report;

VIT_API void vit_align_opts_default(vit_align_opts *o);
/* Train an aligner from contributions [n, ncomp, dim] and targets [n, edim];
 * rep may be NULL.  Deterministic for given inputs, options and OpenBLAS
 * thread count. */
VIT_API int vit_align_train(vit_ctx *ctx, const float *contrib, const float *targets, int n, int ncomp, int dim, int edim,
                            const vit_align_opts *opts, vit_aligner **out, vit_align_report *rep);
/* A zero aligner (NULL when out of memory); the identity (dim = edim, b = 0),
 * the aligner of a CLIP model's own components. */
VIT_API vit_aligner *vit_aligner_new(int ncomp, int dim, int edim, int shared);
VIT_API vit_aligner *vit_aligner_identity(int ncomp, int dim);
VIT_API void vit_aligner_free(vit_aligner *a);
/* VIT_ERR_SHAPE with a message unless the aligner takes ncomp components of dim. */
VIT_API int vit_aligner_fits(vit_ctx *ctx, const vit_aligner *a, int ncomp, int dim);
/* out [n, ncomp, edim] = the aligned contributions. */
VIT_API int vit_aligner_apply(vit_ctx *ctx, const vit_aligner *a, const float *contrib, int n, int ncomp, int dim, float *out);
/* Mean over images of 1 - cos(sum_c aligned_c, target). */
VIT_API double vit_align_cosine_distance(const float *aligned, const float *targets, int n, int ncomp, int edim);
/* Safetensors: "weights" [ncomp or 1, dim, edim], "bias" [edim]; metadata
 * "aligner" = a JSON object (ncomp, dim, edim, shared, plus meta_json's
 * members when given, e.g. the component names and training options). */
VIT_API int vit_aligner_save(vit_ctx *ctx, const vit_aligner *a, const char *path, const char *meta_json);
VIT_API int vit_aligner_load(vit_ctx *ctx, const char *path, vit_aligner **out);

/* TextSpan (PAPER.md 3; Gandelsman et al.'s replace_with_iterative_removal)
 * on one component's aligned contributions: rows data[i * stride .. + edim],
 * i < n.  The texts [t, edim] are projected on the span of the top `rank`
 * right singular vectors of the (uncentred) data, the data is centred, then
 * k times: the text whose projections have the largest std is picked, and its
 * direction is removed from the data and from every text.  pick[k] gets the
 * text indices, var[k] the fraction of the component's centred variance each
 * pick removed. */
VIT_API int vit_textspan(vit_ctx *ctx, const float *data, int n, int64_t stride, int edim, const float *texts, int t,
                         int rank, int k, int *pick, double *var);

/* The scoring function (PAPER.md 4, variance_attributed): for a feature of k
 * >= 2 description embeddings desc [k, edim], score[c] = mean over the QR
 * basis directions of mean(T S_c) / (std(T) std(S_c)) with T the projections
 * of sum_c f_c, S_c those of f_c, both centred over images, unbiased std. */
VIT_API int vit_score_feature(vit_ctx *ctx, const float *aligned, int n, int ncomp, int edim, const float *desc, int k,
                              double *score);
/* variance_explained (PAPER.md 4; the reference chooses heatmap heads by
 * it): explained[c] = the fraction of component c's variance over images
 * (centred) that lies in the span of the k >= 1 descriptions desc [k, edim]. */
VIT_API int vit_variance_explained(vit_ctx *ctx, const float *aligned, int n, int ncomp, int edim, const float *desc, int k,
                                   double *explained);
/* Spearman's rank correlation of a and b (ties get their average rank, as
 * torchmetrics); NaN when either is constant. */
VIT_API double vit_spearman(const double *a, const double *b, int n);
/* The paper's check (image_retrieval_from_text_quant.py): for feature f,
 * description j and component c, rho[f][j][c] = correlation over images of
 * f_c . desc_j with CLIP's own image . desc_j; its mean over j is ranked
 * against score[f][c]: within[0] = mean over components of the Spearman
 * correlation across features, between[f] = Spearman across components.
 * feats[f] points to k[f] rows of edim; clip [n, edim]. */
VIT_API int vit_score_validate(vit_ctx *ctx, const float *aligned, const float *clip, int n, int ncomp, int edim,
                               const float *const *feats, const int *k, int nfeat, double *within, double *between);

/* Retrieval (runtime/app/retrieve.c). */
/* Indices 0..n-1 ordered by descending value (stable). */
VIT_API void vit_rank_desc(const double *v, int n, int *order);
/* Components for property i among nfeat (image query, PAPER.md 5):
 * v[i][c] - max(0, max_{j != i} v[j][c]) into out[c]; v is [nfeat, ncomp]. */
VIT_API void vit_property_scores(const double *v, int nfeat, int ncomp, int i, double *out);
/* Text query: score[x] = (sum_{c in comps} f_c(x)) . query for aligned
 * [n, ncomp, edim] and query [edim]. */
VIT_API int vit_retrieve_text(vit_ctx *ctx, const float *aligned, int n, int ncomp, int edim, const int *comps, int ncomps,
                              const float *query, double *score);
/* Image query: score[x] = cos(sum_{c in comps} x_c, sum_{c in comps} probe_c)
 * on the un-aligned contributions [n, ncomp, dim] and probe [ncomp, dim]. */
VIT_API int vit_retrieve_image(vit_ctx *ctx, const float *contrib, int n, int ncomp, int dim, const int *comps, int ncomps,
                               const float *probe, double *score);

/* ---- retrieval, heatmaps, ablation, segmentation (runtime/app/retrieve.c, heatmap.c, ablate.c, segment.c) ---- */

/* Pictures (draw.c): packed RGB8 canvases, rows top to bottom, drawn with a
 * built-in 5 x 7 bitmap font (printable ASCII; other bytes draw as '?') and
 * written as PNG atomically (temporary file, then rename). */
typedef struct {
    int w, h;           /* size in pixels */
    unsigned char *rgb; /* w * h * 3 bytes */
} vit_picture;

#define VIT_FONT_W 6 /* advance per character at scale 1 (5 columns + 1 space) */
#define VIT_FONT_H 8 /* line height at scale 1 (7 rows + 1 space) */

VIT_API vit_picture *vit_picture_new(int w, int h); /* white; NULL when out of memory or w, h < 1 */
VIT_API void vit_picture_free(vit_picture *p);
VIT_API int vit_picture_write_png(vit_ctx *ctx, const vit_picture *p, const char *path);
/* Read a PNG or JPEG file into a picture (VIT_ERR_IO with a message when it cannot). */
VIT_API int vit_picture_read(vit_ctx *ctx, const char *path, vit_picture **out);

/* Drawing clips to the canvas. */
VIT_API void vit_draw_fill(vit_picture *p, int x, int y, int w, int h, const unsigned char rgb[3]);
VIT_API void vit_draw_line(vit_picture *p, int x0, int y0, int x1, int y1, const unsigned char rgb[3]);
/* Text with its top-left corner at (x, y), each font pixel scale x scale; returns the width drawn. */
VIT_API int vit_draw_text(vit_picture *p, int x, int y, const char *s, const unsigned char rgb[3], int scale);
VIT_API int vit_draw_text_width(const char *s, int scale);
/* An RGB8 image (sw x sh) resampled bilinearly to dw x dh at (x, y). */
VIT_API void vit_draw_image(vit_picture *p, int x, int y, int dw, int dh, const unsigned char *rgb, int sw, int sh);

/* A grid of n images, `cols` a row, each scaled to fit a cell x cell square,
 * with its caption (may be NULL) under it, cut to the cell's width (at most
 * two lines), and an optional title on top. */
VIT_API vit_picture *vit_draw_grid(const vit_picture *const *images, const char *const *captions, int n, int cols,
                                   int cell, const char *title);

/* A signed map (mw x mh, rows top to bottom) over an image: resized
 * bilinearly to the image, scaled by `range` (<= 0: the map's max |value|),
 * red where positive, blue where negative, opacity growing with |value|;
 * `scale` enlarges the image (nearest), a colour bar with its values is put
 * on the right and the title (may be NULL) on top. */
VIT_API vit_picture *vit_draw_heatmap(const vit_picture *image, const float *map, int mw, int mh, float range, int scale,
                                      const char *title);

/* Line charts: axes with ticks at round values, one coloured line with
 * markers per series, a legend, a title and axis labels. */
typedef struct {
    const char *name; /* legend entry */
    const float *x, *y;
    int n;            /* points */
} vit_series;
typedef struct {
    const char *title, *xlabel, *ylabel; /* may be NULL */
    const vit_series *series;
    int nseries;
    int w, h;          /* picture size (0: 640 x 420) */
    float ymin, ymax;  /* y range; equal: from the data */
} vit_chart;
VIT_API vit_picture *vit_draw_chart(const vit_chart *c);

/* Ablation (ablate.c).  For n images with output y [n, dim] and its
 * components contrib [n, ncomp, dim]: out = y - sum of the selected
 * components (zero-ablation), plus their mean over a reference set
 * mean [ncomp, dim] when mean is not NULL (mean-ablation). */
VIT_API void vit_ablate(const float *y, const float *contrib, int n, int ncomp, int dim, const unsigned char *sel,
                        const float *mean, float *out);
/* How well each component separates the values of a label (label[i] in
 * [0, nvalues), n images): between-value over within-value scatter of its
 * contribution vectors, tr(S_B) / tr(S_W), into score [ncomp]. */
VIT_API int vit_separation(vit_ctx *ctx, const float *contrib, int n, int ncomp, int dim, const int *label, int nvalues,
                           float *score);
/* Linear probes: multinomial logistic regression of labels y [n] in
 * [0, classes) on x [n, dim], on standardised features by full-batch
 * gradient descent (epochs, learning rate, L2 weight; 0: 500, 0.5, 1e-3),
 * returned in the original feature space: w [classes, dim], b [classes]. */
typedef struct {
    int epochs;
    float lr, l2;
} vit_probe_opts;
VIT_API int vit_probe_train(vit_ctx *ctx, const float *x, const int *y, int n, int dim, int classes,
                            const vit_probe_opts *opts, float *w, float *b);
/* logits [n, classes] = x w^T + b */
VIT_API void vit_probe_apply(const float *w, const float *b, int classes, int dim, const float *x, int n, float *logits);

/* Token maps (heatmap.c).  The patch grid of a model's token axis of
 * `ntok` tokens, derived from the graph: the reshape that merges two
 * spatial axes (gh x gw) into a token axis, and the concatenations in front
 * of it (class token, registers) giving the first patch token.  VIT_ERR_SHAPE
 * when the graph has none that fits. */
VIT_API int vit_model_token_grid(vit_ctx *ctx, const vit_model *m, int ntok, int *first, int *gh, int *gw);
/* The token a pooled output reads (the SELECT on the way from output `name`
 * back to the blocks, along an axis of `ntok` tokens), or -1 when the output
 * is not one token's (mean pooling) or when the simplifier has pruned the
 * last block to that token alone (then nothing selects it any more). */
VIT_API int vit_model_output_token(const vit_model *m, const char *name, int ntok);

/* A map (mw x mh) resized bilinearly (align_corners = False, edges clamped) to w x h. */
VIT_API void vit_map_resize(const float *map, int mw, int mh, float *out, int w, int h);
/* The image as the model sees it (the spec's resize and centre crop, before
 * normalisation), as a picture; with as_mask, the file's pixels
 * thresholded at 128 after the same transform (0 or 255). */
VIT_API int vit_model_view(vit_ctx *ctx, const vit_model *m, const char *path, int as_mask, vit_picture **out);

/* Zero-shot segmentation (segment.c).  A heat map over npix pixels is
 * clipped at 0, divided by its max and thresholded at its mean (the
 * reference convention); against a 0/1 mask it adds to: pixel accuracy,
 * intersection and union of background and foreground (accumulated over the
 * images) and the image's average precision of the heat as a foreground
 * score. */
typedef struct {
    double correct, pixels; /* pixel accuracy = correct / pixels */
    double inter[2], uni[2]; /* background [0], foreground [1] */
    double ap_sum;          /* sum of the images' average precision */
    int images;
} vit_seg_stats;
VIT_API void vit_seg_add(vit_seg_stats *s, const float *heat, const unsigned char *mask, int npix);
/* pixel accuracy, mIoU (mean of background and foreground IoU), foreground IoU, mAP */
VIT_API void vit_seg_result(const vit_seg_stats *s, double *pixacc, double *miou, double *fg_iou, double *map);


/* ---- reports (runtime/app/report.c) ---- */

/* One self-contained HTML page from the result files of runs: every directory
 * in dirs (and its sub-directories, names in byte order, hidden names
 * skipped, symbolic links to directories not followed) with something to show
 * is a section of a table of contents; PNG / JPEG pictures are inlined as
 * base64 data: URIs (a picture that does not decode is an error), JSON files
 * are rendered as tables (key / value rows, parallel lists as columns, lists
 * of objects as one row each), markdown files as headings, pipe tables,
 * lists, code and paragraphs.  Captions are file names, or the second field
 * of a "FILE<tab>caption" line of a `captions.tsv` in the directory (its
 * files first, in its order).  Every string from a file or a name is
 * HTML-escaped; a content security policy allows data: pictures, inline
 * style and the page's one script, which writes into <body> how many
 * pictures there are and how many decoded (attributes data-images,
 * data-decoded).  A sub-directory holding a labels.jsonl is a data set: its
 * size is noted, its pictures are not shown.  The page is written to out atomically.  A directory that
 * is missing or has nothing to show, an unreadable file or bad JSON is an
 * error (and nothing is written). */
typedef struct {
    const char *title; /* NULL: "vitrun report" */
    int max_images;    /* pictures shown per directory (0: 48); the others are counted in a note */
    void (*progress)(void *user, int done, int total); /* may be NULL; called after each file */
    void *user;
    const char *const *exclude; /* fnmatch patterns: files and directories whose name matches are skipped */
    int nexclude;
} vit_report_opts;
typedef struct {
    int images, json, markdown; /* files shown */
    int hidden;                 /* pictures left out (max_images) */
    int skipped;                /* files too large to show (16 MB pictures, 8 MB JSON or markdown) */
    size_t bytes;               /* size of the page */
} vit_report_stats;
VIT_API int vit_report_write(vit_ctx *ctx, const char *const *dirs, int ndirs, const vit_report_opts *opts,
                             const char *out, vit_report_stats *stats);
/* s as HTML text, also safe in a quoted attribute: & < > " ' as entities,
 * control bytes (but tab and newline) and invalid UTF-8 as U+FFFD.  Malloc'ed
 * (NULL when out of memory). */
VIT_API char *vit_html_escape(const char *s);
/* Standard base64 (RFC 4648, '=' padding) of n bytes; malloc'ed (NULL when out of memory). */
VIT_API char *vit_base64_encode(const void *data, size_t n);

#endif
