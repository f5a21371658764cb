/* compiler/elab.c — elaboration: AST → typed graph IR.
 * An evaluator over the AST whose values are numbers, strings, axis lists
 * and tensors (graph nodes).  Blocks are instantiated at each call (their
 * parameter names prefixed by the `at` scopes of the calls), `for` loops are
 * unrolled, and every node's shape is inferred and checked when it is made:
 * a mismatch is reported at the source location with both shapes, plus a
 * note per enclosing block call.  Parameter axes written without a size take
 * it from the first tensor they meet (size unification). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parser.h"
#include "vitc.h"
#include "pipeline.h"

typedef enum { V_NONE, V_INT, V_FLOAT, V_STR, V_TENSOR, V_AXES, V_TUPLE } VKind;

typedef struct {
    const char *name; /* axis name, NULL for a bare size */
    int64_t size;     /* -1 when not given */
    const char *to;   /* rename target (a -> b), else NULL */
} AxItem;

typedef struct Value Value;
struct Value {
    VKind k;
    int64_t i;       /* V_INT */
    double f;        /* V_FLOAT */
    const char *s;   /* V_STR */
    int node;        /* V_TENSOR: node index */
    AxItem *ax;      /* V_AXES items */
    int nax;
    Value *tup;      /* V_TUPLE items */
    int ntup;
};

typedef struct Var { const char *name; Value v; struct Var *next; } Var;
typedef struct { Var *vars; } Env;

typedef struct Frame {
    const char *scope;  /* parameter scope prefix ("" at top) */
    const char *block;  /* block name, NULL for the model */
    Loc call;           /* call site */
    struct Frame *up;
} Frame;

typedef struct {
    Ctx *c;
    IrGraph *g;
    Ast **blocks;      /* every block definition seen */
    int nblocks, capblocks;
    Ast *model;
    Frame *frame;
    const ConfigSet *sets;
    int nsets;
    bool *set_used;
    jmp_buf fail;
    bool returned;
    Value ret;
    bool have_pre;
    double crop_pct;
    int top;           /* file index of the spec itself */
    int64_t steps;     /* statements, block calls and loop turns so far */
    int64_t max_steps; /* the limit on steps */
    int depth;         /* block calls in progress */
} El;

static const Value NONE = {0};

/* ---- errors ---------------------------------------------------------------- */
static void notes(El *e) {
    int k = 0;
    for (Frame *f = e->frame; f && f->block; f = f->up, k++)
        if (k < 10) diag_note(e->c, f->call, "in block '%s' called here", f->block);
    if (k > 10) diag_note(e->c, (Loc){-1, 0, 0}, "... and %d more enclosing block calls", k - 10);
}

