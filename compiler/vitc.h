/* compiler/vitc.h — the compiler's one internal header, a section per file.
 * Stages: source.c (files, imports) → grammar/ (AST) → elab.c (typed graph
 * with shapes, errors with locations) → lower.c → plan.c → codegen.c.  The
 * AST and every string of one compilation live in one arena (arena.c). */
#ifndef VITC_H
#define VITC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

/* ---- arena.c ------------------------------------------------------------
 * One arena per compilation: allocations are never freed one by one;
 * arena_free releases everything at the end. */
typedef struct ArenaBlock ArenaBlock;
typedef struct { ArenaBlock *head; } Arena;
void *arena_alloc(Arena *a, size_t n);        /* zeroed */
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(Arena *a);

/* ---- source.c + diag.c --------------------------------------------------- */
typedef struct {
    const char *path;  /* as given or resolved */
    const char *text;  /* whole file, NUL-terminated */
    size_t len;
} SrcFile;

typedef struct {
    int file, line, col; /* file index into Ctx.files; 1-based line/col */
} Loc;

typedef struct Ctx {
    Arena arena;
    SrcFile *files;          /* every file read, in order */
    int nfiles, capfiles;
    int errors;              /* user errors reported so far */
    const char **search;     /* import search directories */
    int nsearch;
    FILE *diag_out;          /* where diagnostics go (stderr) */
    int64_t max_steps;       /* elaboration steps (statements, calls, loop turns) allowed; 0: ELAB_MAX_STEPS */
} Ctx;

void ctx_init(Ctx *c);
void ctx_free(Ctx *c);
int src_load(Ctx *c, const char *path, Loc from); /* file index, -1 on error (reported) */
/* file:line:col: error: message, then the source line and a caret. */
void diag_error(Ctx *c, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Ctx *c, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- ast.c ---------------------------------------------------------------- */
typedef enum {
    AST_INT, AST_FLOAT, AST_STR, AST_IDENT,
    AST_BINOP, AST_UNOP, AST_CALL, AST_PARAM, AST_LIST, AST_TUPLE,
    AST_ITEM_SIZED,  /* name = size inside [...] */
    AST_ITEM_RENAME, /* a -> b inside [...] */
    AST_ARG_KW,      /* name = value in a call's arguments */
    /* statements */
    AST_ASSIGN, AST_FOR, AST_IF, AST_RETURN, AST_OUTPUT, AST_CONFIG,
    AST_PREPROCESS, AST_UNUSED, AST_EXPR_STMT,
    /* top level */
    AST_IMPORT, AST_BLOCK, AST_MODEL,
    AST_KIND_COUNT
} AstKind;

typedef struct Ast Ast;
typedef struct { Ast **v; int n, cap; } AstList;

struct Ast {
    AstKind kind;
    Loc loc;            /* representative token */
    const char *name;   /* IDENT, CALL callee, BLOCK/MODEL name, FOR variable, KW name, ITEM names */
    const char *name2;  /* ITEM_RENAME target */
    int64_t ival;       /* INT; BINOP/UNOP operator token */
    double fval;        /* FLOAT */
    const char *str;    /* STR, PARAM key, IMPORT path */
    Ast *a, *b, *c;     /* operands: BINOP a b; FOR lo hi; IF cond; CALL scope (at); PARAM stored(a) view(b) */
    AstList list;       /* CALL args, LIST/TUPLE items, ASSIGN targets, block params, bodies */
    AstList body2;      /* IF else-body; FOR/IF/BLOCK/MODEL body is `list` */
};

Ast *ast_new(Ctx *c, AstKind k, Loc loc);
void ast_push(Ctx *c, AstList *l, Ast *x);

/* ---- parse (grammar/parser.y) --------------------------------------------- */
#define LEX_MAX_TOKEN 1024 /* characters of a name or a string literal */
/* Parse file `file` into a list of top-level items; false after reporting errors. */
bool parse_file(Ctx *c, int file, AstList *items);

/* ---- elab.c ----------------------------------------------------------------- */
typedef struct {
    const char *name;  /* config name */
    const char *value; /* literal text: int, float or string */
} ConfigSet;

/* Limits of elaboration, each an error at the source location when passed:
 * nested block calls, turns of one loop, and steps in all (statements, block
 * calls, loop turns; Ctx.max_steps overrides it). */
#define ELAB_MAX_DEPTH 200
#define ELAB_MAX_LOOP 1000000
#define ELAB_MAX_STEPS 20000000
#define ELAB_MAX_CONST (1 << 24)   /* elements of one constant (iota, full) embedded in the module */
#define ELAB_MAX_STRING 4096       /* characters of a string built by + */

/* Elaborate the model in `path` into a graph.  `sets` override `config`
 * values.  NULL after reporting errors. */
IrGraph *elab_model(Ctx *c, const char *path, const ConfigSet *sets, int nsets);

/* ---- plan.c: memory plan (one arena, liveness-based first fit) ------------ */
void plan_memory(IrGraph *g);

/* ---- dot.c: Graphviz rendering of the graph, nodes coloured by class -------- */
void dot_write(const IrGraph *g, FILE *out);

#endif
