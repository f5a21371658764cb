/* compiler/codegen.c — LLVM IR for a lowered graph.
 * Each computing node becomes an internal function over noalias pointers
 * (its buffer, then its sources'), shared by nodes with identical op, shapes
 * and attributes; vit_forward(float **bufs) calls them in graph order.  Loops
 * have constant trip counts and strides, mergeable axes merged, and exp/erf/
 * tanh are inline polynomials, so LLVM's vectoriser takes the inner loops. */
#include "codegen.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NEST_T 3 /* tensors a loop nest walks at once: out and two sources */

typedef struct {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef v, f32, f64, i32, i64, ptr;
    LLVMTypeRef fty_ff;     /* float (float): the math helpers */
    LLVMValueRef fn;        /* node function being emitted */
    LLVMValueRef accf;      /* float accumulator (alloca in fn's entry) */
    LLVMValueRef accd[2];   /* double accumulators (allocas in fn's entry) */
    const IrGraph *g;
    char *err;
    size_t errlen;
} Cg;

/* ---- small builders ------------------------------------------------------ */

static LLVMValueRef ci(Cg *c, int64_t v) { return LLVMConstInt(c->i64, (unsigned long long)v, 1); }
static LLVMValueRef cf(Cg *c, double v) { return LLVMConstReal(c->f32, v); }
static LLVMValueRef cd(Cg *c, double v) { return LLVMConstReal(c->f64, v); }

static LLVMValueRef at(Cg *c, LLVMValueRef base, LLVMValueRef off) {
    return LLVMBuildInBoundsGEP2(c->b, c->f32, base, &off, 1, "");
}
static LLVMValueRef ld(Cg *c, LLVMValueRef base, LLVMValueRef off) {
    return LLVMBuildLoad2(c->b, c->f32, at(c, base, off), "");
}
static void st(Cg *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef off) {
    LLVMBuildStore(c->b, v, at(c, base, off));
}
static LLVMValueRef idx(Cg *c, LLVMValueRef base, LLVMValueRef i, int64_t stride) {
    if (stride == 0) return base;
    LLVMValueRef s = stride == 1 ? i : LLVMBuildNSWMul(c->b, i, ci(c, stride), "");
    return LLVMBuildNSWAdd(c->b, base, s, "");
}

/* Reassociation lets the vectoriser split a sum into partial sums. */
static LLVMValueRef fadd_r(Cg *c, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef r = LLVMBuildFAdd(c->b, a, b, "");
    LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
    return r;
}

static LLVMValueRef intrinsic(Cg *c, const char *name, LLVMTypeRef t, LLVMValueRef *args, unsigned n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
    return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &t, 1), f, args, n, "");
}

static void add_attr(Cg *c, LLVMValueRef f, unsigned at_, const char *name) {
    unsigned k = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(f, at_, LLVMCreateEnumAttribute(c->ctx, k, 0));
}

/* ---- vectorisable math ---------------------------------------------------
 * exp, erf and tanh as straight-line float code (selects, no branches, no
 * calls), in internal always-inline functions: once inlined into a loop the
 * loop vectoriser takes them like any arithmetic.  Polynomials are
 * least-squares fits on Chebyshev nodes, checked against double libm over
 * dense sweeps (tests/test_jit.c): errors stay within about 2 ulp. */

static LLVMValueRef fmuladd(Cg *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d) {
    LLVMValueRef args[3] = {a, b, d};
    return intrinsic(c, "llvm.fmuladd", c->f32, args, 3);
}

/* k[0] + t (k[1] + t (k[2] + ...)) */
static LLVMValueRef poly(Cg *c, LLVMValueRef t, const float *k, int n) {
    LLVMValueRef r = cf(c, k[n - 1]);
    for (int i = n - 2; i >= 0; i--) r = fmuladd(c, r, t, cf(c, k[i]));
    return r;
}

static LLVMValueRef fabs_(Cg *c, LLVMValueRef x) { return intrinsic(c, "llvm.fabs", c->f32, &x, 1); }

static LLVMValueRef copysign_(Cg *c, LLVMValueRef mag, LLVMValueRef sgn) {
    LLVMValueRef a[2] = {mag, sgn};
    return intrinsic(c, "llvm.copysign", c->f32, a, 2);
}

/* x < lo ? lo : x > hi ? hi : x, NaN kept */
static LLVMValueRef clamp(Cg *c, LLVMValueRef x, double lo, double hi) {
    LLVMBuilderRef b = c->b;
    x = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, cf(c, lo), ""), cf(c, lo), x, "");
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, cf(c, hi), ""), cf(c, hi), x, "");
}

typedef LLVMValueRef (*MathBody)(Cg *c, LLVMValueRef x);

/* Calls float name(float), defining it from body on first use. */
static LLVMValueRef math_call(Cg *c, const char *name, MathBody body, LLVMValueRef x) {
    LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
    if (!f) {
        LLVMBasicBlockRef saved = LLVMGetInsertBlock(c->b);
        LLVMValueRef savedfn = c->fn;
        f = LLVMAddFunction(c->mod, name, c->fty_ff);
        LLVMSetLinkage(f, LLVMInternalLinkage);
        add_attr(c, f, LLVMAttributeFunctionIndex, "alwaysinline");
        add_attr(c, f, LLVMAttributeFunctionIndex, "nounwind");
        c->fn = f;
        LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, f, "entry"));
        LLVMBuildRet(c->b, body(c, LLVMGetParam(f, 0)));
        c->fn = savedfn;
        LLVMPositionBuilderAtEnd(c->b, saved);
    }
    return LLVMBuildCall2(c->b, c->fty_ff, f, &x, 1, "");
}

/* exp: n = rint(x log2 e), r = x - n ln2 (two-part ln2), exp(r) = 1 + r +
 * r^2 P(r) on |r| <= ln2/2, times 2^n applied as two power-of-two factors
 * so that overflow gives inf and underflow rounds once into denormals. */
