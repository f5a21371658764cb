/* runtime/cli/align.c — vitrun align: train COMPALIGN maps from a model's
 * components into a CLIP model's image space (PAPER.md 2), the CLIP targets
 * computed here by running the CLIP image module on the same images; or,
 * with --aligner, measure an aligner's cosine distance on images.  Training
 * is resumable: Ctrl-C, SIGTERM or a kill leaves OUT.partial/, which the
 * same command continues from. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "st.h"
#include "vit.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vitrun align COMPS (IMAGE... | --images LIST) --clip CLIP.vitm --clip-weights W.safetensors\n"
            "                    -o ALIGNER.safetensors [options]\n"
            "       vitrun align COMPS (IMAGE... | --images LIST) --clip ... --aligner ALIGNER.safetensors\n"
            "       vitrun align COMPS --identity -o ALIGNER.safetensors\n"
            "COMPS: vitrun decompose -o output on the same images, in the same order, or a component index directory\n"
            "(vitrun index; its own images unless images are given).  The second form trains nothing:\n"
            "it prints the aligner's mean cosine distance 1 - cos(sum of aligned components, CLIP image embedding).\n"
            "The third writes the identity aligner of a CLIP model's own components (named as COMPS names them).\n"
            "  --clip-output NAME   the CLIP module's image embedding output (default: embedding, else logits)\n"
            "  --lambda L           orthogonality weight (1; 0 for the ablation)\n"
            "  --shared             one map for every component (the ablation's baseline)\n"
            "  --lr LR              Adam learning rate (3e-4)\n"
            "  --wd WD              weight decay (1e-6)\n"
            "  --epochs N           passes over the training part (2)\n"
            "  --batch N            images per step (32)\n"
            "  --patience N         stop after N steps without a new held-out minimum (50; 0: never)\n"
            "  --holdout F          fraction held out for early stopping (0.1)\n"
            "  --seed S             initialisation and shuffling (0)\n"
            "  --checkpoint-every S save the progress every S seconds (2), or less often when saving would take\n"
            "                       more than a tenth of the time (0: as often as that allows)\n"
            "Writes ALIGNER.safetensors (weights [maps, dim, clip_dim], bias [clip_dim]) and ALIGNER.json (components,\n"
            "options, training report).\n"
            "Resumable: the CLIP targets computed so far and the training state are kept in ALIGNER.safetensors.partial/\n"
            "(written atomically, removed on success).  After Ctrl-C (status 130), SIGTERM or a kill, run the same\n"
            "command again: it continues where the run stopped and writes the same bytes as an uninterrupted run\n"
            "(with the same OPENBLAS_NUM_THREADS).  State from other inputs or options is refused, naming what differs.\n");
}

static int parse_double(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !(d >= lo && d <= hi)) {
        fprintf(stderr, "vitrun: %s needs a number in [%g, %g], not '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* ---- resuming: OUT.partial/ holds the CLIP targets computed so far
 * (targets-FIRST.safetensors, contiguous runs of images) and the training
 * state (checkpoint.safetensors); files appear only by atomic rename, so a
 * run killed at any moment leaves a usable state.  Removed on success. ---- */

static int is_interrupted(void *ud) {
    (void)ud;
    return cli_interrupted;
}

#define PART_FMT "targets-%09d.safetensors"
#define CHECKPOINT "checkpoint.safetensors"

static char *join(const char *dir, const char *name) {
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p) snprintf(p, len, "%s/%s", dir, name);
    return p;
}

/* The image of a targets part named `name`, or -1 for any other name. */
static int part_first(const char *name) {
    int first;
    char back[64];
    if (sscanf(name, "targets-%9d", &first) != 1 || first < 0) return -1;
    snprintf(back, sizeof back, PART_FMT, first);
    return strcmp(back, name) ? -1 : first;
}

/* A temporary file of the safetensors writer (".NAME.tmp.PID.N"). */
static int is_temp(const char *name) { return name[0] == '.' && strstr(name, ".tmp.") != NULL; }