static _Noreturn void fail(El *e, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static _Noreturn void fail(El *e, Loc loc, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(e->c, loc, "%s", msg);
    notes(e);
    longjmp(e->fail, 1);
}

static const char *shape_s(El *e, const IrShape *s) {
    char buf[512];
    ir_shape_str(s, buf, sizeof buf);
    return arena_strdup(&e->c->arena, buf);
}

static const char *kind_name(VKind k) {
    static const char *n[] = {"nothing", "integer", "number", "string", "tensor", "axis list", "tuple"};
    return n[k];
}

/* ---- environment ------------------------------------------------------------ */
static Value *env_get(Env *env, const char *name) {
    for (Var *v = env->vars; v; v = v->next)
        if (!strcmp(v->name, name)) return &v->v;
    return NULL;
}

static void env_set(El *e, Env *env, const char *name, Value val) {
    Value *p = env_get(env, name);
    if (p) { *p = val; return; }
    Var *v = arena_alloc(&e->c->arena, sizeof *v);
    v->name = name;
    v->v = val;
    v->next = env->vars;
    env->vars = v;
}

static Ast *block_find(El *e, const char *name) {
    for (int i = e->nblocks - 1; i >= 0; i--)
        if (!strcmp(e->blocks[i]->name, name)) return e->blocks[i];
    return NULL;
}

/* ---- graph nodes ------------------------------------------------------------- */
static IrNode *N(El *e, int i) { return &e->g->nodes[i]; }

static int add_node(El *e, IrNode *n, Loc loc) {
    if (n->op != IR_OP_PARAM)
        for (int a = 0; a < n->shape.rank; a++)
            if (n->shape.ax[a].size < 0)
                fail(e, loc, "the size of axis '%s' is not known here; give it where the parameter is declared (e.g. [%s = 768])",
                     n->shape.ax[a].name, n->shape.ax[a].name);
    for (int a = 0; a < n->shape.rank; a++)
        if (n->shape.ax[a].size > IR_MAX_DIM)
            fail(e, loc, "axis '%s' of size %lld is too large (at most %lld)", n->shape.ax[a].name ? n->shape.ax[a].name : "?",
                 (long long)n->shape.ax[a].size, (long long)IR_MAX_DIM);
    if (n->op != IR_OP_PARAM && ir_numel_checked(&n->shape) < 0)
        fail(e, loc, "a tensor of shape %s is too large (at most %lld elements)", shape_s(e, &n->shape), (long long)IR_MAX_NUMEL);
    if (e->g->n >= IR_MAX_NODES) fail(e, loc, "the graph has more than %d nodes", IR_MAX_NODES);
    n->loc = (IrLoc){loc.file, loc.line, loc.col};
    n->scope = ir_strdup(e->g, e->frame->scope);
    for (int a = 0; a < n->shape.rank; a++) n->shape.ax[a].name = ir_strdup(e->g, n->shape.ax[a].name);
    for (int a = 0; a < n->nax; a++) n->ax[a] = ir_strdup(e->g, n->ax[a]);
    return ir_node_add(e->g, n);
}

/* Fill a parameter's unknown axis sizes from another tensor's shape. */
static void unify(El *e, int node, const IrShape *other) {
    IrNode *n = N(e, node);
    if (n->op != IR_OP_PARAM) return;
    for (int a = 0; a < n->shape.rank; a++) {
        if (n->shape.ax[a].size >= 0) continue;
        int j = ir_axis_find(other, n->shape.ax[a].name);
        if (j >= 0) n->shape.ax[a].size = other->ax[j].size;
    }
}

static void need_known(El *e, int node, Loc loc) {
    IrNode *n = N(e, node);
    for (int a = 0; a < n->shape.rank; a++)
        if (n->shape.ax[a].size < 0)
            fail(e, loc, "cannot infer the size of axis '%s' of parameter '%s'", n->shape.ax[a].name,
                 n->key ? n->key : "?");
}

static int tensor_arg(El *e, Value v, Loc loc, const char *what) {
    if (v.k != V_TENSOR) fail(e, loc, "%s must be a tensor, got %s", what, kind_name(v.k));
    return v.node;
}

/* Axis names from an axis-list value (for `over`-style arguments). */
static int axis_names(El *e, Value v, Loc loc, const char **out, const char *what) {
    if (v.k == V_STR) { out[0] = v.s; return 1; }
    if (v.k != V_AXES) fail(e, loc, "%s must be an axis list like [ch], got %s", what, kind_name(v.k));
    if (v.nax > IR_MAX_RANK) fail(e, loc, "too many axes in %s", what);
    for (int i = 0; i < v.nax; i++) {
        if (!v.ax[i].name) fail(e, loc, "%s: expected axis names, got a bare size", what);
        out[i] = v.ax[i].name;
    }
    return v.nax;
}

static const char *one_axis(El *e, Value v, Loc loc, const char *what) {
    const char *n[IR_MAX_RANK];
    if (axis_names(e, v, loc, n, what) != 1) fail(e, loc, "%s must name exactly one axis", what);
    return n[0];
}

static int axis_in(El *e, int node, const char *ax, Loc loc) {
    int j = ir_axis_find(&N(e, node)->shape, ax);
    if (j < 0) fail(e, loc, "tensor %s has no axis '%s'", shape_s(e, &N(e, node)->shape), ax);
    return j;
}

/* Elementwise binary op with named-axis broadcast. */
static int mk_binary(El *e, enum ir_op op, int a, int b, Loc loc) {
    unify(e, a, &N(e, b)->shape);
    unify(e, b, &N(e, a)->shape);
    need_known(e, a, loc);
    need_known(e, b, loc);
    const IrShape *sa = &N(e, a)->shape, *sb = &N(e, b)->shape;
    IrNode n = {.op = op, .nsrc = 2, .src = {a, b}};
    n.shape = *sa;
    for (int i = 0; i < sb->rank; i++) {
        int j = ir_axis_find(sa, sb->ax[i].name);
        if (j >= 0) {
            if (sa->ax[j].size != sb->ax[i].size)
                fail(e, loc, "axis '%s' has size %lld on the left %s but %lld on the right %s", sb->ax[i].name,
                     (long long)sa->ax[j].size, shape_s(e, sa), (long long)sb->ax[i].size, shape_s(e, sb));
        } else {
            if (n.shape.rank == IR_MAX_RANK) fail(e, loc, "result has more than %d axes", IR_MAX_RANK);
            n.shape.ax[n.shape.rank++] = sb->ax[i];
        }
    }
    /* when b holds every axis of a, keep b's order (e.g. bias + x) */
    if (sb->rank > sa->rank && n.shape.rank == sb->rank) n.shape = *sb;
    return add_node(e, &n, loc);
}

static int mk_unary(El *e, enum ir_op op, int x, Loc loc, float f0, float f1) {
    need_known(e, x, loc);
    IrNode n = {.op = op, .nsrc = 1, .src = {x}, .shape = N(e, x)->shape, .f = {f0, f1}};
    return add_node(e, &n, loc);
}

static int mk_contract(El *e, int a, int b, const char **over, int nover, Loc loc) {
    unify(e, a, &N(e, b)->shape);
    unify(e, b, &N(e, a)->shape);
    need_known(e, a, loc);
    need_known(e, b, loc);
    const IrShape *sa = &N(e, a)->shape, *sb = &N(e, b)->shape;
    for (int k = 0; k < nover; k++) {
        int ia = ir_axis_find(sa, over[k]), ib = ir_axis_find(sb, over[k]);
        if (ia < 0 || ib < 0)
            fail(e, loc, "cannot contract over '%s': it is not an axis of %s %s", over[k], ia < 0 ? "the left operand" : "the right operand",
                 shape_s(e, ia < 0 ? sa : sb));
        if (sa->ax[ia].size != sb->ax[ib].size)
            fail(e, loc, "contracted axis '%s' has size %lld in %s but %lld in %s", over[k], (long long)sa->ax[ia].size,
                 shape_s(e, sa), (long long)sb->ax[ib].size, shape_s(e, sb));
    }
    IrNode n = {.op = IR_OP_CONTRACT, .nsrc = 2, .src = {a, b}, .nax = nover};
    for (int k = 0; k < nover; k++) n.ax[k] = over[k];
    for (int i = 0; i < sa->rank; i++) {
        bool summed = false;
        for (int k = 0; k < nover; k++) summed |= !strcmp(over[k], sa->ax[i].name);
        if (!summed) n.shape.ax[n.shape.rank++] = sa->ax[i];
    }
    for (int i = 0; i < sb->rank; i++) {
        bool summed = false;
        for (int k = 0; k < nover; k++) summed |= !strcmp(over[k], sb->ax[i].name);
        int ja = ir_axis_find(sa, sb->ax[i].name);
        if (ja >= 0 && !summed && sa->ax[ja].size != sb->ax[i].size)
            fail(e, loc, "batch axis '%s' has size %lld in %s but %lld in %s", sb->ax[i].name, (long long)sa->ax[ja].size,
                 shape_s(e, sa), (long long)sb->ax[i].size, shape_s(e, sb));
        if (summed || ja >= 0) continue;
        if (n.shape.rank == IR_MAX_RANK) fail(e, loc, "result has more than %d axes", IR_MAX_RANK);
        n.shape.ax[n.shape.rank++] = sb->ax[i];
    }
    return add_node(e, &n, loc);
}

static int mk_reshape(El *e, int x, const IrShape *to, Loc loc) {
    IrNode n = {.op = IR_OP_RESHAPE, .nsrc = 1, .src = {x}, .shape = *to};
    if (ir_numel(to) != ir_numel(&N(e, x)->shape))
        fail(e, loc, "reshape from %s to %s changes the number of elements", shape_s(e, &N(e, x)->shape), shape_s(e, to));
    return add_node(e, &n, loc);
}

static int mk_permute(El *e, int x, const IrShape *to, Loc loc) {
    const IrShape *s = &N(e, x)->shape;
    bool same = true;
    for (int i = 0; i < s->rank; i++) same &= !strcmp(s->ax[i].name, to->ax[i].name);
    if (same) return x;
    IrNode n = {.op = IR_OP_PERMUTE, .nsrc = 1, .src = {x}, .shape = *to};
    return add_node(e, &n, loc);
}

static void check_dup_axes(El *e, const IrShape *s, Loc loc) {
    for (int i = 0; i < s->rank; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(s->ax[i].name, s->ax[j].name))
                fail(e, loc, "axis '%s' appears twice in %s", s->ax[i].name, shape_s(e, s));
}

/* ---- expressions ------------------------------------------------------------- */
static Value eval(El *e, Env *env, Ast *x);
static void exec_list(El *e, Env *env, AstList *l);
static Value call_block(El *e, Env *env, Ast *call, Ast *blk);
static void step(El *e, Loc loc);

static Value vint(int64_t i) { Value v = {.k = V_INT, .i = i}; return v; }
static Value vflt(double f) { Value v = {.k = V_FLOAT, .f = f}; return v; }
static Value vtensor(int n) { Value v = {.k = V_TENSOR, .node = n}; return v; }

static double num(El *e, Value v, Loc loc, const char *what) {
    if (v.k == V_INT) return (double)v.i;
    if (v.k == V_FLOAT) return v.f;
    fail(e, loc, "%s must be a number, got %s", what, kind_name(v.k));
}
static int64_t inum(El *e, Value v, Loc loc, const char *what) {
    if (v.k != V_INT) fail(e, loc, "%s must be an integer, got %s", what, kind_name(v.k));
    return v.i;
}
static bool truthy(El *e, Value v, Loc loc) {
    if (v.k == V_INT) return v.i != 0;
    if (v.k == V_FLOAT) return v.f != 0;
    if (v.k == V_STR) return v.s[0] != 0;
    if (v.k == V_NONE) return false;
    fail(e, loc, "a %s cannot be used as a condition", kind_name(v.k));
}

/* "blocks.{i}.attn" with {name} replaced by the variable's value */
static const char *interp_str(El *e, Env *env, const char *s, Loc loc) {
    if (!strchr(s, '{')) return s;
    char out[1024];
    size_t k = 0;
    for (const char *p = s; *p && k < sizeof out - 1;) {
        if (*p != '{') { out[k++] = *p++; continue; }
        const char *q = strchr(p, '}');
        if (!q) fail(e, loc, "unclosed '{' in string \"%s\"", s);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(q - p - 1), p + 1);
        Value *v = env_get(env, name);
        if (!v) fail(e, loc, "unknown name '%s' in string \"%s\"", name, s);
        if (v->k == V_INT) k += (size_t)snprintf(out + k, sizeof out - k, "%lld", (long long)v->i);
        else if (v->k == V_STR) k += (size_t)snprintf(out + k, sizeof out - k, "%s", v->s);
        else fail(e, loc, "'%s' is a %s; only integers and strings go into strings", name, kind_name(v->k));
        p = q + 1;
    }
    if (k >= sizeof out - 1) fail(e, loc, "string \"%.40s...\" is longer than %d characters after substitution", s, (int)sizeof out - 2);
    out[k] = 0;
    return arena_strdup(&e->c->arena, out);
}

/* A list [...]: in an axis context a bare name is an axis (or the axes a
 * variable holds); in a size context (a parameter's stored shape before
 * `as`) bare names are evaluated as numbers. */
static Value eval_list_ctx(El *e, Env *env, Ast *x, bool sizes) {
    Value v = {.k = V_AXES};
    int cap = x->list.n * IR_MAX_RANK + 1;
    v.ax = arena_alloc(&e->c->arena, sizeof(AxItem) * (size_t)cap);
    for (int i = 0; i < x->list.n; i++) {
        Ast *it = x->list.v[i];
        if (it->kind == AST_ITEM_SIZED) {
            Value s = eval(e, env, it->a);
            Value *nv = env_get(env, it->name);
            const char *nm = nv && nv->k == V_AXES && nv->nax == 1 ? nv->ax[0].name : it->name;
            v.ax[v.nax++] = (AxItem){nm, inum(e, s, it->a->loc, "an axis size"), NULL};
        } else if (it->kind == AST_ITEM_RENAME) {
            Value *a = env_get(env, it->name), *b = env_get(env, it->name2);
            const char *from = a && a->k == V_AXES && a->nax == 1 ? a->ax[0].name : it->name;
            const char *to = b && b->k == V_AXES && b->nax == 1 ? b->ax[0].name : it->name2;
            v.ax[v.nax++] = (AxItem){from, -1, to};
        } else if (it->kind == AST_IDENT && !sizes && (!env_get(env, it->name) || env_get(env, it->name)->k != V_AXES)) {
            v.ax[v.nax++] = (AxItem){it->name, -1, NULL};
        } else {
            Value s = eval(e, env, it);
            if (s.k == V_AXES) {
                for (int j = 0; j < s.nax; j++) {
                    if (v.nax >= cap) fail(e, it->loc, "axis list too long");
                    v.ax[v.nax++] = s.ax[j];
                }
            } else if (s.k == V_STR) {
                v.ax[v.nax++] = (AxItem){s.s, -1, NULL};
            } else {
                v.ax[v.nax++] = (AxItem){NULL, inum(e, s, it->loc, "a list item"), NULL};
            }
        }
    }
    return v;
}

static Value eval_list(El *e, Env *env, Ast *x) { return eval_list_ctx(e, env, x, false); }