static LLVMValueRef exp_body(Cg *c, LLVMValueRef x) {
    static const float P[] = {0.5f, 0.1666666716337204f, 0.04166646674275398f,
                              0.0083332983776927f, 0.0013933649752289057f, 0.0001989927259273827f};
    LLVMBuilderRef b = c->b;
    LLVMValueRef xc = clamp(c, x, -104.0, 89.0);
    LLVMValueRef nf = LLVMBuildFMul(b, xc, cf(c, 1.44269504088896341), "");
    nf = intrinsic(c, "llvm.rint", c->f32, &nf, 1);
    LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
    nf = LLVMBuildSelect(b, nan, cf(c, 0.0), nf, ""); /* keep fptosi defined */
    LLVMValueRef r = fmuladd(c, nf, cf(c, -0.693359375), xc);
    r = fmuladd(c, nf, cf(c, 2.12194440054690583e-4), r);
    LLVMValueRef p = fmuladd(c, LLVMBuildFMul(b, r, r, ""), poly(c, r, P, 6), r);
    p = LLVMBuildFAdd(b, p, cf(c, 1.0), "");
    LLVMValueRef n = LLVMBuildFPToSI(b, nf, c->i32, "");
    LLVMValueRef n1 = LLVMBuildAShr(b, n, LLVMConstInt(c->i32, 1, 0), "");
    LLVMValueRef n2 = LLVMBuildSub(b, n, n1, "");
    LLVMValueRef s[2];
    for (int k = 0; k < 2; k++) {
        LLVMValueRef e = LLVMBuildAdd(b, k ? n2 : n1, LLVMConstInt(c->i32, 127, 0), "");
        s[k] = LLVMBuildBitCast(b, LLVMBuildShl(b, e, LLVMConstInt(c->i32, 23, 0), ""), c->f32, "");
    }
    return LLVMBuildFMul(b, LLVMBuildFMul(b, p, s[0], ""), s[1], "");
}

static LLVMValueRef fexp(Cg *c, LLVMValueRef x) { return math_call(c, "vit_exp", exp_body, x); }

/* erf: |x| < 1: x P(x^2); else sign(x) (1 - exp(-x^2) R(|x| - 2.5)) with
 * R ~ erfcx on [1, 4] and |x| clamped to 4 (erf(4) rounds to 1). */
static LLVMValueRef erf_body(Cg *c, LLVMValueRef x) {
    static const float S[] = {1.128379225730896f, -0.3761262893676758f, 0.11283625662326813f,
                              -0.02685539983212948f, 0.005191218573600054f, -0.0008034846396185458f,
                              7.933493907330558e-05f};
    static const float R[] = {0.21080636978149414f, -0.07434733957052231f, 0.024937987327575684f,
                              -0.008001696318387985f, 0.0024671019054949284f, -0.0007331467350013554f,
                              0.00021084898617118597f, -5.9529527788981795e-05f, 1.617346060811542e-05f,
                              -3.7444333429448307e-06f, 9.528693567517621e-07f, -4.269337239293236e-07f,
                              1.0650850867932604e-07f};
    LLVMBuilderRef b = c->b;
    LLVMValueRef a = clamp(c, fabs_(c, x), 0.0, 4.0);
    LLVMValueRef small = LLVMBuildFMul(b, x, poly(c, LLVMBuildFMul(b, x, x, ""), S, 7), "");
    LLVMValueRef e = fexp(c, LLVMBuildFNeg(b, LLVMBuildFMul(b, a, a, ""), ""));
    LLVMValueRef rr = poly(c, LLVMBuildFSub(b, a, cf(c, 2.5), ""), R, 13);
    LLVMValueRef big = copysign_(c, LLVMBuildFSub(b, cf(c, 1.0), LLVMBuildFMul(b, e, rr, ""), ""), x);
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, cf(c, 1.0), ""), small, big, "");
}

/* tanh: |x| < 0.625: x + x^3 P(x^2); else sign(x) (1 - 2 / (exp(2|x|) + 1)). */
static LLVMValueRef tanh_body(Cg *c, LLVMValueRef x) {
    static const float P[] = {-0.3333333432674408f, 0.13333310186862946f, -0.05396048724651337f,
                              0.021776888519525528f, -0.008365786634385586f, 0.0023140928242355585f};
    LLVMBuilderRef b = c->b;
    LLVMValueRef a = fabs_(c, x);
    LLVMValueRef x2 = LLVMBuildFMul(b, x, x, "");
    LLVMValueRef small = fmuladd(c, LLVMBuildFMul(b, x, x2, ""), poly(c, x2, P, 6), x);
    LLVMValueRef e = fexp(c, LLVMBuildFMul(b, a, cf(c, 2.0), ""));
    LLVMValueRef t = LLVMBuildFSub(b, cf(c, 1.0), LLVMBuildFDiv(b, cf(c, 2.0), LLVMBuildFAdd(b, e, cf(c, 1.0), ""), ""), "");
    LLVMValueRef big = copysign_(c, t, x);
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, cf(c, 0.625), ""), small, big, "");
}

static LLVMValueRef ferf(Cg *c, LLVMValueRef x) { return math_call(c, "vit_erf", erf_body, x); }
static LLVMValueRef ftanh(Cg *c, LLVMValueRef x) { return math_call(c, "vit_tanh", tanh_body, x); }

static int fail(Cg *c, int i, const char *fmt, ...) {
    int k = snprintf(c->err, c->errlen, "codegen: node %%%d (%s): ", i, ir_op_info[c->g->nodes[i].op].name);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < c->errlen) vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- loops --------------------------------------------------------------- */

/* A counted loop, do-while form (n >= 1): i = 0 .. n-1. */
typedef struct {
    LLVMBasicBlockRef head;
    LLVMValueRef iv;
    int64_t n;
} Loop;

static LLVMValueRef loop_begin(Cg *c, Loop *l, int64_t n) {
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
    LLVMValueRef zero = ci(c, 0);
    l->n = n;
    l->head = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "loop");
    LLVMBuildBr(c->b, l->head);
    LLVMPositionBuilderAtEnd(c->b, l->head);
    l->iv = LLVMBuildPhi(c->b, c->i64, "i");
    LLVMAddIncoming(l->iv, &zero, &pre, 1);
    return l->iv;
}

static void loop_end(Cg *c, Loop *l) {
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMValueRef next = LLVMBuildNUWAdd(c->b, l->iv, ci(c, 1), "i.next");
    LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntULT, next, ci(c, l->n), "");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "done");
    LLVMBuildCondBr(c->b, more, l->head, done);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(c->b, done);
}

