/* runtime/cli/cli.h — the vitrun commands beyond run / bench / decompose /
 * info / embed-text / toyworld (those are in runtime/main.c), one file
 * each, and the helpers they share (util.c).  Each command takes the whole
 * argv (argv[1] is its name), prints its own usage on -h / --help, writes
 * outputs atomically and returns the process exit status. */
#ifndef VIT_CLI_H
#define VIT_CLI_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

int cmd_index(int argc, char **argv);    /* index.c */
int cmd_merge(int argc, char **argv);    /* index.c */
int cmd_align(int argc, char **argv);    /* align.c */
int cmd_describe(int argc, char **argv); /* describe.c */
int cmd_score(int argc, char **argv);    /* score.c */
int cmd_retrieve(int argc, char **argv); /* retrieve.c */
int cmd_heatmap(int argc, char **argv);  /* heatmap.c */
int cmd_ablate(int argc, char **argv);   /* ablate.c */
int cmd_probe(int argc, char **argv);    /* ablate.c */
int cmd_segment(int argc, char **argv);  /* segment.c */
int cmd_report(int argc, char **argv);   /* report.c */

/* ---- util.c ---- */

/* A progress bar on stderr: "label  [#####.....]  120/1000  35.2/s  ETA 0:25".
 * Redrawn in place (at most 10 times a second) when stderr is a terminal;
 * otherwise one line every 10 % (so logs stay short).  done() ends the line. */
typedef struct {
    const char *label;
    int64_t total;
    double t0, last;
    int tty, last_decile;
} CliProgress;
void cli_progress_start(CliProgress *p, const char *label, int64_t total);
void cli_progress_update(CliProgress *p, int64_t done);
void cli_progress_done(CliProgress *p, int64_t done);

/* Ctrl-C and SIGTERM set cli_interrupted (a second Ctrl-C stops at once)
 * between cli_catch_interrupts and cli_release_interrupts, which restores
 * the handlers that were there before. */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_interrupts(void);
void cli_release_interrupts(void);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Write text to path atomically (a temporary file beside it, fsync, rename).
 * 0 on success; -1 with a message on stderr. */
int cli_write_text_atomic(const char *path, const char *text);

/* Read a text file's non-empty lines (trailing \r\n removed); NULL with a
 * message on stderr when unreadable or when a line is longer than
 * CLI_MAX_LINE bytes (file:line named).  Free with cli_free_lines. */
#define CLI_MAX_LINE (1 << 20)
char **cli_read_lines(const char *path, int *n);
void cli_free_lines(char **v, int n);

/* "comps.safetensors" -> "comps.json" (same stem, .json) into buf. */
void cli_sidecar_path(const char *out, char *buf, size_t len);

/* Parse a positive integer option value; -1 with a message when invalid. */
int cli_parse_int(const char *opt, const char *val, int lo, int hi, int *out);

/* ---- data.c: what heatmap, segment, ablate and probe share ---- */

/* Images with their labels.  Arguments are image files, directories of
 * images (*.png, *.jpg, *.jpeg, sorted), or data sets: a directory holding
 * labels.jsonl (the toy world's) or a labels.jsonl file itself, whose
 * records name the image ("image", relative to the file), the mask
 * ("mask"), the class ("class") and the group ("group", named by
 * "class_name" and "domain" when present). */
typedef struct {
    int n;
    char **image, **mask; /* paths (mask NULL when absent) */
    int *klass, *group;   /* -1 when absent */
    char *group_name[16]; /* by group index, when named */
    void **rec;           /* the label records (cJSON), NULL when none */
} CliData;
/* 0, or -1 with a message (no images, unreadable or inconsistent labels). */
int cli_data_load(CliData *d, char **args, int nargs);
void cli_data_free(CliData *d);
/* Field `field` of every record as value indices (distinct values sorted by
 * their JSON text) into idx [n]; *names the values (free with
 * cli_free_lines).  -1 with a message when a record lacks it. */
int cli_data_field(const CliData *d, const char *field, int *idx, char ***names, int *nvalues);

struct vit_ctx;
struct vit_model;
/* Run the model over the images (in batches, with a progress bar unless
 * label is NULL): outs[k]
 * receives n x numel(output k) floats (malloc'd).  0, or -1 with a message. */
int cli_run_images(struct vit_ctx *ctx, struct vit_model *m, char **paths, int n, int threads, const char *label,
                   float ***outs);