/* Remove from dir the files of ours: all of them (parts, checkpoint) or only temporary ones. */
static void partial_clean(const char *dir, int all) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!is_temp(e->d_name) && !(all && (part_first(e->d_name) >= 0 || !strcmp(e->d_name, CHECKPOINT)))) continue;
        char *p = join(dir, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    if (d) closedir(d);
}

/* Make the state directory ready and lock it (flock on the directory itself,
 * as vitrun index locks its output; held on *lockfd until partial_close or
 * the process ends): 0, or -1 with a message (another process holding the
 * lock is refused: two runs would write the same files). */
static int partial_open(const char *dir, int *lockfd) {
    struct stat sb;
    *lockfd = -1;
    if (mkdir(dir, 0777) && errno != EEXIST) { fprintf(stderr, "vitrun: align: cannot create %s: %s\n", dir, strerror(errno)); return -1; }
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) { fprintf(stderr, "vitrun: align: %s exists and is not a directory\n", dir); return -1; }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) { fprintf(stderr, "vitrun: align: %s: %s\n", dir, strerror(errno)); return -1; }
    if (flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK) {
        fprintf(stderr, "vitrun: align: %s: another vitrun align is writing this output now; wait for it to end, or choose another -o\n", dir);
        close(fd);
        return -1;
    }
    *lockfd = fd; /* (unlocked where the file system has no locks) */
    partial_clean(dir, 0);
    return 0;
}

/* Release the lock; with remove, delete the directory (when empty). */
static void partial_close(const char *dir, int lockfd, int remove) {
    if (remove) rmdir(dir);
    if (lockfd >= 0) close(lockfd);
}

static uint64_t fnv(uint64_t h, const void *p, size_t len) {
    const unsigned char *c = p;
    for (size_t i = 0; i < len; i++) h = (h ^ c[i]) * 0x100000001b3ull;
    return h;
}

/* What the CLIP targets depend on: the CLIP module and weights (content
 * hash), its output, each image's path, size and modification time. */
static int targets_key(const CliClip *clip, const char *output, char **images, int n, char *key, size_t len) {
    vit_ctx *ctx = vit_ctx_new();
    char id[VIT_MODULE_ID_LEN];
    int rc = vit_module_id(ctx, clip->module, clip->weights, NULL, id);
    if (rc) fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx));
    vit_ctx_free(ctx);
    if (rc) return -1;
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++) {
        struct stat sb;
        int64_t v[3] = {0, 0, 0};
        if (!stat(images[i], &sb)) v[0] = sb.st_size, v[1] = sb.st_mtim.tv_sec, v[2] = sb.st_mtim.tv_nsec;
        h = fnv(fnv(h, images[i], strlen(images[i]) + 1), v, sizeof v);
    }
    snprintf(key, len, "clip=%s output=%s images=%d:%016llx", id, output, n, (unsigned long long)h);
    return 0;
}

