/* runtime/jit.c — bitcode to native code through ORC LLJIT.
 * The module is parsed into a fresh thread-safe context, given the JIT's
 * triple and data layout, optimised with the standard O3 pipeline for a
 * target machine describing the host CPU (so the loop vectoriser uses its
 * full vector width), then handed to LLJIT.  The runtime's kernels are
 * bound by address (so they are linked in whatever the executable exports);
 * anything else (memcpy, memset) is looked up in the process. */
#include "jit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "resample.h"

struct JitModule {
    LLVMOrcLLJITRef jit;          /* owns the compiled code */
    void (*forward)(float **);    /* vit_forward inside it */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_failed;

static void init_llvm(void) {
    init_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter() ||
                  LLVMInitializeNativeAsmParser();
}

/* Collects the context's diagnostics (the default handler would print
 * errors and exit the process).  Only the first error is kept. */
typedef struct {
    char msg[256];
} Diag;

static void diag_handler(LLVMDiagnosticInfoRef di, void *p) {
    Diag *d = p;
    if (LLVMGetDiagInfoSeverity(di) != LLVMDSError || d->msg[0]) return;
    char *s = LLVMGetDiagInfoDescription(di); /* ours */
    snprintf(d->msg, sizeof d->msg, "%s", s);
    LLVMDisposeMessage(s);
}

/* Formats e (consumed) into err; returns -1. */
static int llvm_error(LLVMErrorRef e, const char *what, char *err, size_t errlen) {
    char *m = LLVMGetErrorMessage(e); /* consumes e; m is ours */
    snprintf(err, errlen, "jit: %s: %s", what, m);
    LLVMDisposeErrorMessage(m);
    return -1;
}

/* The runtime functions the generated code calls, bound by address. */
static int define_runtime(LLVMOrcLLJITRef jit, char *err, size_t errlen) {
    static const struct { const char *name; void (*addr)(void); } syms[] = {
        {"vitrt_gemm", (void (*)(void))vitrt_gemm},
        {"vitrt_resample", (void (*)(void))vitrt_resample},
        {"vitrt_fallback", (void (*)(void))vitrt_fallback},
    };
    enum { NSYM = sizeof syms / sizeof syms[0] };
    LLVMOrcCSymbolMapPair pairs[NSYM];
    for (int i = 0; i < NSYM; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(jit, syms[i].name); /* retained; the MU takes it */
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)syms[i].addr;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, NSYM); /* owns the names */
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMErrorRef e = LLVMOrcJITDylibDefine(jd, mu); /* on success jd owns mu */
    if (e) {
        LLVMOrcDisposeMaterializationUnit(mu); /* on failure mu is still ours */
        return llvm_error(e, "defining runtime symbols", err, errlen);
    }
    LLVMOrcDefinitionGeneratorRef gen = NULL;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL);
    if (e) return llvm_error(e, "process symbol generator", err, errlen);
    LLVMOrcJITDylibAddGenerator(jd, gen); /* jd owns gen */
    return 0;
}

/* Target triple, data layout and host CPU on the module, then O3. */
static int optimise(LLVMOrcLLJITRef jit, LLVMModuleRef mod, char *err, size_t errlen) {
    const char *triple = LLVMOrcLLJITGetTripleString(jit); /* owned by the JIT */
    char *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures(); /* ours */
    char *msg = NULL;
    LLVMTargetMachineRef tm = NULL;
    LLVMPassBuilderOptionsRef opts = NULL;
    LLVMTargetRef target;
    int rc = -1;
    if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
        snprintf(err, errlen, "jit: target %s: %s", triple, msg ? msg : "?");
        goto cleanup;
    }
    tm = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive, LLVMRelocDefault,
                                 LLVMCodeModelJITDefault); /* ours: LLVMDisposeTargetMachine */
    LLVMSetTarget(mod, triple);
    LLVMSetDataLayout(mod, LLVMOrcLLJITGetDataLayoutStr(jit));
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
        if (LLVMIsDeclaration(f)) continue;
        LLVMAddTargetDependentFunctionAttr(f, "target-cpu", cpu);
        LLVMAddTargetDependentFunctionAttr(f, "target-features", features);
    }
    opts = LLVMCreatePassBuilderOptions(); /* ours */
    LLVMErrorRef e = LLVMRunPasses(mod, "default<O3>", tm, opts);
    if (e) {
        llvm_error(e, "optimising", err, errlen);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (opts) LLVMDisposePassBuilderOptions(opts);
    if (tm) LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    return rc;
}

