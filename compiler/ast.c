/* compiler/ast.c — AST constructors.  The grammar's actions call only these;
 * every node keeps the location of its representative token. */
#include <string.h>

#include "vitc.h"

Ast *ast_new(Ctx *c, AstKind k, Loc loc) {
    Ast *a = arena_alloc(&c->arena, sizeof *a);
    a->kind = k;
    a->loc = loc;
    return a;
}

void ast_push(Ctx *c, AstList *l, Ast *x) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 4;
        Ast **v = arena_alloc(&c->arena, sizeof(Ast *) * (size_t)cap);
        if (l->n) memcpy(v, l->v, sizeof(Ast *) * (size_t)l->n);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}