void cli_free_outputs(float **outs, int nout);

/* The size of a module's output (-1 with a message when it has none). */
int cli_output_dim(struct vit_ctx *ctx, const char *module, const char *output);
/* n texts embedded by a CLIP text tower (module, weights, vocabulary) into
 * *out [n, dim] (malloc'd); the embedding must have `dim` values (the image
 * output `output` the directions are for).  -1 with a message. */
int cli_embed_texts(struct vit_ctx *ctx, const char *module, const char *weights, const char *vocab, const char *const *texts,
                    int n, int dim, const char *output, int threads, float **out);

/* The components of a decomposed model: names (without " token t" when
 * tokens are split), layer, head, token (-1 when none), kind ("attn" ...). */
typedef struct {
    int n;
    char **name, **kind;
    int *layer, *head, *token;
} CliComps;
int cli_comps_read(const struct vit_model *m, CliComps *c);
void cli_comps_free(CliComps *c);
/* The patch grid of a decomposed model's token-split components: tokens,
 * first patch token, grid.  -1 with a message when tokens are not split or
 * the graph has no grid. */
int cli_comps_grid(struct vit_ctx *ctx, const struct vit_model *m, const CliComps *c, int *ntok, int *first, int *gh, int *gw);
/* map [gh * gw] = for each patch, the sum over the selected token
 * components at that token of val[comp * stride] (class and register
 * tokens are not pixels: left out). */
void cli_patch_map(const CliComps *c, const unsigned char *sel, const float *val, int stride, int first, int gh, int gw,
                   float *map);

/* ---- comps.c: inputs of align / describe / score / retrieve ---- */

/* Contributions: a components file (vitrun decompose -o: "contrib" [images,
 * components, dim] and the components JSON in its metadata) or a component
 * index directory (vitrun index: its images and their paths). */
typedef struct {
    int n, ncomp, dim;
    float *contrib;  /* [n, ncomp, dim] */
    char **names;    /* ncomp component names */
    char *options;   /* the decomposition's options string ("" if unknown) */
    char **images;   /* an index's n image paths; NULL for a components file */
    char *module_id; /* an index's module id; NULL for a components file */
    char *weights, *weights_hash; /* an index's weights file and its content hash; NULL when unknown */
} CliContrib;
int cli_contrib_load(const char *path, CliContrib *c); /* 0, or -1 with a message */
void cli_contrib_free(CliContrib *c);

/* The CLIP towers: image module (--clip, --clip-weights, --clip-output) and
 * text module (--text, --text-weights, --vocab, --templates). */
typedef struct {
    const char *module, *weights, *output;
    const char *text, *text_weights, *vocab, *templates;
} CliClip;
/* Consume argv[*i] (and its value) when it is one of the options above: 1;
 * 0 when it is not; -1 with a message when its value is missing. */
int cli_clip_opt(int argc, char **argv, int *i, CliClip *o);
/* CLIP image embeddings [n, edim] of the images (malloc'd), NULL with a message. */
float *cli_clip_images(const CliClip *o, char **images, int n, int *edim);
/* The same in steps: the CLIP image tower loaded (NULL with a message), then
 * the embeddings [nb, edim] of nb <= CLI_CLIP_BATCH images at a time (-1
 * with a message).  An image's embedding does not depend on its batch. */
#define CLI_CLIP_BATCH 64
typedef struct CliClipRun CliClipRun;
CliClipRun *cli_clip_open(const CliClip *o, int *edim);
const char *cli_clip_output(const CliClipRun *r); /* the output used (--clip-output or the default) */
int cli_clip_run(CliClipRun *r, char **images, int nb, float *emb);
void cli_clip_close(CliClipRun *r); /* NULL is fine */
/* Text embeddings [n, edim] (L2-normalised; with the templates if given), NULL with a message. */
float *cli_embed(const CliClip *o, char **texts, int n, int *edim);
/* Aligned contributions [n, ncomp, edim] through the aligner file, or the
 * identity when aligner is NULL (a CLIP model's own components); NULL with a message. */
