/* compiler/dot.c — Graphviz rendering of a graph.  Nodes are coloured by
 * their op's linearity class (ops.def), labelled with op, shape and scope;
 * parameters are drawn small so the dataflow stays readable. */
#include <string.h>

#include "vitc.h"

static const char *const class_colour[LIN_COUNT] = {
    [LIN_LEAF] = "#e0e0e0", [LIN_AFFINE] = "#9ecae1", [LIN_FROZEN] = "#c6dbef",
    [LIN_BILIN] = "#fdae6b", [LIN_NONE] = "#fc9272"};

void dot_write(const IrGraph *g, FILE *out) {
    fprintf(out, "digraph \"%s\" {\n  rankdir=TB; node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n",
            g->name ? g->name : "model");
    fprintf(out, "  subgraph cluster_legend { label=\"op class\"; fontsize=10;\n");
    for (int c = 0; c < LIN_COUNT; c++)
        fprintf(out, "    legend%d [label=\"%s\", fillcolor=\"%s\"];\n", c, ir_lin_name((enum lin_class)c), class_colour[c]);
    fprintf(out, "    legend_c [label=\"contribution term\\n(dashed edge: frozen forward value)\", fillcolor=\"white\", color=\"#6a3d9a\", penwidth=2, style=\"rounded,filled,dashed\"];\n");
    fprintf(out, "  }\n");
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        char sh[256];
        ir_shape_str(&n->shape, sh, sizeof sh);
        const char *col = class_colour[ir_op_info[n->op].lin];
        bool derived = n->label && !strcmp(n->label, "contrib");
        if (derived && n->op != IR_OP_CONST)
            fprintf(out, "  n%d [label=\"%s%s%s\\n%s\", fillcolor=\"%s\", color=\"#6a3d9a\", penwidth=2, style=\"rounded,filled,dashed\"];\n", i,
                    ir_op_info[n->op].name, n->nax ? " over " : "", n->nax ? n->ax[0] : "", sh, col);
        else if (derived)
            fprintf(out, "  n%d [label=\"weights over comp\", shape=note, fontsize=8, fillcolor=\"#e0e0e0\"];\n", i);
        else if (n->op == IR_OP_PARAM)
            fprintf(out, "  n%d [label=\"%s\\n%s\", fillcolor=\"%s\", fontsize=8, shape=note];\n", i, n->key, sh, col);
        else
            fprintf(out, "  n%d [label=\"%s%s%s\\n%s%s%s\", fillcolor=\"%s\"];\n", i, ir_op_info[n->op].name,
                    n->nax ? " over " : "", n->nax ? n->ax[0] : "", sh, n->scope && *n->scope ? "\\n" : "",
                    n->scope ? n->scope : "", col);
        for (int s = 0; s < n->nsrc; s++) {
            const IrNode *m = &g->nodes[n->src[s]];
            bool frozen = derived && !(m->label && !strcmp(m->label, "contrib")) && m->op != IR_OP_PARAM;
            fprintf(out, "  n%d -> n%d%s;\n", n->src[s], i, frozen ? " [style=dashed, color=\"#6a3d9a\", label=\"frozen\", fontsize=8]" : "");
        }
    }
    for (int o = 0; o < g->nout; o++)
        fprintf(out, "  out%d [label=\"output %s\", shape=oval, fillcolor=\"#a1d99b\"];\n  n%d -> out%d;\n", o,
                g->outputs[o].name, g->outputs[o].node, o);
    fprintf(out, "}\n");
}