static int targets_save(const char *dir, const char *key, const float *emb, int first, int count, int edim) {
    char name[64], err[1024], fs[16];
    snprintf(name, sizeof name, PART_FMT, first);
    snprintf(fs, sizeof fs, "%d", first);
    char *path = join(dir, name);
    StWriter *w = st_writer_new();
    int64_t shape[2] = {count, edim};
    if (w) {
        st_writer_add_f32(w, "targets", 2, shape, emb + (size_t)first * (size_t)edim);
        st_writer_meta(w, "key", key);
        st_writer_meta(w, "first", fs);
    }
    int rc = !path || !w || st_writer_finish(w, path, err, sizeof err) ? -1 : 0;
    if (rc) fprintf(stderr, "vitrun: align: cannot save the CLIP targets: %s\n", path && w ? err : "out of memory");
    free(path);
    return rc;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* Part `first` of dir into emb: its image count; 0 when unusable; -1 with a
 * message when it belongs to other images or another CLIP model. */
static int part_read(const char *dir, int first, const char *key, int n, int edim, float *emb) {
    char name[64], err[1024];
    snprintf(name, sizeof name, PART_FMT, first);
    char *path = join(dir, name);
    StFile *f = NULL;
    int got = 0;
    if (path && !st_open(path, &f, err, sizeof err)) {
        const char *k = st_meta(f, "key");
        int64_t t = st_find(f, "targets");
        if (!k || strcmp(k, key)) {
            fprintf(stderr, "vitrun: align: %s holds the CLIP targets of other images or another CLIP model (%s); rerun the command "
                            "that made it to continue that run, or delete %s to start afresh\n", dir, name, dir);
            got = -1;
        } else if (t >= 0 && f->t[t].rank == 2 && f->t[t].shape[1] == edim && f->t[t].shape[0] >= 1 && f->t[t].shape[0] <= n - first &&
                   !st_read_f32(f, t, emb + (size_t)first * (size_t)edim, err, sizeof err))
            got = (int)f->t[t].shape[0];
    }
    st_close(f);
    free(path);
    return got;
}

/* The targets earlier runs saved in dir (the longest run of parts from image
 * 0) into emb: how many images they cover; -1 with a message. */
static int targets_load(const char *dir, const char *key, int n, int edim, float *emb) {
    DIR *d = opendir(dir);
    int *first = NULL, np = 0, cap = 0, done = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        int k = part_first(e->d_name);
        if (k < 0) continue;
        if (np == cap) {
            int *nf = realloc(first, sizeof(int) * (size_t)(cap = cap ? 2 * cap : 64));
            if (!nf) break;
            first = nf;
        }
        first[np++] = k;
    }
    if (d) closedir(d);
    if (np) qsort(first, (size_t)np, sizeof(int), cmp_int);
    for (int i = 0; i < np && first[i] == done && done < n; i++) {
        int got = part_read(dir, first[i], key, n, edim, emb);
        if (got < 0) { done = -1; break; }
        if (!got) break;
        done += got;
    }
    free(first);
    return done;
}

/* Saving every `every` seconds, and no more often than keeps it to a tenth of the time. */
static int due(double last, double cost, double every) { return cli_now() - last >= (every > 10 * cost ? every : 10 * cost); }

/* The CLIP targets [n, edim] of the images, continuing what dir holds and
 * saving progress there: 0; 1 when interrupted (progress saved); -1 with a message. */
static int targets_resumable(const CliClip *clip, char **images, int n, const char *dir, double every, float **out, int *edim) {
    char key[256];
    *out = NULL;
    CliClipRun *r = cli_clip_open(clip, edim);
    if (!r || targets_key(clip, cli_clip_output(r), images, n, key, sizeof key)) { cli_clip_close(r); return -1; }
    float *emb = malloc(sizeof(float) * (size_t)*edim * (size_t)n + 4);
    int rc = emb ? 0 : -1, done = 0;
    if (!emb) fprintf(stderr, "vitrun: out of memory\n");
    if (!rc && (done = targets_load(dir, key, n, *edim, emb)) < 0) rc = -1;
    if (done > 0) printf("continuing: %d of %d CLIP targets were computed by earlier runs (%s)\n", done, n, dir);
    fflush(stdout);
    int saved = done;
    double last = cli_now(), cost = 0;
    CliProgress pr;
    if (!rc && done < n) cli_progress_start(&pr, "CLIP images", n);
    while (!rc && done < n) {
        int nb = n - done < CLI_CLIP_BATCH ? n - done : CLI_CLIP_BATCH;
        if (cli_clip_run(r, images + done, nb, emb + (size_t)done * (size_t)*edim)) { rc = -1; break; }
        done += nb;
        cli_progress_update(&pr, done);
        int stop = cli_interrupted;
        if (done == n || stop || due(last, cost, every)) {
            double t0 = cli_now();
            if (targets_save(dir, key, emb, saved, done - saved, *edim)) rc = -1;
            saved = done, last = cli_now(), cost = last - t0;
        }
        if (stop && !rc) rc = 1;
        if (rc == 1 && pr.tty) fprintf(stderr, "\n");
        if (!rc && done == n) cli_progress_done(&pr, n);
    }
    cli_clip_close(r);
    if (rc < 0) free(emb);
    else *out = emb;
    return rc;
}

static void progress(void *ud, int64_t step, int64_t steps) {
    CliProgress *p = ud;
    p->total = steps;
    cli_progress_update(p, step);
}

/* The report kept in ALIGNER.json and the file's metadata: inputs, options
 * and training results only (nothing that differs between a resumed and an
 * uninterrupted run, such as timings). */
