/* runtime/jit.c — bitcode to native code through ORC LLJIT.
 * The module is parsed into a fresh thread-safe context, given the JIT's
 * triple and data layout, optimised with the standard O3 pipeline for a
 * target machine describing the host CPU (so the loop vectoriser uses its
 * full vector width), then handed to LLJIT.  The runtime's kernels are
 * bound by address (so they are linked in whatever the executable exports);
 * anything else (memcpy, memset) is looked up in the process.
 *
 * The optimised module is compiled to an object file kept in the object
 * cache (objcache.c); a later load of the same module on the same machine
 * links the cached object instead of optimising and compiling again.  An
 * unreadable or unlinkable entry is ignored and rebuilt. */
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "objcache.h"
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

/* A target machine for the host CPU (ours: LLVMDisposeTargetMachine), NULL with a message. */
static LLVMTargetMachineRef host_machine(const char *triple, const char *cpu, const char *features, char *err, size_t errlen) {
    char *msg = NULL;
    LLVMTargetRef target;
    if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
        snprintf(err, errlen, "jit: target %s: %s", triple, msg ? msg : "?");
        LLVMDisposeMessage(msg);
        return NULL;
    }
    return LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelAggressive, LLVMRelocPIC,
                                   LLVMCodeModelSmall);
}

/* Target triple, data layout and host CPU on the module, O3, then native
 * code: *obj (ours) receives the object file. */
static int compile(LLVMOrcLLJITRef jit, LLVMModuleRef mod, const char *cpu, const char *features, LLVMMemoryBufferRef *obj,
                   char *err, size_t errlen) {
    const char *triple = LLVMOrcLLJITGetTripleString(jit); /* owned by the JIT */
    char *msg = NULL;
    LLVMTargetMachineRef tm = NULL;
    LLVMPassBuilderOptionsRef opts = NULL;
    int rc = -1;
    *obj = NULL;
    if (!(tm = host_machine(triple, cpu, features, err, errlen))) goto cleanup;
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
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, obj)) {
        snprintf(err, errlen, "jit: compiling: %s", msg ? msg : "?");
        *obj = NULL;
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (opts) LLVMDisposePassBuilderOptions(opts);
    if (tm) LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(msg);
    return rc;
}

/* A new LLJIT for the host with the runtime's symbols defined (*jit ours). */
static int new_jit(LLVMOrcLLJITRef *jit, char *err, size_t errlen) {
    LLVMOrcJITTargetMachineBuilderRef jtmb = NULL;
    LLVMErrorRef e;
    *jit = NULL;
    if ((e = LLVMOrcJITTargetMachineBuilderDetectHost(&jtmb))) return llvm_error(e, "detecting the host", err, errlen);
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb); /* builder owns jtmb */
    if ((e = LLVMOrcCreateLLJIT(jit, builder))) { /* consumes builder, even on failure */
        *jit = NULL;
        return llvm_error(e, "creating the JIT", err, errlen);
    }
    return define_runtime(*jit, err, errlen);
}

/* Link obj (consumed) into jit and find vit_forward. */
static int link_object(LLVMOrcLLJITRef jit, LLVMMemoryBufferRef obj, void (**fwd)(float **), char *err, size_t errlen) {
    LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), obj); /* takes obj */
    if (e) return llvm_error(e, "adding the object", err, errlen);
    LLVMOrcExecutorAddress addr = 0;
    if ((e = LLVMOrcLLJITLookup(jit, &addr, "vit_forward"))) return llvm_error(e, "looking up vit_forward", err, errlen);
    *fwd = (void (*)(float **))(uintptr_t)addr;
    return 0;
}

int jit_load(const void *bc, size_t bclen, JitModule **out, char *err, size_t errlen) {
    JitModule *m = NULL;
    LLVMOrcThreadSafeContextRef tsc = NULL;
    LLVMMemoryBufferRef mb = NULL, obj = NULL;
    LLVMModuleRef mod = NULL;
    Diag diag = {{0}};
    char *cpu = NULL, *features = NULL, path[3300];
    int rc = -1, cached = 0;
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
    if (new_jit(&m->jit, err, errlen)) goto cleanup;
    cpu = LLVMGetHostCPUName();
    features = LLVMGetHostCPUFeatures(); /* ours */
    cached = objcache_path(bc, bclen, LLVMOrcLLJITGetTripleString(m->jit), cpu, features, path, sizeof path);
    if (cached && (obj = objcache_read(path))) {
        LLVMMemoryBufferRef o = obj;
        obj = NULL;
        if (!link_object(m->jit, o, &m->forward, err, errlen)) goto done;
        /* a bad entry: start over with a fresh JIT and compile */
        LLVMErrorRef de = LLVMOrcDisposeLLJIT(m->jit);
        if (de) LLVMConsumeError(de);
        if (new_jit(&m->jit, err, errlen)) goto cleanup;
    }
    tsc = LLVMOrcCreateNewThreadSafeContext(); /* ours */
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
    if (compile(m->jit, mod, cpu, features, &obj, err, errlen)) goto cleanup;
    if (cached) objcache_write(path, obj);
    LLVMMemoryBufferRef o = obj;
    obj = NULL;
    if (link_object(m->jit, o, &m->forward, err, errlen)) goto cleanup;
done:
    *out = m;
    m = NULL;
    rc = 0;
cleanup:
    if (obj) LLVMDisposeMemoryBuffer(obj);
    if (mod) LLVMDisposeModule(mod);
    if (mb) LLVMDisposeMemoryBuffer(mb);
    if (tsc) LLVMOrcDisposeThreadSafeContext(tsc);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
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
