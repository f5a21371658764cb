/* compiler/codegen.h — contraction lowering (lower.c) and LLVM IR generation
 * (codegen.c).  lower_contractions rewrites every CONTRACT into the batched
 * GEMM form codegen expects; codegen turns a lowered graph into one function
 * `void vit_forward(float **bufs)`, bufs[i] being the buffer of node i. */
#ifndef VIT_CODEGEN_H
#define VIT_CODEGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"

/* ---- lower.c -------------------------------------------------------------
 * A CONTRACT is canonical when, with B its batch axes (in both sources, not
 * summed), M a's other kept axes, N b's kept axes not in a, K the summed
 * axes: a is [B, M, K] or [B, K, M], b is [B, K, N] or [B, N, K] (same B and
 * K order everywhere) and the node is [B, M, N]. */
typedef struct {
    int64_t batch, m, n, k; /* products of the B, M, N, K extents (1 if none) */
    int trans_a;            /* 1: a is [B, K, M]; 0: [B, M, K] */
    int trans_b;            /* 1: b is [B, N, K]; 0: [B, K, N] */
} LowerGemm;

/* Returns a new graph (the caller frees it) with the same semantics in which
 * every CONTRACT is canonical, PERMUTE nodes inserted before and after where
 * needed (and SUM nodes for summed axes only one side has).  Node indices
 * change; outputs follow.  The memory plan is dropped (offsets -1).  NULL
 * with a message in err on a malformed contraction. */
IrGraph *lower_contractions(const IrGraph *g, char *err, size_t errlen);
/* 1 and *gm filled when CONTRACT node n of g is canonical, else 0. */
int lower_gemm_shape(const IrGraph *g, const IrNode *n, LowerGemm *gm);

/* ---- codegen.c -----------------------------------------------------------
 * Input: a graph from lower_contractions.  The module holds one internal
 * function per computing node (pointer arguments marked noalias: every node
 * has its own buffer) and `void vit_forward(float **bufs)` calling them in
 * order.  CONTRACT calls vitrt_gemm, RESAMPLE vitrt_resample (runtime/).
 * The IR is emitted unoptimised and target-independent: jit_load runs the
 * O3 pipeline for the host CPU.  Both return 0 on success, -1 with a
 * message in err. */
int codegen_emit(const IrGraph *g, void **bc, size_t *bclen, char *err, size_t errlen);
int codegen_emit_text(const IrGraph *g, FILE *out, char *err, size_t errlen);

#endif