static cJSON *report_json(const CliContrib *c, const CliClip *clip, const vit_align_opts *o, const vit_align_report *rep) {
    cJSON *j = cJSON_CreateObject(), *jo = cJSON_CreateObject(), *jr = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "components", cJSON_CreateStringArray((const char *const *)c->names, c->ncomp));
    cJSON_AddStringToObject(j, "decomposition", c->options);
    cJSON_AddStringToObject(j, "clip", clip->module);
    cJSON_AddNumberToObject(jo, "lambda", o->lambda);
    cJSON_AddBoolToObject(jo, "shared", o->shared);
    cJSON_AddNumberToObject(jo, "lr", o->lr);
    cJSON_AddNumberToObject(jo, "wd", o->wd);
    cJSON_AddNumberToObject(jo, "epochs", o->epochs);
    cJSON_AddNumberToObject(jo, "batch", o->batch);
    cJSON_AddNumberToObject(jo, "patience", o->patience);
    cJSON_AddNumberToObject(jo, "holdout", o->holdout);
    cJSON_AddNumberToObject(jo, "seed", (double)o->seed);
    cJSON_AddItemToObject(j, "options", jo);
    cJSON_AddNumberToObject(jr, "images", c->n);
    cJSON_AddNumberToObject(jr, "train", rep->ntrain);
    cJSON_AddNumberToObject(jr, "heldout", rep->nheldout);
    cJSON_AddNumberToObject(jr, "steps", rep->steps);
    cJSON_AddNumberToObject(jr, "best_step", rep->best_step);
    if (rep->nheldout) cJSON_AddNumberToObject(jr, "heldout_cosine_distance", rep->heldout_cos);
    cJSON_AddNumberToObject(jr, "orthogonality", rep->ortho);
    cJSON_AddItemToObject(j, "report", jr);
    return j;
}

/* ALIGNER.safetensors and its sidecar (j freed), each atomically: 0, or -1 with a message. */
static int write_aligner(const vit_aligner *a, const char *out, cJSON *j, const char *sidecar) {
    vit_ctx *ctx = vit_ctx_new();
    char *meta = cJSON_PrintUnformatted(j), *side = cli_json_out(j);
    int rc = -1;
    if (!meta || !side || vit_aligner_save(ctx, a, out, meta)) fprintf(stderr, "vitrun: %s\n", meta && side ? vit_last_error(ctx) : "out of memory");
    else if (cli_write_text_atomic(sidecar, side)) unlink(out);
    else rc = 0;
    free(meta), free(side);
    vit_ctx_free(ctx);
    return rc;
}

/* --aligner A: the aligner's mean cosine distance on the images (exit status). */
static int measure(const CliContrib *c, const CliClip *clip, char **images, int nimg, const char *aligner) {
    vit_ctx *ctx = vit_ctx_new();
    vit_aligner *a = NULL;
    float *targets = NULL, *aligned = NULL;
    int edim = 0, rc = 1;
    if (vit_aligner_load(ctx, aligner, &a) || vit_aligner_fits(ctx, a, c->ncomp, c->dim)) { /* before running CLIP */
        fprintf(stderr, "vitrun: %s: %s\n", aligner, vit_last_error(ctx));
        goto done;
    }
    if (!(targets = cli_clip_images(clip, images, nimg, &edim))) goto done;
    if (edim != a->edim) { fprintf(stderr, "vitrun: %s maps into %d dimensions, the CLIP model's embedding has %d\n", aligner, a->edim, edim); goto done; }
    aligned = malloc(sizeof(float) * (size_t)c->n * (size_t)c->ncomp * (size_t)edim);
    if (!aligned || vit_aligner_apply(ctx, a, c->contrib, c->n, c->ncomp, c->dim, aligned)) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    printf("cosine distance %.4f (mean 1 - cos over %d images, %d components)\n",
           vit_align_cosine_distance(aligned, targets, c->n, c->ncomp, edim), c->n, c->ncomp);
    rc = 0;
done:
    vit_aligner_free(a);
    free(targets), free(aligned);
    vit_ctx_free(ctx);
    return rc;
}