/* A loop nest over `rank` dims walking nt tensors, each with its strides. */
typedef struct {
    int rank, nt;
    int64_t size[IR_MAX_RANK];
    int64_t st[NEST_T][IR_MAX_RANK];
} Nest;

typedef void (*NestBody)(Cg *c, LLVMValueRef *off, void *ud);

/* Drops unit dims and merges a dim into the one outside it when every
 * tensor's strides allow (outer stride = inner stride * inner size). */
static void nest_collapse(Nest *n) {
    Nest r = *n;
    r.rank = 0;
    for (int d = 0; d < n->rank; d++) {
        if (n->size[d] == 1) continue;
        int p = r.rank - 1, merge = p >= 0;
        for (int t = 0; merge && t < n->nt; t++) merge = r.st[t][p] == n->st[t][d] * n->size[d];
        if (merge) {
            r.size[p] *= n->size[d];
            for (int t = 0; t < n->nt; t++) r.st[t][p] = n->st[t][d];
            continue;
        }
        r.size[r.rank] = n->size[d];
        for (int t = 0; t < n->nt; t++) r.st[t][r.rank] = n->st[t][d];
        r.rank++;
    }
    *n = r;
}

static void nest_level(Cg *c, const Nest *n, int d, LLVMValueRef *off, NestBody body, void *ud) {
    if (d >= n->rank || d >= IR_MAX_RANK) { /* rank <= IR_MAX_RANK; the second test lets the compiler see it */
        body(c, off, ud);
        return;
    }
    Loop l;
    LLVMValueRef i = loop_begin(c, &l, n->size[d]);
    LLVMValueRef o[NEST_T];
    for (int t = 0; t < n->nt; t++) o[t] = idx(c, off[t], i, n->st[t][d]);
    nest_level(c, n, d + 1, o, body, ud);
    loop_end(c, &l);
}

/* Emits the nest; off[t] is tensor t's starting offset (an i64 value). */
static void nest_emit(Cg *c, Nest n, LLVMValueRef *off, NestBody body, void *ud) {
    nest_collapse(&n);
    nest_level(c, &n, 0, off, body, ud);
}

/* ---- elementwise ---------------------------------------------------------- */

typedef struct {
    const IrNode *node;
    LLVMValueRef p[NEST_T]; /* out, src0, src1 */
} Ew;

/* e = exp(-|x|), 1 / (1 + e) or, for x < 0, e / (1 + e): no overflow, and
 * the tail stays accurate down into the denormals. */
static LLVMValueRef sigmoid(Cg *c, LLVMValueRef x) {
    LLVMBuilderRef b = c->b;
    LLVMValueRef e = fexp(c, LLVMBuildFNeg(b, fabs_(c, x), ""));
    LLVMValueRef r = LLVMBuildFDiv(b, cf(c, 1.0), LLVMBuildFAdd(b, cf(c, 1.0), e, ""), "");
    LLVMValueRef neg = LLVMBuildFCmp(b, LLVMRealOLT, x, cf(c, 0.0), "");
    return LLVMBuildSelect(b, neg, LLVMBuildFMul(b, e, r, ""), r, "");
}

/* The value of one element; y is NULL for unary ops. */
static LLVMValueRef ew_op(Cg *c, const IrNode *n, LLVMValueRef x, LLVMValueRef y) {
    LLVMBuilderRef b = c->b;
    switch (n->op) {
    case IR_OP_ADD: return LLVMBuildFAdd(b, x, y, "");
    case IR_OP_SUB: return LLVMBuildFSub(b, x, y, "");
    case IR_OP_MUL: return LLVMBuildFMul(b, x, y, "");
    case IR_OP_DIV: return LLVMBuildFDiv(b, x, y, "");
    case IR_OP_SCALE:
        return LLVMBuildFAdd(b, LLVMBuildFMul(b, x, cf(c, n->f[0]), ""), cf(c, n->f[1]), "");
    case IR_OP_GELU: { /* x * 0.5 * (1 + erf(x / sqrt 2)) */
        LLVMValueRef e = ferf(c, LLVMBuildFMul(b, x, cf(c, M_SQRT1_2), ""));
        return LLVMBuildFMul(b, LLVMBuildFMul(b, x, cf(c, 0.5), ""), LLVMBuildFAdd(b, cf(c, 1.0), e, ""), "");
    }
    case IR_OP_GELU_TANH: { /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        LLVMValueRef x3 = LLVMBuildFMul(b, LLVMBuildFMul(b, x, x, ""), x, "");
        LLVMValueRef in = LLVMBuildFAdd(b, x, LLVMBuildFMul(b, cf(c, 0.044715), x3, ""), "");
        LLVMValueRef t = ftanh(c, LLVMBuildFMul(b, cf(c, M_SQRT2 * M_2_SQRTPI * 0.5), in, ""));
        return LLVMBuildFMul(b, LLVMBuildFMul(b, cf(c, 0.5), x, ""), LLVMBuildFAdd(b, cf(c, 1.0), t, ""), "");
    }
    case IR_OP_QUICK_GELU: return LLVMBuildFMul(b, x, sigmoid(c, LLVMBuildFMul(b, x, cf(c, 1.702), "")), "");
    case IR_OP_SILU: return LLVMBuildFMul(b, x, sigmoid(c, x), "");
    case IR_OP_SIGMOID: return sigmoid(c, x);
    case IR_OP_RELU: /* NaN stays NaN, as torch.relu */
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, cf(c, 0.0), ""), cf(c, 0.0), x, "");
    case IR_OP_EXP: return fexp(c, x);
    case IR_OP_TANH: return ftanh(c, x);
    case IR_OP_RSQRT: return LLVMBuildFDiv(b, cf(c, 1.0), intrinsic(c, "llvm.sqrt", c->f32, &x, 1), "");
    default: return NULL;
    }
}

static void ew_body(Cg *c, LLVMValueRef *off, void *ud) {
    Ew *e = ud;
    LLVMValueRef x = ld(c, e->p[1], off[1]);
    LLVMValueRef y = e->node->nsrc > 1 ? ld(c, e->p[2], off[2]) : NULL;
    st(c, ew_op(c, e->node, x, y), e->p[0], off[0]);
}