static Value eval_param(El *e, Env *env, Ast *x) {
    Value st = eval_list_ctx(e, env, x->a, x->b != NULL);
    Value vw = x->b ? eval_list(e, env, x->b) : st;
    const char *key = interp_str(e, env, x->str, x->loc);
    const char *scope = e->frame->scope;
    const char *full = *scope ? arena_printf(&e->c->arena, "%s.%s", scope, key) : key;
    IrNode n = {.op = IR_OP_PARAM, .key = ir_strdup(e->g, full)};
    if (vw.nax > IR_MAX_RANK || st.nax > IR_MAX_RANK) fail(e, x->loc, "a parameter has at most %d axes", IR_MAX_RANK);
    for (int i = 0; i < vw.nax; i++) {
        if (!vw.ax[i].name) fail(e, x->loc, "parameter '%s': every axis of the view needs a name", full);
        n.shape.ax[i] = (IrAxis){vw.ax[i].name, vw.ax[i].size};
    }
    n.shape.rank = vw.nax;
    check_dup_axes(e, &n.shape, x->loc);
    if (x->b) {
        for (int i = 0; i < st.nax; i++) {
            if (st.ax[i].size < 0) fail(e, x->loc, "parameter '%s': the stored shape needs every size", full);
            n.stored.ax[i] = (IrAxis){NULL, st.ax[i].size};
        }
        n.stored.rank = st.nax;
    } else {
        n.stored.rank = -1; /* = the view's sizes, filled in when known */
    }
    return vtensor(add_node(e, &n, x->loc));
}

/* A constant tensor of the given shape (rank 0 for a scalar). */
static int mk_const(El *e, const IrShape *shape, const float *vals, float fill, Loc loc) {
    IrNode n = {.op = IR_OP_CONST, .shape = *shape};
    int64_t k = ir_numel_checked(shape);
    if (k < 0 || k > ELAB_MAX_CONST)
        fail(e, loc, "a constant of shape %s is too large (at most %d elements are embedded in a module)", shape_s(e, shape),
             ELAB_MAX_CONST);
    n.cdata = ir_alloc(e->g, sizeof(float) * (size_t)(k ? k : 1));
    for (int64_t i = 0; i < k; i++) n.cdata[i] = vals ? vals[i] : fill;
    return add_node(e, &n, loc);
}

static int as_tensor(El *e, Value v, Loc loc, const char *what) {
    if (v.k == V_TENSOR) return v.node;
    IrShape s = {0};
    return mk_const(e, &s, NULL, (float)num(e, v, loc, what), loc);
}

static int cmp_kind(int op) {
    switch (op) {
    case EQ: return 0;
    case NE: return 1;
    case '<': return 2;
    case LE: return 3;
    case '>': return 4;
    case GE: return 5;
    default: return -1;
    }
}

static _Noreturn void overflow(El *e, Loc loc) {
    fail(e, loc, "integer overflow (results must lie within +-%lld)", (long long)INT64_MAX);
}

static Value arith(El *e, int op, Value a, Value b, Loc loc) {
    if ((a.k == V_TENSOR || b.k == V_TENSOR) && cmp_kind(op) >= 0) {
        int x = as_tensor(e, a, loc, "the left operand"), y = as_tensor(e, b, loc, "the right operand");
        int r = mk_binary(e, IR_OP_ADD, x, y, loc); /* shape and checks of a broadcast */
        IrNode *n = &e->g->nodes[r];
        n->op = IR_OP_CMP;
        n->i[0] = cmp_kind(op);
        return vtensor(r);
    }
    if (a.k == V_TENSOR && b.k == V_TENSOR) {
        switch (op) {
        case '+': return vtensor(mk_binary(e, IR_OP_ADD, a.node, b.node, loc));
        case '-': return vtensor(mk_binary(e, IR_OP_SUB, a.node, b.node, loc));
        case '*': return vtensor(mk_binary(e, IR_OP_MUL, a.node, b.node, loc));
        case '/': return vtensor(mk_binary(e, IR_OP_DIV, a.node, b.node, loc));
        default: fail(e, loc, "this operator does not apply to two tensors");
        }
    }
    if (a.k == V_TENSOR || b.k == V_TENSOR) {
        bool left = a.k == V_TENSOR;
        int t = left ? a.node : b.node;
        double s = num(e, left ? b : a, loc, "the scalar operand");
        switch (op) {
        case '+': return vtensor(mk_unary(e, IR_OP_SCALE, t, loc, 1.0f, (float)s));
        case '-': return vtensor(left ? mk_unary(e, IR_OP_SCALE, t, loc, 1.0f, (float)-s)
                                      : mk_unary(e, IR_OP_SCALE, t, loc, -1.0f, (float)s));
        case '*': return vtensor(mk_unary(e, IR_OP_SCALE, t, loc, (float)s, 0.0f));
        case '/':
            if (!left) fail(e, loc, "a number divided by a tensor is not supported");
            return vtensor(mk_unary(e, IR_OP_SCALE, t, loc, (float)(1.0 / s), 0.0f));
        default: fail(e, loc, "this operator does not apply to a tensor and a number");
        }
    }
    if (a.k == V_STR && b.k == V_STR) {
        if (op == EQ) return vint(!strcmp(a.s, b.s));
        if (op == NE) return vint(strcmp(a.s, b.s) != 0);
        if (op == '+') {
            if (strlen(a.s) + strlen(b.s) > ELAB_MAX_STRING) fail(e, loc, "a string longer than %d characters", ELAB_MAX_STRING);
            Value v = {.k = V_STR, .s = arena_printf(&e->c->arena, "%s%s", a.s, b.s)};
            return v;
        }
        fail(e, loc, "this operator does not apply to strings");
    }
    if (op == AND) return vint(truthy(e, a, loc) && truthy(e, b, loc));
    if (op == OR) return vint(truthy(e, a, loc) || truthy(e, b, loc));
    if (a.k == V_INT && b.k == V_INT) {
        int64_t x = a.i, y = b.i, r = 1;
        switch (op) {
        case '+': if (__builtin_add_overflow(x, y, &r)) overflow(e, loc); return vint(r);
        case '-': if (__builtin_sub_overflow(x, y, &r)) overflow(e, loc); return vint(r);
        case '*': if (__builtin_mul_overflow(x, y, &r)) overflow(e, loc); return vint(r);
        case '/':
            if (!y) fail(e, loc, "division by zero");
            if (y == -1) return arith(e, '*', a, vint(-1), loc);
            return x % y == 0 ? vint(x / y) : vflt((double)x / (double)y);
        case IDIV:
            if (!y) fail(e, loc, "division by zero");
            return y == -1 ? arith(e, '*', a, vint(-1), loc) : vint(x / y);
        case '%': if (!y) fail(e, loc, "division by zero"); return vint(y == -1 ? 0 : x % y);
        case POW:
            if (y < 0) return vflt(pow((double)x, (double)y));
            if (x == 0 || x == 1) return vint(y == 0 ? 1 : x);
            if (x == -1) return vint(y % 2 ? -1 : 1);
            while (y--) /* |x| >= 2: overflows within 63 turns */
                if (__builtin_mul_overflow(r, x, &r)) overflow(e, loc);
            return vint(r);
        case EQ: return vint(x == y);
        case NE: return vint(x != y);
        case '<': return vint(x < y);
        case LE: return vint(x <= y);
        case '>': return vint(x > y);
        case GE: return vint(x >= y);
        }
    }
    double x = num(e, a, loc, "the left operand"), y = num(e, b, loc, "the right operand");
    switch (op) {
    case '+': return vflt(x + y);
    case '-': return vflt(x - y);
    case '*': return vflt(x * y);
    case '/': return vflt(x / y);
    case IDIV: return vflt(floor(x / y));
    case '%': return vflt(fmod(x, y));
    case POW: return vflt(pow(x, y));
    case EQ: return vint(x == y);
    case NE: return vint(x != y);
    case '<': return vint(x < y);
    case LE: return vint(x <= y);
    case '>': return vint(x > y);
    case GE: return vint(x >= y);
    }
    fail(e, loc, "unknown operator");
}

/* ---- builtins ------------------------------------------------------------------ */
typedef struct {
    Value v[8];   /* positional then keyword (by the builtin's own parameter order) */
    bool has[8];
    Loc loc[8];
} Args;

/* Bind a call's arguments to a builtin's named parameters ("x", "over", ...). */
static void bind_args(El *e, Env *env, Ast *call, const char *const *names, int nnames, int required, Args *a) {
    memset(a, 0, sizeof *a);
    int pos = 0;
    for (int i = 0; i < call->list.n; i++) {
        Ast *arg = call->list.v[i];
        int slot;
        if (arg->kind == AST_ARG_KW) {
            slot = -1;
            for (int j = 0; j < nnames; j++)
                if (!strcmp(names[j], arg->name)) slot = j;
            if (slot < 0) fail(e, arg->loc, "'%s' has no argument named '%s'", call->name, arg->name);
            a->v[slot] = eval(e, env, arg->a);
        } else {
            if (pos >= nnames) fail(e, arg->loc, "too many arguments to '%s' (it takes %d)", call->name, nnames);
            slot = pos++;
            a->v[slot] = eval(e, env, arg);
        }
        if (a->has[slot]) fail(e, arg->loc, "argument '%s' of '%s' given twice", names[slot], call->name);
        a->has[slot] = true;
        a->loc[slot] = arg->loc;
    }
    for (int j = 0; j < required; j++)
        if (!a->has[j]) fail(e, call->loc, "'%s' needs its argument '%s'", call->name, names[j]);
}

