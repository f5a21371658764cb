/* runtime/jit.h — load LLVM bitcode from codegen and get its vit_forward.
 * One JitModule is one ORC LLJIT instance compiled for the host CPU.  After
 * jit_load returns, the function may be called from several threads at
 * once, each with its own bufs array (bufs[i]: the buffer of node i). */
#ifndef VIT_JIT_H
#define VIT_JIT_H

#include <stddef.h>

typedef struct JitModule JitModule;

/* Parses bc, runs the O3 pipeline tuned to the host CPU, compiles and
 * resolves vit_forward.  Safe to call from several threads.  0 on success;
 * -1 with a message in err. */
int jit_load(const void *bc, size_t bclen, JitModule **out, char *err, size_t errlen);
/* The compiled `void vit_forward(float **bufs)`. */
void (*jit_forward(JitModule *m))(float **);
/* Releases the code and everything the JIT holds; m may be NULL. */
void jit_free(JitModule *m);

#endif