static void copy_body(Cg *c, LLVMValueRef *off, void *ud) {
    Ew *e = ud;
    st(c, ld(c, e->p[1], off[1]), e->p[0], off[0]);
}

static int emit_elementwise(Cg *c, int i, LLVMValueRef *p) {
    const IrNode *n = &c->g->nodes[i];
    Nest ne = {.rank = n->shape.rank, .nt = 1 + n->nsrc};
    for (int d = 0; d < n->shape.rank; d++) ne.size[d] = n->shape.ax[d].size;
    ir_strides(&n->shape, ne.st[0]);
    for (int s = 0; s < n->nsrc; s++) {
        const IrShape *ss = &c->g->nodes[n->src[s]].shape;
        for (int d = 0; d < ss->rank; d++) {
            int j = ir_axis_find(&n->shape, ss->ax[d].name);
            if (j < 0 || n->shape.ax[j].size != ss->ax[d].size)
                return fail(c, i, "source %d axis '%s' does not broadcast to the output", s, ss->ax[d].name);
        }
        if (n->nsrc == 1 && ss->rank != n->shape.rank)
            return fail(c, i, "source and output shapes differ");
        ir_bcast_strides(&n->shape, ss, ne.st[1 + s]);
    }
    Ew e = {.node = n, .p = {p[0], p[1], n->nsrc > 1 ? p[2] : NULL}};
    LLVMValueRef off[NEST_T] = {ci(c, 0), ci(c, 0), ci(c, 0)};
    nest_emit(c, ne, off, ew_body, &e);
    return 0;
}

/* ---- reductions along one axis ------------------------------------------- */

typedef struct {
    const IrNode *node;
    LLVMValueRef p[4]; /* out, x, gamma, beta */
    int64_t len, stride; /* reduced axis extent and stride (same in x and out) */
} Red;

static void softmax_body(Cg *c, LLVMValueRef *off, void *ud) {
    Red *r = ud;
    LLVMBuilderRef b = c->b;
    Loop l;
    LLVMBuildStore(b, cf(c, -INFINITY), c->accf);
    LLVMValueRef o = idx(c, off[0], loop_begin(c, &l, r->len), r->stride);
    LLVMValueRef m2[2] = {LLVMBuildLoad2(b, c->f32, c->accf, ""), ld(c, r->p[1], o)};
    LLVMBuildStore(b, intrinsic(c, "llvm.maximum", c->f32, m2, 2), c->accf);
    loop_end(c, &l);
    LLVMValueRef mx = LLVMBuildLoad2(b, c->f32, c->accf, "max");
    LLVMBuildStore(b, cf(c, 0.0), c->accf);
    o = idx(c, off[0], loop_begin(c, &l, r->len), r->stride);
    LLVMValueRef e = fexp(c, LLVMBuildFSub(b, ld(c, r->p[1], o), mx, ""));
    st(c, e, r->p[0], o);
    LLVMBuildStore(b, fadd_r(c, LLVMBuildLoad2(b, c->f32, c->accf, ""), e), c->accf);
    loop_end(c, &l);
    LLVMValueRef inv = LLVMBuildFDiv(b, cf(c, 1.0), LLVMBuildLoad2(b, c->f32, c->accf, ""), "");
    o = idx(c, off[0], loop_begin(c, &l, r->len), r->stride);
    st(c, LLVMBuildFMul(b, ld(c, r->p[0], o), inv, ""), r->p[0], o);
    loop_end(c, &l);
}

/* Sum over the axis of f(x) in double into accd[k]. */
static LLVMValueRef dsum(Cg *c, Red *r, LLVMValueRef base, int k, LLVMValueRef mean, int square) {
    LLVMBuilderRef b = c->b;
    Loop l;
    LLVMBuildStore(b, cd(c, 0.0), c->accd[k]);
    LLVMValueRef o = idx(c, base, loop_begin(c, &l, r->len), r->stride);
    LLVMValueRef x = LLVMBuildFPExt(b, ld(c, r->p[1], o), c->f64, "");
    if (mean) x = LLVMBuildFSub(b, x, mean, "");
    if (square) x = LLVMBuildFMul(b, x, x, "");
    LLVMBuildStore(b, fadd_r(c, LLVMBuildLoad2(b, c->f64, c->accd[k], ""), x), c->accd[k]);
    loop_end(c, &l);
    return LLVMBuildLoad2(b, c->f64, c->accd[k], "");
}

/* 1 / sqrt(ss / len + eps) in double, returned as float. */
static LLVMValueRef rstd(Cg *c, Red *r, LLVMValueRef ss) {
    LLVMBuilderRef b = c->b;
    LLVMValueRef v = LLVMBuildFAdd(b, LLVMBuildFDiv(b, ss, cd(c, (double)r->len), ""), cd(c, r->node->f[0]), "");
    LLVMValueRef s = intrinsic(c, "llvm.sqrt", c->f64, &v, 1);
    return LLVMBuildFPTrunc(b, LLVMBuildFDiv(b, cd(c, 1.0), s, ""), c->f32, "rstd");
}

/* LAYERNORM: two passes in double for mean and variance, then in float
 * y = (x - mean) * rstd [* gamma + beta].  RMSNORM: y = x * rstd [* gamma]. */
static void norm_body(Cg *c, LLVMValueRef *off, void *ud) {
    Red *r = ud;
    LLVMBuilderRef b = c->b;
    int ln = r->node->op == IR_OP_LAYERNORM;
    LLVMValueRef meand = NULL, meanf = NULL;
    if (ln) {
        meand = LLVMBuildFDiv(b, dsum(c, r, off[0], 0, NULL, 0), cd(c, (double)r->len), "mean");
        meanf = LLVMBuildFPTrunc(b, meand, c->f32, "");
    }
    LLVMValueRef rs = rstd(c, r, dsum(c, r, off[0], 1, meand, 1));
    Loop l;
    LLVMValueRef i = loop_begin(c, &l, r->len);
    LLVMValueRef o = idx(c, off[0], i, r->stride);
    LLVMValueRef y = ld(c, r->p[1], o);
    if (ln) y = LLVMBuildFSub(b, y, meanf, "");
    y = LLVMBuildFMul(b, y, rs, "");
    if (r->p[2]) y = LLVMBuildFMul(b, y, ld(c, r->p[2], i), "");
    if (r->p[3]) y = LLVMBuildFAdd(b, y, ld(c, r->p[3], i), "");
    st(c, y, r->p[0], o);
    loop_end(c, &l);
}