float *cli_aligned(const CliContrib *c, const char *aligner, int *edim);
/* Token maps of a non-CLIP model read with text (PAPER.md 5: per-token
 * contributions through the aligner's weight, no bias, onto a text
 * embedding).  cli_align_dirs_open loads the aligner (with its component
 * names, as vitrun align writes them) and checks it maps the model's
 * dimension dim; ad->edim is then the dimension the texts need.
 * cli_align_dirs_bind takes the decomposed model's components c and nt
 * texts [nt, edim]: base[i] = the aligner component named as c's component
 * i (-1 when it has none), and *dirs [ncomp * nt, dim] (malloc'd) holds the
 * model-space direction W_a t of aligner component a and text t at row
 * a * nt + t, so that the projection of component i on row base[i] * nt + t
 * is its aligned contribution's dot product with text t.  -1 with a message. */
struct vit_aligner;
typedef struct {
    struct vit_aligner *a;
    const char *path; /* the aligner file, for messages */
    int ncomp, edim;
    int *base; /* [c->n] after bind */
} CliAlignDirs;
int cli_align_dirs_open(const char *aligner, int dim, CliAlignDirs *ad);
int cli_align_dirs_bind(CliAlignDirs *ad, const CliComps *c, const float *texts, int nt, float **dirs);
/* -1 with a message when the aligner has no map for c's component i (after bind). */
int cli_align_dirs_need(const CliAlignDirs *ad, const CliComps *c, int i);
void cli_align_dirs_free(CliAlignDirs *ad);
/* -1 with a message when text embeddings (what) do not have the aligned dimension. */
int cli_check_edim(const char *what, int edim, int want);

/* Features: a JSON object {"name": ["description", ...]} or a text file per
 * feature (its name the file's stem, one description a line).  In the JSON
 * a feature may also be {"descriptions": [...], "templates": "FILE"}: its
 * descriptions are embedded through those templates (the path relative to
 * the JSON file), in place of --templates.  A feature with fewer than 2
 * descriptions is refused. */
typedef struct {
    char *name;
    char **desc;
    int k;
    float *emb;      /* [k, edim] after cli_features_embed */
    char *templates; /* the feature's own templates file, or NULL */
} CliFeature;
int cli_features_load(char **paths, int npaths, CliFeature **out, int *n);
int cli_features_embed(const CliClip *o, CliFeature *f, int nf, int *edim);
void cli_features_free(CliFeature *f, int n);

/* Image paths from arguments or a list file (one a line); NULL with a message. */
char **cli_image_args(char **args, int nargs, const char *list, int *n);
/* The images of c: those given (checked against c's count; an index's own
 * paths when none are given), copied into *out; -1 with a message. */
int cli_contrib_images(const CliContrib *c, const char *what, char **args, int nargs, const char *list, char ***out, int *n);
/* The string `key` of each of the n records of a JSON-lines labels file. */
char **cli_labels_load(const char *path, const char *key, int n);
/* 1 when text contains word as a whole (space-delimited) word. */
int cli_text_mentions(const char *text, const char *word);
/* Print a JSON value (freed) into a malloc'd string ending in a newline. */
struct cJSON;
char *cli_json_out(struct cJSON *j);

/* ---- scores.c: a score file (vitrun score -o) choosing components for ablate and heatmap ---- */

/* One feature's scores (or SPURIOUS minus CORE for "SPURIOUS-CORE") by component name. */
typedef struct {
    int n, images;       /* components in the file; images they were scored on (0: not recorded) */
    char **name;         /* component names */
    double *score;       /* per component; NAN where the file has none (a constant component) */
    char *weights, *weights_hash; /* the weights scored (an index's), NULL when not recorded */
    char feature[256];
} CliScores;
/* 0, or -1 with a message (unreadable, not a score file, no such feature: the file's features are listed). */
int cli_scores_load(const char *path, const char *feature, CliScores *s);
/* The same from the file's object `key` ("scores", or "explained": each component's variance_explained):
 * 1 without a message when the file has no such object. */
int cli_scores_load_as(const char *path, const char *feature, const char *key, CliScores *s);
void cli_scores_free(CliScores *s);
/* Index of the component called name in s, or -1. */
int cli_scores_find(const CliScores *s, const char *name);
/* -1 with a message when the file records a weights hash and `weights` has another. */
int cli_scores_check_weights(const CliScores *s, const char *path, const char *weights);
/* -1 with a message when one of names is not in the file (or, when exact, the file has others too):
 * scores of another module or decomposition. */
int cli_scores_check_names(const CliScores *s, const char *path, char *const *names, int n, int exact);
/* order[0 .. m) = the rankable entries with a score, highest first; returns m. */
int cli_scores_order(const double *score, const unsigned char *rankable, int n, int *order);

#endif
