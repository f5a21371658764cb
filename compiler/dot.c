/* compiler/dot.c — Graphviz rendering of a graph.  Nodes are coloured by
 * their op's linearity class (ops.def), labelled with op, shape and scope;
 * parameters are drawn small so the dataflow stays readable. */
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
    fprintf(out, "  }\n");
    for (int i = 0; i < g->n; i++) {
        const IrNode *n = &g->nodes[i];
        char sh[256];
        ir_shape_str(&n->shape, sh, sizeof sh);
        const char *col = class_colour[ir_op_info[n->op].lin];
        if (n->op == IR_OP_PARAM)
            fprintf(out, "  n%d [label=\"%s\\n%s\", fillcolor=\"%s\", fontsize=8, shape=note];\n", i, n->key, sh, col);
        else
            fprintf(out, "  n%d [label=\"%s%s%s\\n%s%s%s\", fillcolor=\"%s\"];\n", i, ir_op_info[n->op].name,
                    n->nax ? " over " : "", n->nax ? n->ax[0] : "", sh, n->scope && *n->scope ? "\\n" : "",
                    n->scope ? n->scope : "", col);
        for (int s = 0; s < n->nsrc; s++) fprintf(out, "  n%d -> n%d;\n", n->src[s], i);
    }
    for (int o = 0; o < g->nout; o++)
        fprintf(out, "  out%d [label=\"output %s\", shape=oval, fillcolor=\"#a1d99b\"];\n  n%d -> out%d;\n", o,
                g->outputs[o].name, g->outputs[o].node, o);
    fprintf(out, "}\n");
}