static int emit_along(Cg *c, int i, LLVMValueRef *p) {
    const IrNode *n = &c->g->nodes[i];
    const IrShape *xs = &c->g->nodes[n->src[0]].shape;
    int ax = n->nax >= 1 ? ir_axis_find(&n->shape, n->ax[0]) : -1;
    if (ax < 0) return fail(c, i, "axis '%s' not in the shape", n->nax >= 1 ? n->ax[0] : "?");
    int same = xs->rank == n->shape.rank;
    for (int d = 0; same && d < xs->rank; d++)
        same = !strcmp(xs->ax[d].name, n->shape.ax[d].name) && xs->ax[d].size == n->shape.ax[d].size;
    if (!same) return fail(c, i, "source and output shapes differ");
    int maxsrc = n->op == IR_OP_SOFTMAX ? 1 : n->op == IR_OP_RMSNORM ? 2 : 3;
    if (n->nsrc < 1 || n->nsrc > maxsrc) return fail(c, i, "%d sources", n->nsrc);
    for (int s = 1; s < n->nsrc; s++) {
        const IrShape *ps = &c->g->nodes[n->src[s]].shape;
        if (ir_numel(ps) != n->shape.ax[ax].size) return fail(c, i, "source %d is not [%s]", s, n->ax[0]);
    }
    int64_t str[IR_MAX_RANK];
    ir_strides(&n->shape, str);
    Red r = {.node = n, .p = {p[0], p[1], n->nsrc > 1 ? p[2] : NULL, n->nsrc > 2 ? p[3] : NULL},
             .len = n->shape.ax[ax].size, .stride = str[ax]};
    Nest ne = {.nt = 1};
    for (int d = 0; d < n->shape.rank; d++) {
        if (d == ax) continue;
        ne.size[ne.rank] = n->shape.ax[d].size;
        ne.st[0][ne.rank++] = str[d];
    }
    LLVMValueRef off[NEST_T] = {ci(c, 0)};
    nest_emit(c, ne, off, n->op == IR_OP_SOFTMAX ? softmax_body : norm_body, &r);
    return 0;
}

/* ---- SUM, MEAN ----------------------------------------------------------- */

typedef struct {
    const IrNode *node;
    LLVMValueRef p[2];
    Nest inner;     /* the reduced axes, source strides */
    int64_t count;  /* elements summed per output */
} Sum;

static void sum_inner(Cg *c, LLVMValueRef *off, void *ud) {
    LLVMValueRef x = LLVMBuildFPExt(c->b, ld(c, ((Sum *)ud)->p[1], off[0]), c->f64, "");
    LLVMBuildStore(c->b, fadd_r(c, LLVMBuildLoad2(c->b, c->f64, c->accd[0], ""), x), c->accd[0]);
}

static void sum_outer(Cg *c, LLVMValueRef *off, void *ud) {
    Sum *s = ud;
    LLVMBuildStore(c->b, cd(c, 0.0), c->accd[0]);
    LLVMValueRef in = off[1];
    nest_emit(c, s->inner, &in, sum_inner, s);
    LLVMValueRef v = LLVMBuildLoad2(c->b, c->f64, c->accd[0], "");
    if (s->node->op == IR_OP_MEAN) v = LLVMBuildFDiv(c->b, v, cd(c, (double)s->count), "");
    st(c, LLVMBuildFPTrunc(c->b, v, c->f32, ""), s->p[0], off[0]);
}

static int emit_sum(Cg *c, int i, LLVMValueRef *p) {
    const IrNode *n = &c->g->nodes[i];
    const IrShape *xs = &c->g->nodes[n->src[0]].shape;
    int64_t xst[IR_MAX_RANK];
    ir_strides(xs, xst);
    Sum s = {.node = n, .p = {p[0], p[1]}, .inner = {.nt = 1}, .count = 1};
    for (int d = 0; d < xs->rank; d++) {
        int red = 0;
        for (int a = 0; a < n->nax; a++) red |= !strcmp(n->ax[a], xs->ax[d].name);
        if (red) {
            s.inner.size[s.inner.rank] = xs->ax[d].size;
            s.inner.st[0][s.inner.rank++] = xst[d];
            s.count *= xs->ax[d].size;
        } else if (ir_axis_find(&n->shape, xs->ax[d].name) < 0) {
            return fail(c, i, "kept axis '%s' missing from the output", xs->ax[d].name);
        }
    }
    if (s.inner.rank != n->nax || xs->rank - n->nax != n->shape.rank)
        return fail(c, i, "summed axes do not match the source");
    Nest ne = {.rank = n->shape.rank, .nt = 2};
    for (int d = 0; d < n->shape.rank; d++) ne.size[d] = n->shape.ax[d].size;
    ir_strides(&n->shape, ne.st[0]);
    ir_bcast_strides(&n->shape, xs, ne.st[1]);
    LLVMValueRef off[NEST_T] = {ci(c, 0), ci(c, 0)};
    nest_emit(c, ne, off, sum_outer, &s);
    return 0;
}

/* ---- data movement ------------------------------------------------------- */

/* Copies src (offset sbase, strides over dims) to dst (offset dbase). */
static void strided_copy(Cg *c, LLVMValueRef dst, LLVMValueRef src, const IrShape *dims,
                         const int64_t *dst_st, const int64_t *src_st, int64_t dbase, int64_t sbase) {
    Nest ne = {.rank = dims->rank, .nt = 2};
    for (int d = 0; d < dims->rank; d++) {
        ne.size[d] = dims->ax[d].size;
        ne.st[0][d] = dst_st[d];
        ne.st[1][d] = src_st[d];
    }
    Ew e = {.p = {dst, src}};
    LLVMValueRef off[NEST_T] = {ci(c, dbase), ci(c, sbase)};
    nest_emit(c, ne, off, copy_body, &e);
}