int jit_load(const void *bc, size_t bclen, JitModule **out, char *err, size_t errlen) {
    JitModule *m = NULL;
    LLVMOrcThreadSafeContextRef tsc = NULL;
    LLVMMemoryBufferRef mb = NULL;
    LLVMModuleRef mod = NULL;
    LLVMOrcJITTargetMachineBuilderRef jtmb = NULL;
    LLVMOrcLLJITBuilderRef builder = NULL;
    LLVMErrorRef e;
    Diag diag = {{0}};
    int rc = -1;
    *out = NULL;
    pthread_once(&init_once, init_llvm);
    if (init_failed) {
        snprintf(err, errlen, "jit: no native target");
        return -1;
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "jit: out of memory");
        return -1;
    }
    if ((e = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb))) { /* jtmb is ours on success */
        llvm_error(e, "detecting the host", err, errlen);
        goto cleanup;
    }
    builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb); /* builder owns jtmb */
    jtmb = NULL;
    e = LLVMOrcCreateLLJIT(&m->jit, builder); /* consumes builder, even on failure */
    builder = NULL;
    if (e) {
        m->jit = NULL;
        llvm_error(e, "creating the JIT", err, errlen);
        goto cleanup;
    }
    if (define_runtime(m->jit, err, errlen)) goto cleanup;

    tsc = LLVMOrcCreateNewThreadSafeContext(); /* ours; modules keep it alive */
    LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(tsc);
    LLVMContextSetDiagnosticHandler(ctx, diag_handler, &diag); /* diag outlives the parse only */
    mb = LLVMCreateMemoryBufferWithMemoryRange(bc, bclen, "vit", 0); /* ours; does not copy bc */
    int bad = LLVMParseBitcodeInContext2(ctx, mb, &mod);
    LLVMContextSetDiagnosticHandler(ctx, NULL, NULL);
    if (bad) {
        snprintf(err, errlen, "jit: invalid bitcode: %s", diag.msg[0] ? diag.msg : "?");
        mod = NULL;
        goto cleanup;
    }
    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        snprintf(err, errlen, "jit: invalid module: %.300s", msg ? msg : "?");
        LLVMDisposeMessage(msg);
        goto cleanup;
    }
    LLVMDisposeMessage(msg); /* allocated even when empty */
    if (optimise(m->jit, mod, err, errlen)) goto cleanup;
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc); /* tsm owns mod */
    mod = NULL;
    e = LLVMOrcLLJITAddLLVMIRModule(m->jit, LLVMOrcLLJITGetMainJITDylib(m->jit), tsm); /* jit owns tsm */
    if (e) {
        llvm_error(e, "adding the module", err, errlen);
        goto cleanup;
    }
    LLVMOrcExecutorAddress addr = 0;
    if ((e = LLVMOrcLLJITLookup(m->jit, &addr, "vit_forward"))) { /* compiles the module */
        llvm_error(e, "looking up vit_forward", err, errlen);
        goto cleanup;
    }
    m->forward = (void (*)(float **))(uintptr_t)addr;
    *out = m;
    m = NULL;
    rc = 0;
cleanup:
    if (mod) LLVMDisposeModule(mod);
    if (mb) LLVMDisposeMemoryBuffer(mb);
    if (tsc) LLVMOrcDisposeThreadSafeContext(tsc); /* drops our reference only */
    if (builder) LLVMOrcDisposeLLJITBuilder(builder);
    if (jtmb) LLVMOrcDisposeJITTargetMachineBuilder(jtmb);
    jit_free(m);
    return rc;
}

void (*jit_forward(JitModule *m))(float **) { return m->forward; }

void jit_free(JitModule *m) {
    if (!m) return;
    if (m->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(m->jit);
        if (e) LLVMConsumeError(e); /* nothing useful to do with it here */
    }
    free(m);
}
