/* runtime/jit.c — bitcode to native code through ORC LLJIT.
 * The module is parsed into a fresh thread-safe context, given the JIT's
 * triple and data layout, optimised with the standard O3 pipeline for a
 * target machine describing the host CPU (so the loop vectoriser uses its
 * full vector width), then handed to LLJIT.  The runtime's kernels are
 * bound by address (so they are linked in whatever the executable exports);
 * anything else (memcpy, memset) is looked up in the process.
 *
 * Object cache: the optimised module is compiled to an object file, which
 * is kept in a cache directory under a key hashing the bitcode, the target
 * triple, the host CPU and its features and the LLVM version; a later load
 * of the same module on the same machine links the cached object instead of
 * optimising and compiling again.  Directory: $VITRUN_CACHE, else
 * $XDG_CACHE_HOME/vitrun, else $HOME/.cache/vitrun; VITRUN_CACHE=off
 * disables it.  Files are written atomically; an unreadable or unlinkable
 * entry is ignored and rebuilt. */
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
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- the object cache ----------------------------------------------------- */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* dir/KEY.o for this bitcode on this host, or 0 when the cache is off */
static int cache_path(const void *bc, size_t bclen, const char *triple, const char *cpu, const char *features,
                      char *path, size_t len) {
    const char *env = getenv("VITRUN_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[3072];
    if (env && (!strcmp(env, "off") || !strcmp(env, "0") || !*env)) return 0;
    if (env) snprintf(dir, sizeof dir, "%s", env);
    else if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/vitrun", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/vitrun", home);
    else return 0;
    if (!env && xdg && *xdg) mkdir(xdg, 0755);
    else if (!env && home) {
        char c[3072];
        snprintf(c, sizeof c, "%s/.cache", home);
        mkdir(c, 0755);
    }
    if (mkdir(dir, 0755) && errno != EEXIST) return 0;
    unsigned maj = 0, min = 0, pat = 0;
    LLVMGetVersion(&maj, &min, &pat);
    char salt[64];
    snprintf(salt, sizeof salt, "vitrun-object-1 llvm %u.%u.%u", maj, min, pat);
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    const void *parts[] = {salt, triple, cpu, features};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]) + 1;
        h1 = fnv1a(h1, parts[i], n);
        h2 = fnv1a(h2 ^ 0x9e3779b97f4a7c15ull, parts[i], n);
    }
    h1 = fnv1a(h1, bc, bclen);
    h2 = fnv1a(h2, bc, bclen);
    h2 = fnv1a(h2, &bclen, sizeof bclen);
    return snprintf(path, len, "%s/%016llx%016llx.o", dir, (unsigned long long)h1, (unsigned long long)h2) < (int)len;
}

/* The cached object (ours), or NULL */
static LLVMMemoryBufferRef cache_read(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    LLVMMemoryBufferRef mb = NULL;
    if (!fstat(fd, &st) && st.st_size > 0 && st.st_size < (off_t)1 << 31) {
        char *buf = malloc((size_t)st.st_size);
        size_t got = 0;
        while (buf && got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (buf && got == (size_t)st.st_size) mb = LLVMCreateMemoryBufferWithMemoryRangeCopy(buf, got, path);
        free(buf);
    }
    close(fd);
    return mb;
}

/* Best effort: a failure only costs the next start a compile. */
static void cache_write(const char *path, LLVMMemoryBufferRef obj) {
    char tmp[3400];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) return;
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    const char *p = LLVMGetBufferStart(obj);
    size_t n = LLVMGetBufferSize(obj), put = 0;
    while (put < n) {
        ssize_t w = write(fd, p + put, n - put);
        if (w <= 0) break;
        put += (size_t)w;
    }
    int ok = put == n && !fsync(fd);
    close(fd);
    if (!ok || rename(tmp, path)) unlink(tmp);
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
    cached = cache_path(bc, bclen, LLVMOrcLLJITGetTripleString(m->jit), cpu, features, path, sizeof path);
    if (cached && (obj = cache_read(path))) {
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
    if (cached) cache_write(path, obj);
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