static int same_axes(const IrShape *a, const IrShape *b) {
    if (a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; d++) {
        int j = ir_axis_find(b, a->ax[d].name);
        if (j < 0 || b->ax[j].size != a->ax[d].size) return 0;
    }
    return 1;
}

static int emit_move(Cg *c, int i, LLVMValueRef *p) {
    const IrNode *n = &c->g->nodes[i];
    const IrShape *os = &n->shape, *xs = &c->g->nodes[n->src[0]].shape;
    int64_t ost[IR_MAX_RANK], xst[IR_MAX_RANK], bst[IR_MAX_RANK];
    ir_strides(os, ost);
    ir_strides(xs, xst);
    switch (n->op) {
    case IR_OP_PERMUTE:
        if (!same_axes(os, xs)) return fail(c, i, "not a permutation of the source");
        ir_bcast_strides(os, xs, bst);
        strided_copy(c, p[0], p[1], os, ost, bst, 0, 0);
        return 0;
    case IR_OP_RESHAPE:
        if (ir_numel(os) != ir_numel(xs)) return fail(c, i, "element counts differ");
        LLVMBuildMemCpy(c->b, p[0], 4, p[1], 4, ci(c, ir_numel(os) * (int64_t)sizeof(float)));
        return 0;
    case IR_OP_SELECT:
    case IR_OP_SLICE: {
        int ax = n->nax >= 1 ? ir_axis_find(xs, n->ax[0]) : -1;
        if (ax < 0) return fail(c, i, "axis not in the source");
        int oax = ir_axis_find(os, n->ax[0]);
        if ((n->op == IR_OP_SLICE) != (oax >= 0)) return fail(c, i, "axis wrongly kept or dropped");
        int64_t len = oax < 0 ? 1 : os->ax[oax].size;
        if (n->i[0] < 0 || n->i[0] + len > xs->ax[ax].size) return fail(c, i, "index out of range");
        if (os->rank != xs->rank - (n->op == IR_OP_SELECT)) return fail(c, i, "wrong output rank");
        for (int d = 0; d < os->rank; d++) {
            int j = ir_axis_find(xs, os->ax[d].name);
            if (j < 0 || (j != ax && xs->ax[j].size != os->ax[d].size)) return fail(c, i, "axes differ");
        }
        ir_bcast_strides(os, xs, bst);
        strided_copy(c, p[0], p[1], os, ost, bst, 0, n->i[0] * xst[ax]);
        return 0;
    }
    case IR_OP_CONCAT: {
        int ax = n->nax >= 1 ? ir_axis_find(os, n->ax[0]) : -1;
        if (ax < 0) return fail(c, i, "axis not in the output");
        int64_t at0 = 0;
        for (int s = 0; s < 2; s++) {
            const IrShape *ss = &c->g->nodes[n->src[s]].shape;
            int j = ir_axis_find(ss, n->ax[0]);
            if (ss->rank != os->rank || j != ax) return fail(c, i, "source %d axes differ", s);
            for (int d = 0; d < os->rank; d++)
                if (strcmp(ss->ax[d].name, os->ax[d].name) || (d != ax && ss->ax[d].size != os->ax[d].size))
                    return fail(c, i, "source %d axes differ", s);
            int64_t sst[IR_MAX_RANK];
            ir_strides(ss, sst);
            if (ir_numel(ss) > 0) strided_copy(c, p[0], p[1 + s], ss, ost, sst, at0 * ost[ax], 0);
            at0 += ss->ax[ax].size;
        }
        if (at0 != os->ax[ax].size) return fail(c, i, "sizes do not add up");
        return 0;
    }
    default: return fail(c, i, "not a data movement op");
    }
}

/* ---- calls into the runtime ---------------------------------------------- */

static LLVMValueRef runtime_fn(Cg *c, const char *name, LLVMTypeRef *args, unsigned n, LLVMTypeRef *fty) {
    *fty = LLVMFunctionType(c->v, args, n, 0);
    LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
    return f ? f : LLVMAddFunction(c->mod, name, *fty);
}

/* void vitrt_gemm(i64 batch, m, n, k, a, lda, stride_a, i32 trans_a,
 *                 b, ldb, stride_b, i32 trans_b, c, ldc, stride_c) */
static int emit_contract(Cg *c, int i, LLVMValueRef *p) {
    LowerGemm gm;
    if (!lower_gemm_shape(c->g, &c->g->nodes[i], &gm)) return fail(c, i, "not in GEMM form (run lower_contractions)");
    LLVMTypeRef I = c->i64, P = c->ptr, W = c->i32, fty;
    LLVMTypeRef at_[15] = {I, I, I, I, P, I, I, W, P, I, I, W, P, I, I};
    LLVMValueRef f = runtime_fn(c, "vitrt_gemm", at_, 15, &fty);
    LLVMValueRef args[15] = {
        ci(c, gm.batch), ci(c, gm.m), ci(c, gm.n), ci(c, gm.k),
        p[1], ci(c, gm.trans_a ? gm.m : gm.k), ci(c, gm.m * gm.k), LLVMConstInt(W, (unsigned)gm.trans_a, 0),
        p[2], ci(c, gm.trans_b ? gm.k : gm.n), ci(c, gm.k * gm.n), LLVMConstInt(W, (unsigned)gm.trans_b, 0),
        p[0], ci(c, gm.n), ci(c, gm.m * gm.n)};
    LLVMBuildCall2(c->b, fty, f, args, 15, "");
    return 0;
}