/* Train with o (its checkpoint in dir) on the CLIP targets of the images,
 * then write out and its sidecar: the exit status (130 when interrupted). */
static int train(const CliContrib *c, const CliClip *clip, char **images, int nimg, vit_align_opts *o, const char *out, const char *dir) {
    vit_ctx *ctx = vit_ctx_new();
    vit_aligner *a = NULL;
    float *targets = NULL;
    char *ck = join(dir, CHECKPOINT), sidecar[4096];
    int edim = 0, rc = 1, lockfd = -1;
    cli_sidecar_path(out, sidecar, sizeof sidecar);
    if (!ck || partial_open(dir, &lockfd)) goto done;
    int tr = targets_resumable(clip, images, nimg, dir, o->checkpoint_every, &targets, &edim);
    if (tr < 0) goto done;
    if (tr || cli_interrupted) {
        fprintf(stderr, "vitrun: align: interrupted while computing the CLIP targets; those computed are saved in %s; run the same "
                        "command again to continue\n", dir);
        rc = 130;
        goto done;
    }
    CliProgress pr;
    cli_progress_start(&pr, "align", 1);
    o->progress = progress, o->ud = &pr;
    o->checkpoint = ck, o->interrupted = is_interrupted;
    vit_align_report rep;
    int st = vit_align_train(ctx, c->contrib, targets, c->n, c->ncomp, c->dim, edim, o, &a, &rep);
    if (st == VIT_ERR_INTERRUPTED) {
        fprintf(stderr, "%svitrun %s; run the same command again to continue\n", pr.tty ? "\n" : "", vit_last_error(ctx));
        rc = 130;
        goto done;
    }
    if (st) { fprintf(stderr, "vitrun: %s\n", vit_last_error(ctx)); goto done; }
    cli_progress_done(&pr, rep.steps);
    if (rep.resumed_step) printf("continuing: training resumed at step %d from %s\n", rep.resumed_step, ck);
    if (write_aligner(a, out, report_json(c, clip, o, &rep), sidecar)) goto done;
    partial_clean(dir, 1);
    partial_close(dir, lockfd, 1);
    lockfd = -1;
    printf("wrote %s: %d %s [%d, %d] + bias, %d steps (best %d); held-out cosine distance %.4f on %d images; "
           "orthogonality %.4g; report in %s\n", out, o->shared ? 1 : c->ncomp, o->shared ? "shared map" : "maps", c->dim, edim,
           rep.steps, rep.best_step, rep.heldout_cos, rep.nheldout, rep.ortho, sidecar);
    rc = 0;
done:
    if (lockfd >= 0) partial_close(dir, lockfd, rc == 1); /* a run that failed before saving anything leaves nothing */
    vit_aligner_free(a);
    free(targets), free(ck);
    vit_ctx_free(ctx);
    return rc;
}

/* The identity aligner of a CLIP model's own components (PAPER.md 2: "for
 * CLIP itself the aligner is the identity"), named like a trained one. */
static int write_identity(const CliContrib *c, const char *out) {
    char sidecar[4096];
    cli_sidecar_path(out, sidecar, sizeof sidecar);
    vit_aligner *a = vit_aligner_identity(c->ncomp, c->dim);
    cJSON *j = cJSON_CreateObject();
    if (!a || !j) { fprintf(stderr, "vitrun: out of memory\n"); vit_aligner_free(a); cJSON_Delete(j); return -1; }
    cJSON_AddItemToObject(j, "components", cJSON_CreateStringArray((const char *const *)c->names, c->ncomp));
    cJSON_AddStringToObject(j, "decomposition", c->options);
    cJSON_AddBoolToObject(j, "identity", 1);
    int rc = write_aligner(a, out, j, sidecar);
    if (!rc) printf("wrote %s: the identity on %d components of dimension %d; report in %s\n", out, c->ncomp, c->dim, sidecar);
    vit_aligner_free(a);
    return rc;
}