static enum ir_op act_op(const char *s) {
    static const struct { const char *n; enum ir_op op; } t[] = {
        {"gelu", IR_OP_GELU}, {"gelu_tanh", IR_OP_GELU_TANH}, {"quick_gelu", IR_OP_QUICK_GELU},
        {"silu", IR_OP_SILU}, {"swish", IR_OP_SILU}, {"sigmoid", IR_OP_SIGMOID}, {"relu", IR_OP_RELU},
        {"exp", IR_OP_EXP}, {"tanh", IR_OP_TANH}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].n, s)) return t[i].op;
    return IR_OP_COUNT;
}

#define NAMES(...) (const char *const[]){__VA_ARGS__}, (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static bool builtin(El *e, Env *env, Ast *call, Value *out) {
    const char *f = call->name;
    Loc L = call->loc;
    Args a;
    if (!strcmp(f, "input")) {
        bind_args(e, env, call, NAMES("shape"), 1, &a);
        if (e->g->input >= 0) fail(e, L, "the model already has an input");
        Value s = a.v[0];
        if (s.k != V_AXES) fail(e, a.loc[0], "input needs an axis list with sizes, like [c = 3, h = size, w = size]");
        IrNode n = {.op = IR_OP_INPUT};
        for (int i = 0; i < s.nax && i < IR_MAX_RANK; i++) {
            if (!s.ax[i].name || s.ax[i].size < 1) fail(e, a.loc[0], "input axes need names and positive sizes");
            n.shape.ax[n.shape.rank++] = (IrAxis){s.ax[i].name, s.ax[i].size};
        }
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "contract")) {
        bind_args(e, env, call, NAMES("a", "b", "over"), 3, &a);
        const char *over[IR_MAX_RANK];
        int no = axis_names(e, a.v[2], a.loc[2], over, "contract's 'over'");
        *out = vtensor(mk_contract(e, tensor_arg(e, a.v[0], a.loc[0], "contract's 'a'"),
                                   tensor_arg(e, a.v[1], a.loc[1], "contract's 'b'"), over, no, L));
        return true;
    }
    if (!strcmp(f, "softmax")) {
        bind_args(e, env, call, NAMES("x", "over"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "softmax's 'x'");
        const char *ax = one_axis(e, a.v[1], a.loc[1], "softmax's 'over'");
        axis_in(e, x, ax, a.loc[1]);
        IrNode n = {.op = IR_OP_SOFTMAX, .nsrc = 1, .src = {x}, .shape = N(e, x)->shape, .nax = 1, .ax = {ax}};
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "layernorm") || !strcmp(f, "rmsnorm")) {
        bool ln = f[0] == 'l';
        if (ln) bind_args(e, env, call, NAMES("x", "weight", "bias", "over", "eps"), 5, &a);
        else bind_args(e, env, call, NAMES("x", "weight", "over", "eps"), 4, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the normalised input");
        int iov = ln ? 3 : 2;
        const char *ax = one_axis(e, a.v[iov], a.loc[iov], "the normalised axis");
        int j = axis_in(e, x, ax, a.loc[iov]);
        IrNode n = {.op = ln ? IR_OP_LAYERNORM : IR_OP_RMSNORM, .nsrc = 1, .src = {x}, .shape = N(e, x)->shape,
                    .nax = 1, .ax = {ax}, .f = {(float)num(e, a.v[iov + 1], a.loc[iov + 1], "eps")}};
        for (int s = 1; s < iov; s++) {
            if (a.v[s].k == V_NONE || (a.v[s].k == V_INT && a.v[s].i == 0)) {
                if (s == 1 && ln && a.v[2].k == V_TENSOR) fail(e, a.loc[s], "a norm with a bias needs a weight");
                continue;
            }
            int p = tensor_arg(e, a.v[s], a.loc[s], "a norm's weight or bias");
            unify(e, p, &N(e, x)->shape);
            need_known(e, p, a.loc[s]);
            const IrShape *ps = &N(e, p)->shape;
            if (ps->rank != 1 || strcmp(ps->ax[0].name, ax) || ps->ax[0].size != N(e, x)->shape.ax[j].size)
                fail(e, a.loc[s], "norm weight/bias has shape %s; expected [%s=%lld]", shape_s(e, ps), ax,
                     (long long)N(e, x)->shape.ax[j].size);
            n.src[n.nsrc++] = p;
        }
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (act_op(f) != IR_OP_COUNT) {
        bind_args(e, env, call, NAMES("x"), 1, &a);
        *out = vtensor(mk_unary(e, act_op(f), tensor_arg(e, a.v[0], a.loc[0], "the input"), L, 0, 0));
        return true;
    }
    if (!strcmp(f, "act")) {
        bind_args(e, env, call, NAMES("x", "name"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        if (a.v[1].k != V_STR) fail(e, a.loc[1], "act's name must be a string");
        if (!strcmp(a.v[1].s, "identity") || !strcmp(a.v[1].s, "none")) { *out = a.v[0]; return true; }
        enum ir_op op = act_op(a.v[1].s);
        if (op == IR_OP_COUNT) fail(e, a.loc[1], "unknown activation \"%s\" (gelu, gelu_tanh, quick_gelu, silu, sigmoid, relu, tanh, exp, identity)", a.v[1].s);
        *out = vtensor(mk_unary(e, op, x, L, 0, 0));
        return true;
    }
    if (!strcmp(f, "sum") || !strcmp(f, "mean")) {
        bind_args(e, env, call, NAMES("x", "over"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *over[IR_MAX_RANK];
        int no = axis_names(e, a.v[1], a.loc[1], over, "'over'");
        IrNode n = {.op = f[0] == 's' ? IR_OP_SUM : IR_OP_MEAN, .nsrc = 1, .src = {x}, .nax = no};
        for (int k = 0; k < no; k++) { n.ax[k] = over[k]; axis_in(e, x, over[k], a.loc[1]); }
        const IrShape *s = &N(e, x)->shape;
        for (int i = 0; i < s->rank; i++) {
            bool red = false;
            for (int k = 0; k < no; k++) red |= !strcmp(over[k], s->ax[i].name);
            if (!red) n.shape.ax[n.shape.rank++] = s->ax[i];
        }
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "rename")) {
        bind_args(e, env, call, NAMES("x", "map"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        if (a.v[1].k != V_AXES) fail(e, a.loc[1], "rename takes a list like [tok -> key]");
        IrShape s = N(e, x)->shape;
        for (int k = 0; k < a.v[1].nax; k++) {
            const AxItem *it = &a.v[1].ax[k];
            if (!it->to) fail(e, a.loc[1], "rename takes pairs like [tok -> key]");
            int j = axis_in(e, x, it->name, a.loc[1]);
            s.ax[j].name = it->to;
        }
        check_dup_axes(e, &s, L);
        *out = vtensor(mk_reshape(e, x, &s, L));
        return true;
    }
    if (!strcmp(f, "split")) {
        bind_args(e, env, call, NAMES("x", "axis", "into"), 3, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *ax = one_axis(e, a.v[1], a.loc[1], "the split axis");
        int j = axis_in(e, x, ax, a.loc[1]);
        Value in = a.v[2];
        if (in.k != V_AXES || in.nax < 1) fail(e, a.loc[2], "split needs the new axes, like [gy, ky = 16]");
        const IrShape *s = &N(e, x)->shape;
        if (s->rank - 1 + in.nax > IR_MAX_RANK) fail(e, L, "result has more than %d axes", IR_MAX_RANK);
        int64_t known = 1, unknown = -1;
        for (int k = 0; k < in.nax; k++) {
            if (!in.ax[k].name) fail(e, a.loc[2], "split's new axes need names");
            if (in.ax[k].size < 0) { if (unknown >= 0) fail(e, a.loc[2], "split can infer only one size"); unknown = k; }
            else known *= in.ax[k].size;
        }
        int64_t total = s->ax[j].size;
        IrShape o = {0};
        for (int i = 0; i < s->rank; i++) {
            if (i != j) { o.ax[o.rank++] = s->ax[i]; continue; }
            for (int k = 0; k < in.nax; k++) {
                int64_t sz = in.ax[k].size;
                if (k == unknown) sz = known ? total / known : 0;
                o.ax[o.rank++] = (IrAxis){in.ax[k].name, sz};
            }
        }
        if (ir_numel(&o) != ir_numel(s) || (unknown < 0 && known != total) || (known && total % known))
            fail(e, L, "cannot split axis '%s' of size %lld into %s", ax, (long long)total, shape_s(e, &o));
        check_dup_axes(e, &o, L);
        *out = vtensor(mk_reshape(e, x, &o, L));
        return true;
    }
    if (!strcmp(f, "merge")) {
        bind_args(e, env, call, NAMES("x", "axes", "into"), 3, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *ms[IR_MAX_RANK];
        int nm = axis_names(e, a.v[1], a.loc[1], ms, "the merged axes");
        const char *into = one_axis(e, a.v[2], a.loc[2], "the new axis");
        const IrShape s0 = N(e, x)->shape, *s = &s0; /* a copy: mk_permute below may move the node array */
        for (int k = 0; k < nm; k++)
            for (int j = 0; j < k; j++)
                if (!strcmp(ms[j], ms[k])) fail(e, a.loc[1], "axis '%s' is merged twice", ms[k]);
        int first = -1;
        for (int k = 0; k < nm; k++) { int j = axis_in(e, x, ms[k], a.loc[1]); if (first < 0 || j < first) first = j; }
        /* permute so the merged axes sit together, in the given order, where the first of them was */
        IrShape p = {0};
        for (int i = 0; i < s->rank; i++) {
            bool in = false;
            for (int k = 0; k < nm; k++) in |= !strcmp(ms[k], s->ax[i].name);
            if (i == first)
                for (int k = 0; k < nm; k++) p.ax[p.rank++] = s->ax[ir_axis_find(s, ms[k])];
            if (!in) p.ax[p.rank++] = s->ax[i];
        }
        int y = mk_permute(e, x, &p, L);
        IrShape o = {0};
        int64_t prod = 1;
        for (int k = 0; k < nm; k++) prod *= s->ax[ir_axis_find(s, ms[k])].size;
        for (int i = 0; i < p.rank; i++) {
            bool in = false;
            for (int k = 0; k < nm; k++) in |= !strcmp(ms[k], p.ax[i].name);
            if (!in) o.ax[o.rank++] = p.ax[i];
            else if (!strcmp(ms[0], p.ax[i].name)) o.ax[o.rank++] = (IrAxis){into, prod};
        }
        check_dup_axes(e, &o, L);
        *out = vtensor(mk_reshape(e, y, &o, L));
        return true;
    }
    if (!strcmp(f, "permute")) {
        bind_args(e, env, call, NAMES("x", "order"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *ord[IR_MAX_RANK];
        int no = axis_names(e, a.v[1], a.loc[1], ord, "the axis order");
        const IrShape *s = &N(e, x)->shape;
        if (no != s->rank) fail(e, a.loc[1], "permute needs all %d axes of %s", s->rank, shape_s(e, s));
        IrShape o = {.rank = no};
        for (int k = 0; k < no; k++) o.ax[k] = s->ax[axis_in(e, x, ord[k], a.loc[1])];
        check_dup_axes(e, &o, L);
        *out = vtensor(mk_permute(e, x, &o, L));
        return true;
    }
    if (!strcmp(f, "select") || !strcmp(f, "slice")) {
        bool sel = f[1] == 'e';
        if (sel) bind_args(e, env, call, NAMES("x", "axis", "index"), 3, &a);
        else bind_args(e, env, call, NAMES("x", "axis", "start", "len"), 4, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *ax = one_axis(e, a.v[1], a.loc[1], "the axis");
        int j = axis_in(e, x, ax, a.loc[1]);
        const IrShape *s = &N(e, x)->shape;
        int64_t st = inum(e, a.v[2], a.loc[2], "the index"), len = sel ? 1 : inum(e, a.v[3], a.loc[3], "the length");
        if (st < 0) st += s->ax[j].size;
        if (st < 0 || len < 1 || st + len > s->ax[j].size)
            fail(e, a.loc[2], "index %lld (length %lld) is outside axis '%s' of size %lld", (long long)st, (long long)len, ax,
                 (long long)s->ax[j].size);
        IrNode n = {.op = sel ? IR_OP_SELECT : IR_OP_SLICE, .nsrc = 1, .src = {x}, .nax = 1, .ax = {ax}, .i = {st}};
        for (int i = 0; i < s->rank; i++) {
            if (i == j && sel) continue;
            n.shape.ax[n.shape.rank] = s->ax[i];
            if (i == j) n.shape.ax[n.shape.rank].size = len;
            n.shape.rank++;
        }
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "concat")) {
        bind_args(e, env, call, NAMES("a", "b", "axis"), 3, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "concat's first tensor");
        int y = tensor_arg(e, a.v[1], a.loc[1], "concat's second tensor");
        const char *ax = one_axis(e, a.v[2], a.loc[2], "the axis");
        unify(e, x, &N(e, y)->shape);
        unify(e, y, &N(e, x)->shape);
        need_known(e, x, L);
        need_known(e, y, L);
        int jx = axis_in(e, x, ax, a.loc[2]);
        int jy = axis_in(e, y, ax, a.loc[2]);
        const IrShape *sx = &N(e, x)->shape, *sy = &N(e, y)->shape;
        bool ok = sx->rank == sy->rank && jx == jy;
        for (int i = 0; ok && i < sx->rank; i++)
            ok = !strcmp(sx->ax[i].name, sy->ax[i].name) && (i == jx || sx->ax[i].size == sy->ax[i].size);
        if (!ok) fail(e, L, "cannot concatenate %s and %s along '%s': the other axes differ", shape_s(e, sx), shape_s(e, sy), ax);
        IrNode n = {.op = IR_OP_CONCAT, .nsrc = 2, .src = {x, y}, .nax = 1, .ax = {ax}, .shape = *sx};
        n.shape.ax[jx].size += sy->ax[jy].size;
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "unbind")) {
        bind_args(e, env, call, NAMES("x", "axis"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *ax = one_axis(e, a.v[1], a.loc[1], "the axis");
        int j = axis_in(e, x, ax, a.loc[1]);
        int64_t k = N(e, x)->shape.ax[j].size;
        Value t = {.k = V_TUPLE, .ntup = (int)k};
        t.tup = arena_alloc(&e->c->arena, sizeof(Value) * (size_t)k);
        for (int64_t i = 0; i < k; i++) {
            const IrShape *s = &N(e, x)->shape;
            IrNode n = {.op = IR_OP_SELECT, .nsrc = 1, .src = {x}, .nax = 1, .ax = {ax}, .i = {i}};
            for (int q = 0; q < s->rank; q++) if (q != j) n.shape.ax[n.shape.rank++] = s->ax[q];
            t.tup[i] = vtensor(add_node(e, &n, L));
        }
        *out = t;
        return true;
    }
    if (!strcmp(f, "resample")) {
        bind_args(e, env, call, NAMES("x", "axes", "h", "w", "antialias"), 4, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        need_known(e, x, L);
        const char *ax[IR_MAX_RANK];
        if (axis_names(e, a.v[1], a.loc[1], ax, "the resampled axes") != 2) fail(e, a.loc[1], "resample takes two axes, like [gy, gx]");
        int j0 = axis_in(e, x, ax[0], a.loc[1]), j1 = axis_in(e, x, ax[1], a.loc[1]);
        if (j1 != j0 + 1) fail(e, a.loc[1], "resample's axes must be adjacent and in order in %s", shape_s(e, &N(e, x)->shape));
        IrNode n = {.op = IR_OP_RESAMPLE, .nsrc = 1, .src = {x}, .nax = 2, .ax = {ax[0], ax[1]}, .shape = N(e, x)->shape,
                    .i = {a.has[4] ? inum(e, a.v[4], a.loc[4], "antialias") : 1}};
        n.shape.ax[j0].size = inum(e, a.v[2], a.loc[2], "the new height");
        n.shape.ax[j1].size = inum(e, a.v[3], a.loc[3], "the new width");
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "iota")) {
        bind_args(e, env, call, NAMES("axis"), 1, &a);
        if (a.v[0].k != V_AXES || a.v[0].nax != 1 || a.v[0].ax[0].size < 1) fail(e, a.loc[0], "iota takes one sized axis, like [i = 7]");
        IrShape sh = {.rank = 1, .ax = {{a.v[0].ax[0].name, a.v[0].ax[0].size}}};
        int r = mk_const(e, &sh, NULL, 0, L);
        for (int64_t i = 0; i < sh.ax[0].size; i++) e->g->nodes[r].cdata[i] = (float)i;
        *out = vtensor(r);
        return true;
    }
    if (!strcmp(f, "full")) {
        bind_args(e, env, call, NAMES("shape", "value"), 2, &a);
        if (a.v[0].k != V_AXES) fail(e, a.loc[0], "full takes sized axes, like [i = 3, j = 4]");
        IrShape sh = {0};
        for (int k = 0; k < a.v[0].nax && k < IR_MAX_RANK; k++) {
            if (!a.v[0].ax[k].name || a.v[0].ax[k].size < 0) fail(e, a.loc[0], "full's axes need names and sizes");
            sh.ax[sh.rank++] = (IrAxis){a.v[0].ax[k].name, a.v[0].ax[k].size};
        }
        *out = vtensor(mk_const(e, &sh, NULL, (float)num(e, a.v[1], a.loc[1], "the value"), L));
        return true;
    }
    if (!strcmp(f, "rsqrt")) {
        bind_args(e, env, call, NAMES("x"), 1, &a);
        *out = vtensor(mk_unary(e, IR_OP_RSQRT, tensor_arg(e, a.v[0], a.loc[0], "the input"), L, 0, 0));
        return true;
    }
    if (!strcmp(f, "gather")) {
        bind_args(e, env, call, NAMES("x", "axis", "index"), 3, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the gathered tensor");
        const char *ax = one_axis(e, a.v[1], a.loc[1], "the gathered axis");
        int ix = tensor_arg(e, a.v[2], a.loc[2], "the index");
        need_known(e, x, L);
        int p = axis_in(e, x, ax, a.loc[1]);
        const IrShape *xs = &N(e, x)->shape, *is = &N(e, ix)->shape;
        if (xs->rank - 1 + is->rank > IR_MAX_RANK) fail(e, L, "result has more than %d axes", IR_MAX_RANK);
        IrNode n = {.op = IR_OP_GATHER, .nsrc = 2, .src = {x, ix}, .nax = 1, .ax = {ax}};
        for (int d = 0; d < xs->rank; d++) {
            if (d == p) for (int q = 0; q < is->rank; q++) n.shape.ax[n.shape.rank++] = is->ax[q];
            else n.shape.ax[n.shape.rank++] = xs->ax[d];
        }
        check_dup_axes(e, &n.shape, L);
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "argmax")) {
        bind_args(e, env, call, NAMES("x", "over"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *ax = one_axis(e, a.v[1], a.loc[1], "the axis");
        int p = axis_in(e, x, ax, a.loc[1]);
        IrNode n = {.op = IR_OP_ARGMAX, .nsrc = 1, .src = {x}, .nax = 1, .ax = {ax}};
        for (int d = 0; d < N(e, x)->shape.rank; d++)
            if (d != p) n.shape.ax[n.shape.rank++] = N(e, x)->shape.ax[d];
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "where")) {
        bind_args(e, env, call, NAMES("cond", "a", "b"), 3, &a);
        int c0 = tensor_arg(e, a.v[0], a.loc[0], "the condition");
        int x = as_tensor(e, a.v[1], a.loc[1], "the first value"), y = as_tensor(e, a.v[2], a.loc[2], "the second value");
        int t = mk_binary(e, IR_OP_ADD, x, y, L);
        t = mk_binary(e, IR_OP_ADD, c0, t, L);
        IrNode n = {.op = IR_OP_WHERE, .nsrc = 3, .src = {c0, x, y}, .shape = N(e, t)->shape};
        e->g->n -= 2; /* the two adds only computed the broadcast shape */
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "pad") || !strcmp(f, "roll")) {
        bool pad = f[0] == 'p';
        if (pad) bind_args(e, env, call, NAMES("x", "axis", "before", "after", "value"), 4, &a);
        else bind_args(e, env, call, NAMES("x", "axis", "shift"), 3, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        need_known(e, x, L);
        const char *ax = one_axis(e, a.v[1], a.loc[1], "the axis");
        int p = axis_in(e, x, ax, a.loc[1]);
        IrNode n = {.op = pad ? IR_OP_PAD : IR_OP_ROLL, .nsrc = 1, .src = {x}, .nax = 1, .ax = {ax}, .shape = N(e, x)->shape};
        n.i[0] = inum(e, a.v[2], a.loc[2], pad ? "the padding before" : "the shift");
        if (pad) {
            n.i[1] = inum(e, a.v[3], a.loc[3], "the padding after");
            if (n.i[0] < 0 || n.i[1] < 0) fail(e, L, "padding cannot be negative");
            n.f[0] = a.has[4] ? (float)num(e, a.v[4], a.loc[4], "the pad value") : 0.0f;
            n.shape.ax[p].size += n.i[0] + n.i[1];
        }
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "conv2d")) {
        bind_args(e, env, call, NAMES("x", "weight", "axes", "stride", "groups"), 3, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        int w = tensor_arg(e, a.v[1], a.loc[1], "the weight");
        const char *ax[IR_MAX_RANK];
        if (axis_names(e, a.v[2], a.loc[2], ax, "conv2d's axes") != 3) fail(e, a.loc[2], "conv2d's axes are [channels, height, width]");
        int64_t stride = a.has[3] ? inum(e, a.v[3], a.loc[3], "the stride") : 1, groups = a.has[4] ? inum(e, a.v[4], a.loc[4], "groups") : 1;
        need_known(e, x, L);
        int pc = axis_in(e, x, ax[0], a.loc[2]), ph = axis_in(e, x, ax[1], a.loc[2]), pw = axis_in(e, x, ax[2], a.loc[2]);
        IrNode *wn = N(e, w);
        if (wn->shape.rank != 4) fail(e, a.loc[1], "a conv2d weight has four axes [out, in / groups, kh, kw], not %s", shape_s(e, &wn->shape));
        const IrShape *xs = &N(e, x)->shape;
        if (wn->shape.ax[1].size < 0) wn->shape.ax[1].size = groups > 0 ? xs->ax[pc].size / groups : -1;
        need_known(e, w, L);
        const IrShape *ws = &wn->shape;
        if (stride < 1 || groups < 1 || xs->ax[pc].size != ws->ax[1].size * groups || ws->ax[0].size % groups)
            fail(e, L, "conv2d: %lld input channels, weight %s and groups %lld do not fit", (long long)xs->ax[pc].size,
                 shape_s(e, ws), (long long)groups);
        if (xs->ax[ph].size < ws->ax[2].size || xs->ax[pw].size < ws->ax[3].size)
            fail(e, L, "conv2d: kernel %s is larger than the input %s (pad first)", shape_s(e, ws), shape_s(e, xs));
        IrNode n = {.op = IR_OP_CONV2D, .nsrc = 2, .src = {x, w}, .nax = 3, .ax = {ax[0], ax[1], ax[2]}, .i = {stride, stride, groups}};
        n.shape = *xs;
        n.shape.ax[pc] = (IrAxis){ws->ax[0].name, ws->ax[0].size};
        n.shape.ax[ph].size = (xs->ax[ph].size - ws->ax[2].size) / stride + 1;
        n.shape.ax[pw].size = (xs->ax[pw].size - ws->ax[3].size) / stride + 1;
        check_dup_axes(e, &n.shape, L);
        *out = vtensor(add_node(e, &n, L));
        return true;
    }
    if (!strcmp(f, "size")) {
        bind_args(e, env, call, NAMES("x", "axes"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        const char *ax[IR_MAX_RANK];
        int na = axis_names(e, a.v[1], a.loc[1], ax, "the axes");
        int64_t p = 1;
        for (int k = 0; k < na; k++) {
            int j = axis_in(e, x, ax[k], a.loc[1]);
            if (N(e, x)->shape.ax[j].size < 0) fail(e, a.loc[1], "the size of axis '%s' is not known yet", ax[k]);
            p *= N(e, x)->shape.ax[j].size;
        }
        *out = vint(p);
        return true;
    }
    if (!strcmp(f, "has_axis")) {
        bind_args(e, env, call, NAMES("x", "axis"), 2, &a);
        int x = tensor_arg(e, a.v[0], a.loc[0], "the input");
        *out = vint(ir_axis_find(&N(e, x)->shape, one_axis(e, a.v[1], a.loc[1], "the axis")) >= 0);
        return true;
    }
    if (!strcmp(f, "int")) {
        bind_args(e, env, call, NAMES("x"), 1, &a);
        *out = vint((int64_t)floor(num(e, a.v[0], a.loc[0], "int's argument")));
        return true;
    }
    if (!strcmp(f, "error")) {
        bind_args(e, env, call, NAMES("message"), 1, &a);
        fail(e, L, "%s", a.v[0].k == V_STR ? a.v[0].s : "error");
    }
    return false;
}

static const char *const builtin_names[] = {
    "input", "contract", "softmax", "layernorm", "rmsnorm", "gelu", "gelu_tanh", "quick_gelu", "silu", "swish",
    "sigmoid", "relu", "exp", "tanh", "act", "sum", "mean", "rename", "split", "merge", "permute", "select",
    "slice", "concat", "unbind", "resample", "size", "has_axis", "int", "error", "iota", "full", "rsqrt",
    "gather", "argmax", "where", "pad", "roll", "conv2d"};

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b), d[64][64];
    if (la > 62 || lb > 62) return 99;
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int m = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < m) m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
            d[i][j] = m;
        }
    return d[la][lb];
}

static _Noreturn void unknown_call(El *e, Ast *x) {
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < e->nblocks; i++) {
        int dd = edit_distance(x->name, e->blocks[i]->name);
        if (dd < bd) { bd = dd; best = e->blocks[i]->name; }
    }
    for (size_t i = 0; i < sizeof builtin_names / sizeof *builtin_names; i++) {
        int dd = edit_distance(x->name, builtin_names[i]);
        if (dd < bd) { bd = dd; best = builtin_names[i]; }
    }
    if (best) fail(e, x->loc, "unknown block '%s' (did you mean '%s'?)", x->name, best);
    fail(e, x->loc, "unknown block '%s' (not in this file, its imports or the builtins)", x->name);
}

static Value eval_call(El *e, Env *env, Ast *x) {
    Ast *blk = block_find(e, x->name);
    Value out = NONE;
    if (!blk) {
        bool known = false;
        for (size_t i = 0; i < sizeof builtin_names / sizeof *builtin_names; i++) known |= !strcmp(builtin_names[i], x->name);
        if (!known) unknown_call(e, x);
        if (x->a) fail(e, x->a->loc, "'at' scopes apply to block calls; '%s' is a builtin", x->name);
        if (!builtin(e, env, x, &out)) unknown_call(e, x);
        return out;
    }
    return call_block(e, env, x, blk);
}

static Value eval(El *e, Env *env, Ast *x) {
    switch (x->kind) {
    case AST_INT: return vint(x->ival);
    case AST_FLOAT: return vflt(x->fval);
    case AST_STR: { Value v = {.k = V_STR, .s = interp_str(e, env, x->str, x->loc)}; return v; }
    case AST_IDENT: {
        Value *v = env_get(env, x->name);
        if (!v) fail(e, x->loc, "unknown name '%s'", x->name);
        return *v;
    }
    case AST_BINOP: {
        Value a = eval(e, env, x->a), b = eval(e, env, x->b);
        return arith(e, (int)x->ival, a, b, x->loc);
    }
    case AST_UNOP: {
        Value a = eval(e, env, x->a);
        if (x->ival == NOT) return vint(!truthy(e, a, x->loc));
        if (a.k == V_INT) return arith(e, '*', a, vint(-1), x->loc);
        if (a.k == V_FLOAT) return vflt(-a.f);
        if (a.k == V_TENSOR) return vtensor(mk_unary(e, IR_OP_SCALE, a.node, x->loc, -1.0f, 0.0f));
        fail(e, x->loc, "cannot negate a %s", kind_name(a.k));
    }
    case AST_CALL: return eval_call(e, env, x);
    case AST_PARAM: return eval_param(e, env, x);
    case AST_LIST: return eval_list(e, env, x);
    case AST_TUPLE: {
        Value t = {.k = V_TUPLE, .ntup = x->list.n};
        t.tup = arena_alloc(&e->c->arena, sizeof(Value) * (size_t)x->list.n);
        for (int i = 0; i < x->list.n; i++) t.tup[i] = eval(e, env, x->list.v[i]);
        return t;
    }
    default: fail(e, x->loc, "not an expression");
    }
}

static Value call_block(El *e, Env *env, Ast *call, Ast *blk) {
    Env local = {0};
    step(e, call->loc);
    if (e->depth >= ELAB_MAX_DEPTH)
        fail(e, call->loc, "blocks nested more than %d deep (does block '%s' call itself?)", ELAB_MAX_DEPTH, blk->name);
    AstList *params = &blk->body2;
    bool *given = arena_alloc(&e->c->arena, sizeof(bool) * (size_t)(params->n + 1));
    Value *vals = arena_alloc(&e->c->arena, sizeof(Value) * (size_t)(params->n + 1));
    int pos = 0;
    for (int i = 0; i < call->list.n; i++) {
        Ast *arg = call->list.v[i];
        int slot = -1;
        if (arg->kind == AST_ARG_KW) {
            for (int j = 0; j < params->n; j++)
                if (!strcmp(params->v[j]->name, arg->name)) slot = j;
            if (slot < 0) {
                diag_error(e->c, arg->loc, "block '%s' has no argument named '%s'", blk->name, arg->name);
                diag_note(e->c, blk->loc, "'%s' is defined here", blk->name);
                notes(e);
                longjmp(e->fail, 1);
            }
            vals[slot] = eval(e, env, arg->a);
        } else {
            if (pos >= params->n) fail(e, arg->loc, "too many arguments to block '%s' (it takes %d)", blk->name, params->n);
            slot = pos++;
            vals[slot] = eval(e, env, arg);
        }
        if (given[slot]) fail(e, arg->loc, "argument '%s' of block '%s' given twice", params->v[slot]->name, blk->name);
        given[slot] = true;
    }
    Value scope = call->a ? eval(e, env, call->a) : NONE;
    if (call->a && scope.k != V_STR) fail(e, call->a->loc, "a scope after 'at' must be a string");
    Frame fr = {e->frame->scope, blk->name, call->loc, e->frame};
    if (scope.k == V_STR && *scope.s)
        fr.scope = *e->frame->scope ? arena_printf(&e->c->arena, "%s.%s", e->frame->scope, scope.s) : scope.s;
    e->frame = &fr;
    for (int j = 0; j < params->n; j++) {
        Ast *p = params->v[j];
        if (!given[j]) {
            if (!p->a) {
                e->frame = fr.up;
                fail(e, call->loc, "block '%s' needs its argument '%s'", blk->name, p->name);
            }
            vals[j] = eval(e, &local, p->a); /* defaults may use earlier arguments */
        }
        env_set(e, &local, p->name, vals[j]);
    }
    e->returned = false;
    e->ret = NONE;
    e->depth++;
    exec_list(e, &local, &blk->list);
    e->depth--;
    Value r = e->ret;
    e->returned = false;
    e->ret = NONE;
    e->frame = fr.up;
    return r;
}

/* ---- statements -------------------------------------------------------------------- */
static Value parse_set(El *e, const ConfigSet *s, Loc loc) {
    char *end;
    long long i = strtoll(s->value, &end, 10);
    if (*s->value && !*end) return vint(i);
    double f = strtod(s->value, &end);
    if (*s->value && !*end) return vflt(f);
    (void)loc;
    Value v = {.k = V_STR, .s = arena_strdup(&e->c->arena, s->value)};
    return v;
}

static void exec_preprocess(El *e, Env *env, Ast *st) {
    IrPreprocess *p = &e->g->pre;
    for (int i = 0; i < st->list.n; i++) {
        Ast *kw = st->list.v[i];
        Value v = eval(e, env, kw->a);
        if (!strcmp(kw->name, "size")) p->size = (int)inum(e, v, kw->a->loc, "size");
        else if (!strcmp(kw->name, "resize")) p->resize = (int)inum(e, v, kw->a->loc, "resize");
        else if (!strcmp(kw->name, "crop_pct")) e->crop_pct = num(e, v, kw->a->loc, "crop_pct");
        else if (!strcmp(kw->name, "interpolation")) {
            if (v.k != V_STR || (strcmp(v.s, "bicubic") && strcmp(v.s, "bilinear")))
                fail(e, kw->a->loc, "interpolation must be \"bicubic\" or \"bilinear\"");
            p->interp = !strcmp(v.s, "bicubic");
        } else if (!strcmp(kw->name, "mean") || !strcmp(kw->name, "std")) {
            if (v.k != V_TUPLE || v.ntup != 3) fail(e, kw->a->loc, "%s must be three numbers, like (0.5, 0.5, 0.5)", kw->name);
            float *d = kw->name[0] == 'm' ? p->mean : p->std;
            for (int c = 0; c < 3; c++) d[c] = (float)num(e, v.tup[c], kw->a->loc, kw->name);
        } else fail(e, kw->loc, "unknown preprocess setting '%s' (size, resize, crop_pct, interpolation, mean, std)", kw->name);
    }
    e->have_pre = true;
}

/* one more step of evaluation; too many means a runaway loop or recursion */
static void step(El *e, Loc loc) {
    if (++e->steps > e->max_steps)
        fail(e, loc, "elaboration takes more than %lld steps (statements, block calls, loop turns); "
                     "is a loop or a recursion unbounded?", (long long)e->max_steps);
}

static void exec(El *e, Env *env, Ast *st) {
    step(e, st->loc);
    switch (st->kind) {
    case AST_ASSIGN: {
        Value v = eval(e, env, st->a);
        if (st->list.n == 1) { env_set(e, env, st->list.v[0]->name, v); break; }
        if (v.k != V_TUPLE || v.ntup != st->list.n)
            fail(e, st->loc, "cannot unpack a %s into %d names", v.k == V_TUPLE ? "tuple of another length" : kind_name(v.k), st->list.n);
        for (int i = 0; i < st->list.n; i++) env_set(e, env, st->list.v[i]->name, v.tup[i]);
        break;
    }
    case AST_FOR: {
        int64_t lo = inum(e, eval(e, env, st->a), st->a->loc, "the loop start");
        int64_t hi = inum(e, eval(e, env, st->b), st->b->loc, "the loop end");
        if (hi > lo && (uint64_t)hi - (uint64_t)lo > ELAB_MAX_LOOP)
            fail(e, st->loc, "a loop of %llu turns; at most %d are allowed", (unsigned long long)((uint64_t)hi - (uint64_t)lo),
                 ELAB_MAX_LOOP);
        for (int64_t i = lo; i < hi && !e->returned; i++) {
            step(e, st->loc);
            env_set(e, env, st->name, vint(i));
            exec_list(e, env, &st->list);
        }
        break;
    }
    case AST_IF:
        if (truthy(e, eval(e, env, st->a), st->a->loc)) exec_list(e, env, &st->list);
        else if (st->c) exec_list(e, env, &st->c->list);
        break;
    case AST_RETURN:
        e->ret = eval(e, env, st->a);
        e->returned = true;
        break;
    case AST_OUTPUT: {
        Value v = eval(e, env, st->a);
        int n = tensor_arg(e, v, st->a->loc, "an output");
        ir_output_add(e->g, st->name, n);
        break;
    }
    case AST_CONFIG:
        for (int i = 0; i < st->list.n; i++) {
            Ast *kw = st->list.v[i];
            Value v = NONE;
            bool set = false;
            for (int k = 0; k < e->nsets; k++)
                if (!strcmp(e->sets[k].name, kw->name)) { v = parse_set(e, &e->sets[k], kw->loc); e->set_used[k] = set = true; }
            if (!set) v = eval(e, env, kw->a);
            env_set(e, env, kw->name, v);
        }
        break;
    case AST_PREPROCESS: exec_preprocess(e, env, st); break;
    case AST_UNUSED: {
        char **u = ir_alloc(e->g, sizeof(char *) * (size_t)(e->g->nunused + st->list.n + 1));
        for (int i = 0; i < e->g->nunused; i++) u[i] = e->g->unused[i];
        for (int i = 0; i < st->list.n; i++) u[e->g->nunused + i] = (char *)ir_strdup(e->g, interp_str(e, env, st->list.v[i]->str, st->loc));
        e->g->unused = u;
        e->g->nunused += st->list.n;
        break;
    }
    case AST_EXPR_STMT: eval(e, env, st->a); break;
    default: fail(e, st->loc, "not a statement");
    }
}

static void exec_list(El *e, Env *env, AstList *l) {
    for (int i = 0; i < l->n && !e->returned; i++) exec(e, env, l->v[i]);
}

/* ---- files and imports ----------------------------------------------------------------- */
static const char *dir_of(El *e, const char *path) {
    const char *s = strrchr(path, '/');
    return s ? arena_printf(&e->c->arena, "%.*s", (int)(s - path), path) : ".";
}

static bool load_items(El *e, int file);

/* A path as short as possible for messages: relative to the working
 * directory when the file is under it, else absolute and canonical. */
static const char *clean_path(El *e, const char *p) {
    char rp[4096], cwd[4096];
    if (!realpath(p, rp)) return p;
    if (getcwd(cwd, sizeof cwd)) {
        size_t n = strlen(cwd);
        if (!strncmp(rp, cwd, n) && rp[n] == '/') return arena_strdup(&e->c->arena, rp + n + 1);
    }
    return arena_strdup(&e->c->arena, rp);
}

static bool do_import(El *e, const char *from_path, Ast *imp) {
    const char *name = imp->str;
    bool has_ext = strlen(name) > 4 && !strcmp(name + strlen(name) - 4, ".vit");
    const char *fname = has_ext ? name : arena_printf(&e->c->arena, "%s.vit", name);
    const char *cand[64];
    int nc = 0;
    cand[nc++] = arena_printf(&e->c->arena, "%s/%s", dir_of(e, from_path), fname);
    for (int i = 0; i < e->c->nsearch && nc < 64; i++) cand[nc++] = arena_printf(&e->c->arena, "%s/%s", e->c->search[i], fname);
    for (int i = 0; i < nc; i++) {
        FILE *f = fopen(cand[i], "rb");
        if (!f) continue;
        fclose(f);
        for (int k = 0; k < e->c->nfiles; k++)
            if (!strcmp(e->c->files[k].path, clean_path(e, cand[i]))) return true; /* already loaded */
        int id = src_load(e->c, clean_path(e, cand[i]), imp->loc);
        return id >= 0 && load_items(e, id);
    }
    diag_error(e->c, imp->loc, "cannot find \"%s\" (looked beside this file and in the stdlib directories)", fname);
    return false;
}

static bool load_items(El *e, int file) {
    AstList items = {0};
    if (!parse_file(e->c, file, &items)) return false;
    const char *path = e->c->files[file].path;
    for (int i = 0; i < items.n; i++) {
        Ast *it = items.v[i];
        if (it->kind == AST_IMPORT) {
            if (!do_import(e, path, it)) return false;
        } else if (it->kind == AST_BLOCK) {
            Ast *prev = block_find(e, it->name);
            if (prev && prev->loc.file == it->loc.file) {
                diag_error(e->c, it->loc, "block '%s' is defined twice", it->name);
                diag_note(e->c, prev->loc, "first defined here");
                return false;
            }
            if (e->nblocks == e->capblocks) {
                e->capblocks = e->capblocks ? 2 * e->capblocks : 32;
                Ast **nb = arena_alloc(&e->c->arena, sizeof(Ast *) * (size_t)e->capblocks);
                if (e->nblocks) memcpy(nb, e->blocks, sizeof(Ast *) * (size_t)e->nblocks);
                e->blocks = nb;
            }
            e->blocks[e->nblocks++] = it;
        } else if (it->kind == AST_MODEL) {
            if (file != e->top) continue; /* models in imported files are ignored */
            if (e->model) {
                diag_error(e->c, it->loc, "a spec holds one model; '%s' is the second", it->name);
                return false;
            }
            e->model = it;
        }
    }
    return true;
}

/* After elaboration: every parameter's sizes known, stored shapes consistent. */
static void finish_params(El *e) {
    for (int i = 0; i < e->g->n; i++) {
        IrNode *n = N(e, i);
        if (n->op != IR_OP_PARAM) continue;
        Loc loc = {n->loc.file, n->loc.line, n->loc.col};
        for (int a = 0; a < n->shape.rank; a++)
            if (n->shape.ax[a].size < 0)
                fail(e, loc, "cannot infer the size of axis '%s' of parameter '%s' (it is never combined with a tensor that has it)",
                     n->shape.ax[a].name, n->key);
        if (n->stored.rank < 0) {
            n->stored.rank = n->shape.rank;
            for (int a = 0; a < n->shape.rank; a++) n->stored.ax[a] = (IrAxis){NULL, n->shape.ax[a].size};
        }
        int64_t ns = ir_numel_checked(&n->stored), nv = ir_numel_checked(&n->shape);
        if (ns < 0 || nv < 0)
            fail(e, loc, "parameter '%s' of shape %s is too large (at most %lld elements)", n->key,
                 shape_s(e, ns < 0 ? &n->stored : &n->shape), (long long)IR_MAX_NUMEL);
        if (ns != nv)
            fail(e, loc, "parameter '%s': stored shape %s and view %s differ in size", n->key, shape_s(e, &n->stored),
                 shape_s(e, &n->shape));
    }
}

IrGraph *elab_model(Ctx *c, const char *path, const ConfigSet *sets, int nsets) {
    El e = {.c = c, .sets = sets, .nsets = nsets, .crop_pct = 0, .max_steps = c->max_steps > 0 ? c->max_steps : ELAB_MAX_STEPS};
    e.set_used = arena_alloc(&c->arena, sizeof(bool) * (size_t)(nsets + 1));
    Frame top = {"", NULL, {-1, 0, 0}, NULL};
    e.frame = &top;
    int f = src_load(c, path, (Loc){-1, 0, 0});
    if (f < 0) return NULL;
    e.top = f;
    if (!load_items(&e, f)) return NULL;
    if (!e.model) {
        fprintf(c->diag_out, "%s: error: no model in this file (a spec needs 'model NAME { ... }')\n", path);
        c->errors++;
        return NULL;
    }
    e.g = ir_graph_new();
    e.g->name = ir_strdup(e.g, e.model->name);
    if (setjmp(e.fail)) {
        ir_graph_free(e.g);
        return NULL;
    }
    Env env = {0};
    exec_list(&e, &env, &e.model->list);
    for (int k = 0; k < nsets; k++)
        if (!e.set_used[k]) fail(&e, e.model->loc, "model '%s' has no config named '%s'", e.model->name, sets[k].name);
    if (!e.g->nout) fail(&e, e.model->loc, "model '%s' has no outputs (add 'output NAME = ...')", e.model->name);
    if (e.g->input < 0) fail(&e, e.model->loc, "model '%s' has no input (add 'image = input([c = 3, h = size, w = size])')", e.model->name);
    finish_params(&e);
    {
        char ferr[256];
        if (fold_constants(e.g, ferr, sizeof ferr) < 0) fail(&e, e.model->loc, "%s", ferr);
    }
    IrPreprocess *p = &e.g->pre;
    const IrShape *in = &e.g->nodes[e.g->input].shape;
    if (!p->size && in->rank == 3) p->size = (int)in->ax[2].size;
    if (!p->resize) p->resize = e.crop_pct > 0 ? (int)floor(p->size / e.crop_pct) : p->size;
    if (!e.have_pre) { for (int k = 0; k < 3; k++) { p->mean[k] = 0.5f; p->std[k] = 0.5f; } p->interp = 1; }
    e.g->files = ir_alloc(e.g, sizeof(char *) * (size_t)(c->nfiles + 1));
    for (int i = 0; i < c->nfiles; i++) e.g->files[i] = ir_strdup(e.g, c->files[i].path);
    e.g->nfiles = c->nfiles;
    return e.g;
}