/* void vitrt_resample(src, dst, i64 outer, ih, iw, oh, ow, inner, i32 antialias) */
static int emit_resample(Cg *c, int i, LLVMValueRef *p) {
    const IrNode *n = &c->g->nodes[i];
    const IrShape *xs = &c->g->nodes[n->src[0]].shape, *os = &n->shape;
    int a0 = n->nax >= 2 ? ir_axis_find(xs, n->ax[0]) : -1;
    int a1 = n->nax >= 2 ? ir_axis_find(xs, n->ax[1]) : -1;
    if (a0 < 0 || a1 != a0 + 1 || os->rank != xs->rank) return fail(c, i, "axes must be adjacent source axes");
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < xs->rank; d++) {
        if (strcmp(xs->ax[d].name, os->ax[d].name) || (d != a0 && d != a1 && xs->ax[d].size != os->ax[d].size))
            return fail(c, i, "output axes differ from the source's");
        if (d < a0) outer *= xs->ax[d].size;
        if (d > a1) inner *= xs->ax[d].size;
    }
    LLVMTypeRef I = c->i64, P = c->ptr, fty;
    LLVMTypeRef at_[9] = {P, P, I, I, I, I, I, I, c->i32};
    LLVMValueRef f = runtime_fn(c, "vitrt_resample", at_, 9, &fty);
    LLVMValueRef args[9] = {p[1], p[0], ci(c, outer), ci(c, xs->ax[a0].size), ci(c, xs->ax[a1].size),
                            ci(c, os->ax[a0].size), ci(c, os->ax[a1].size), ci(c, inner),
                            LLVMConstInt(c->i32, n->i[0] ? 1 : 0, 0)};
    LLVMBuildCall2(c->b, fty, f, args, 9, "");
    return 0;
}

/* ---- per node ------------------------------------------------------------ */

static int emit_body(Cg *c, int i, LLVMValueRef *p) {
    switch (c->g->nodes[i].op) {
    case IR_OP_ADD: case IR_OP_SUB: case IR_OP_MUL: case IR_OP_DIV: case IR_OP_SCALE:
    case IR_OP_GELU: case IR_OP_GELU_TANH: case IR_OP_QUICK_GELU: case IR_OP_SILU:
    case IR_OP_SIGMOID: case IR_OP_RELU: case IR_OP_EXP: case IR_OP_TANH: case IR_OP_RSQRT:
        return emit_elementwise(c, i, p);
    case IR_OP_SOFTMAX: case IR_OP_LAYERNORM: case IR_OP_RMSNORM:
        return emit_along(c, i, p);
    case IR_OP_SUM: case IR_OP_MEAN:
        return emit_sum(c, i, p);
    case IR_OP_PERMUTE: case IR_OP_RESHAPE: case IR_OP_SELECT: case IR_OP_SLICE: case IR_OP_CONCAT:
        return emit_move(c, i, p);
    case IR_OP_CONTRACT: return emit_contract(c, i, p);
    case IR_OP_RESAMPLE: return emit_resample(c, i, p);
    default: return fail(c, i, "no code generation rule");
    }
}

/* Emits `void nI_op(ptr noalias out, ptr noalias src...)`; NULL on error. */
static LLVMValueRef emit_node(Cg *c, int i) {
    const IrNode *n = &c->g->nodes[i];
    LLVMTypeRef params[1 + IR_MAX_SRC];
    for (int s = 0; s <= n->nsrc; s++) params[s] = c->ptr;
    char name[64], op[32];
    snprintf(op, sizeof op, "%s", ir_op_info[n->op].name);
    for (char *q = op; *q; q++) *q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
    snprintf(name, sizeof name, "n%d_%s", i, op);
    LLVMValueRef f = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->v, params, (unsigned)n->nsrc + 1, 0));
    LLVMSetLinkage(f, LLVMInternalLinkage);
    add_attr(c, f, LLVMAttributeFunctionIndex, "nounwind");
    add_attr(c, f, LLVMAttributeFunctionIndex, "noinline");
    for (unsigned s = 1; s <= (unsigned)n->nsrc + 1; s++) {
        add_attr(c, f, s, "noalias");
        add_attr(c, f, s, "nocapture");
        if (s > 1) add_attr(c, f, s, "readonly");
    }
    c->fn = f;
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, f, "entry"));
    c->accf = LLVMBuildAlloca(c->b, c->f32, "accf");
    c->accd[0] = LLVMBuildAlloca(c->b, c->f64, "accd0");
    c->accd[1] = LLVMBuildAlloca(c->b, c->f64, "accd1");
    LLVMValueRef p[1 + IR_MAX_SRC];
    for (int s = 0; s <= n->nsrc; s++) p[s] = LLVMGetParam(f, (unsigned)s);
    if (emit_body(c, i, p)) return NULL;
    LLVMBuildRetVoid(c->b);
    return f;
}

/* Everything a node function depends on: nodes with equal keys share one
 * function (a model's repeated blocks compile once). */
static size_t node_key(const IrGraph *g, int i, char *buf, size_t len) {
    const IrNode *n = &g->nodes[i];
    char sh[512];
    size_t k = 0;
#define PUT(...) k += (size_t)snprintf(buf + k, k < len ? len - k : 0, __VA_ARGS__)
    ir_shape_str(&n->shape, sh, sizeof sh);
    PUT("%d %s", (int)n->op, sh);
    for (int s = 0; s < n->nsrc; s++) {
        ir_shape_str(&g->nodes[n->src[s]].shape, sh, sizeof sh);
        PUT(" %s", sh);
    }
    for (int a = 0; a < n->nax; a++) PUT(" ax=%s", n->ax[a]);
    for (int a = 0; a < 4; a++) {
        uint32_t bits;
        memcpy(&bits, &n->f[a], sizeof bits);
        PUT(" %lld:%08x", (long long)n->i[a], (unsigned)bits);
    }
#undef PUT
    return k; /* >= len: truncated */
}

static int has_code(const IrGraph *g, int i) {
    const IrNode *n = &g->nodes[i];
    return n->op != IR_OP_INPUT && n->op != IR_OP_PARAM && n->op != IR_OP_CONST && ir_numel(&n->shape) > 0;
}

/* Ops the interpreter runs for the JIT (cheap or rare ones: index
 * arithmetic, masks, padding, small convolutions). */
static int fallback(const IrGraph *g, int i) {
    switch (g->nodes[i].op) {
    case IR_OP_GATHER: case IR_OP_ARGMAX: case IR_OP_CMP: case IR_OP_WHERE:
    case IR_OP_PAD: case IR_OP_ROLL: case IR_OP_CONV2D:
        return 1;
    default:
        return 0;
    }
}