int cmd_align(int argc, char **argv) {
    const char *comps = NULL, *out = NULL, *list = NULL, *aligner = NULL;
    CliClip clip = {0};
    vit_align_opts o;
    vit_align_opts_default(&o);
    char **args = calloc((size_t)argc, sizeof(char *)), **images = NULL, *dir = NULL;
    int nargs = 0, nimg = 0, rc = 2, identity = 0;
    CliContrib c = {0};
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        int r = cli_clip_opt(argc, argv, &i, &clip);
        if (r < 0) goto done;
        if (r) continue;
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) { usage(stdout); rc = 0; goto done; }
        int needs = s[0] == '-' && strcmp(s, "--shared") != 0 && strcmp(s, "--identity") != 0;
        if (needs && i + 1 >= argc) { fprintf(stderr, "vitrun: %s needs a value\n", s); goto done; }
        int iv;
        if (!strcmp(s, "-o")) out = argv[++i];
        else if (!strcmp(s, "--images")) list = argv[++i];
        else if (!strcmp(s, "--aligner")) aligner = argv[++i];
        else if (!strcmp(s, "--shared")) o.shared = 1;
        else if (!strcmp(s, "--identity")) identity = 1;
        else if (!strcmp(s, "--lambda")) { if (parse_double(s, argv[++i], 0, 1e6, &o.lambda)) goto done; }
        else if (!strcmp(s, "--lr")) { if (parse_double(s, argv[++i], 1e-12, 10, &o.lr)) goto done; }
        else if (!strcmp(s, "--wd")) { if (parse_double(s, argv[++i], 0, 10, &o.wd)) goto done; }
        else if (!strcmp(s, "--holdout")) { if (parse_double(s, argv[++i], 0, 0.9, &o.holdout)) goto done; }
        else if (!strcmp(s, "--checkpoint-every")) { if (parse_double(s, argv[++i], 0, 1e9, &o.checkpoint_every)) goto done; }
        else if (!strcmp(s, "--epochs")) { if (cli_parse_int(s, argv[++i], 1, 1000000, &o.epochs)) goto done; }
        else if (!strcmp(s, "--batch")) { if (cli_parse_int(s, argv[++i], 1, 65536, &o.batch)) goto done; }
        else if (!strcmp(s, "--patience")) { if (cli_parse_int(s, argv[++i], 0, 1 << 30, &o.patience)) goto done; }
        else if (!strcmp(s, "--seed")) { if (cli_parse_int(s, argv[++i], 0, 1 << 30, &iv)) goto done; o.seed = (uint64_t)iv; }
        else if (s[0] == '-') { fprintf(stderr, "vitrun: align: unknown option '%s'\n", s); usage(stderr); goto done; }
        else if (!comps) comps = s;
        else args[nargs++] = argv[i];
    }
    if (!comps) { fprintf(stderr, "vitrun: align: no components file given\n"); usage(stderr); goto done; }
    if (identity && !out) { fprintf(stderr, "vitrun: align: --identity writes an aligner: give -o\n"); goto done; }
    if (!out && !aligner) { fprintf(stderr, "vitrun: align: -o ALIGNER.safetensors is required (or --aligner A to measure one)\n"); goto done; }
    if (out && aligner) { fprintf(stderr, "vitrun: align: -o trains a new aligner, --aligner measures one: not both\n"); goto done; }
    rc = 1;
    if (identity) { rc = cli_contrib_load(comps, &c) || write_identity(&c, out); goto done; }
    if (cli_contrib_load(comps, &c) || cli_contrib_images(&c, "align", args, nargs, list, &images, &nimg)) goto done;
    if (aligner) { rc = measure(&c, &clip, images, nimg, aligner); goto done; }
    if (!clip.module || !clip.weights) { fprintf(stderr, "vitrun: the CLIP image tower is needed: --clip MODULE --clip-weights W\n"); goto done; }
    size_t len = strlen(out) + 16;
    if (!(dir = malloc(len))) { fprintf(stderr, "vitrun: out of memory\n"); goto done; }
    snprintf(dir, len, "%s.partial", out);
    cli_catch_interrupts();
    rc = train(&c, &clip, images, nimg, &o, out, dir);
    cli_release_interrupts();
done:
    free(args), free(dir);
    cli_free_lines(images, nimg);
    cli_contrib_free(&c);
    return rc;
}