/* Builds the whole module into c (c->ctx etc. set by the caller). */
static int build(Cg *c) {
    const IrGraph *g = c->g;
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        int want = ir_op_info[n->op].nsrc;
        if (n->nsrc < 0 || n->nsrc > IR_MAX_SRC || (want >= 0 && n->nsrc != want))
            return fail(c, i, "%d sources", n->nsrc);
        for (int s = 0; s < n->nsrc; s++)
            if (n->src[s] < 0 || n->src[s] >= i) return fail(c, i, "source %d out of order", s);
    }
    LLVMValueRef *fns = calloc(g->n > 0 ? (size_t)g->n : 1, sizeof *fns);
    if (!fns) {
        snprintf(c->err, c->errlen, "codegen: out of memory");
        return -1;
    }
    enum { KEYLEN = 2048 };
    char *keys = malloc((size_t)(g->n > 0 ? g->n : 1) * KEYLEN);
    int rc = -1;
    if (!keys) {
        snprintf(c->err, c->errlen, "codegen: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < g->n; i++) {
        if (!has_code(g, i) || fallback(g, i)) continue;
        char *key = keys + (size_t)i * KEYLEN;
        if (node_key(g, i, key, KEYLEN) >= KEYLEN) key[0] = 0; /* never shared */
        for (int j = 0; j < i && !fns[i] && key[0]; j++)
            if (fns[j] && !strcmp(keys + (size_t)j * KEYLEN, key)) fns[i] = fns[j];
        if (!fns[i] && !(fns[i] = emit_node(c, i))) goto cleanup;
    }

    LLVMTypeRef fty = LLVMFunctionType(c->v, &c->ptr, 1, 0);
    LLVMValueRef fwd = LLVMAddFunction(c->mod, "vit_forward", fty);
    add_attr(c, fwd, LLVMAttributeFunctionIndex, "nounwind");
    c->fn = fwd;
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fwd, "entry"));
    LLVMValueRef bufs = LLVMGetParam(fwd, 0);
    LLVMTypeRef fbt = NULL;
    LLVMValueRef fb = NULL;
    for (int i = 0; i < g->n; i++) {
        if (has_code(g, i) && fallback(g, i)) {
            /* ops without generated code: the interpreter's kernel, through the runtime */
            if (!fb) {
                LLVMTypeRef at_[2] = {c->i64, c->ptr};
                fb = runtime_fn(c, "vitrt_fallback", at_, 2, &fbt);
            }
            LLVMValueRef args[2] = {ci(c, i), bufs};
            LLVMBuildCall2(c->b, fbt, fb, args, 2, "");
            continue;
        }
        if (!fns[i]) continue;
        const IrNode *n = &g->nodes[i];
        LLVMValueRef args[1 + IR_MAX_SRC];
        for (int s = 0; s <= n->nsrc; s++) {
            LLVMValueRef k = ci(c, s == 0 ? i : n->src[s - 1]);
            LLVMValueRef slot = LLVMBuildInBoundsGEP2(c->b, c->ptr, bufs, &k, 1, "");
            args[s] = LLVMBuildLoad2(c->b, c->ptr, slot, "");
        }
        LLVMBuildCall2(c->b, LLVMGlobalGetValueType(fns[i]), fns[i], args, (unsigned)n->nsrc + 1, "");
    }
    LLVMBuildRetVoid(c->b);

    char *msg = NULL;
    if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
        snprintf(c->err, c->errlen, "codegen: invalid IR: %.400s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        goto cleanup;
    }
    LLVMDisposeMessage(msg); /* an empty message is still allocated */
    rc = 0;
cleanup:
    free(keys);
    free(fns);
    return rc;
}

/* Creates context, module and builder, then builds.  The caller always
 * calls dispose(c), which releases whatever was created. */
static int setup(Cg *c, const IrGraph *g, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    c->g = g;
    c->err = err;
    c->errlen = errlen;
    /* context, module and builder are ours until dispose() */
    c->ctx = LLVMContextCreate();
    c->mod = LLVMModuleCreateWithNameInContext(g->name ? g->name : "vit", c->ctx);
    c->b = LLVMCreateBuilderInContext(c->ctx);
    c->v = LLVMVoidTypeInContext(c->ctx);
    c->f32 = LLVMFloatTypeInContext(c->ctx);
    c->f64 = LLVMDoubleTypeInContext(c->ctx);
    c->i32 = LLVMInt32TypeInContext(c->ctx);
    c->i64 = LLVMInt64TypeInContext(c->ctx);
    c->ptr = LLVMPointerTypeInContext(c->ctx, 0);
    c->fty_ff = LLVMFunctionType(c->f32, &c->f32, 1, 0);
    return build(c);
}

static void dispose(Cg *c) {
    if (c->b) LLVMDisposeBuilder(c->b);
    if (c->mod) LLVMDisposeModule(c->mod); /* the module is ours until disposed */
    if (c->ctx) LLVMContextDispose(c->ctx);
}

int codegen_emit(const IrGraph *g, void **bc, size_t *bclen, char *err, size_t errlen) {
    Cg c;
    LLVMMemoryBufferRef mb = NULL;
    int rc = -1;
    *bc = NULL;
    *bclen = 0;
    if (setup(&c, g, err, errlen)) goto cleanup;
    mb = LLVMWriteBitcodeToMemoryBuffer(c.mod); /* we own mb */
    size_t n = LLVMGetBufferSize(mb);
    void *out = malloc(n ? n : 1);
    if (!out) {
        snprintf(err, errlen, "codegen: out of memory");
        goto cleanup;
    }
    memcpy(out, LLVMGetBufferStart(mb), n);
    *bc = out;
    *bclen = n;
    rc = 0;
cleanup:
    if (mb) LLVMDisposeMemoryBuffer(mb);
    dispose(&c);
    return rc;
}

int codegen_emit_text(const IrGraph *g, FILE *out, char *err, size_t errlen) {
    Cg c;
    int rc = -1;
    if (setup(&c, g, err, errlen)) goto cleanup;
    char *text = LLVMPrintModuleToString(c.mod); /* ours: LLVMDisposeMessage */
    if (fputs(text, out) < 0) snprintf(err, errlen, "codegen: write failed");
    else rc = 0;
    LLVMDisposeMessage(text);
cleanup:
    dispose(&c);
    return rc;
}
