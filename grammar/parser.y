/* grammar/parser.y — the .vit grammar.  Thin: every action builds AST nodes
 * through ast_new/ast_push (compiler/ast.c) with the token's location; no
 * lookups, shapes or folding happen here.  Errors are reported by
 * parse_error with file:line:col and a caret.  %expect 0: conflicts are
 * resolved by precedence declarations, never by bison's defaults. */
%define api.pure full
%define api.prefix {vit_yy}
%define parse.error verbose
%locations
%expect 0
%param {void *scanner}
%parse-param {Ctx *c} {int file} {AstList *items}

%code requires {
#include "vitc.h"
}

%code {
#include <string.h>
#include "lexer.h"
#define YYMAXDEPTH 1000 /* parser stack: nesting depth of the source, and so of the elaborator's recursion */
#define L(l) ((Loc){file, (l).first_line, (l).first_column})
static void vit_yyerror(VIT_YYLTYPE *loc, void *scanner, Ctx *c, int file, AstList *items, const char *msg);
static Ast *binop(Ctx *c, int op, Ast *a, Ast *b, Loc l) {
    Ast *n = ast_new(c, AST_BINOP, l); n->ival = op; n->a = a; n->b = b; return n;
}
}

%union {
    int64_t ival;
    double fval;
    const char *str;
    Ast *ast;
    AstList list;
}

%token IMPORT "import" BLOCK "block" MODEL "model" FOR "for" IN "in" IF "if" ELSE "else"
%token RETURN "return" OUTPUT "output" CONFIG "config" PREPROCESS "preprocess"
%token UNUSED "unused" PARAM "param" AS "as" AT "at" AND "and" OR "or" NOT "not"
%token DOTDOT ".." ARROW "->" POW "**" IDIV "//" EQ "==" NE "!=" LE "<=" GE ">="
%token <ival> INT "integer"
%token <fval> FLOAT "number"
%token <str> IDENT "identifier" STRING "string"
%token UNTERMINATED "unterminated string" INVALID "invalid character"
%token TOOLONG "name or string longer than 1024 characters"

%type <ast> item stmt expr primary call param_expr list_item arg kwdef else_part
%type <list> stmts params param_list names args arg_list list_items exprs kwdefs strings

/* use precedence, not bison's default shift, for every operator */
%left OR
%left AND
%precedence NOT
%nonassoc EQ NE '<' LE '>' GE
%left '+' '-'
%left '*' '/' IDIV '%'
%precedence UMINUS
%right POW

%%

file: %empty | file item { ast_push(c, items, $2); } ;

item: IMPORT STRING                      { $$ = ast_new(c, AST_IMPORT, L(@1)); $$->str = $2; }
    | BLOCK IDENT '(' params ')' '{' stmts '}'
                                         { $$ = ast_new(c, AST_BLOCK, L(@2)); $$->name = $2; $$->body2 = $4; $$->list = $7; }
    | MODEL IDENT '{' stmts '}'          { $$ = ast_new(c, AST_MODEL, L(@2)); $$->name = $2; $$->list = $4; }
    ;

params: %empty { $$ = (AstList){0}; } | param_list { $$ = $1; } ;
param_list: kwdef                        { $$ = (AstList){0}; ast_push(c, &$$, $1); }
          | param_list ',' kwdef         { $$ = $1; ast_push(c, &$$, $3); }
          ;
kwdef: IDENT                             { $$ = ast_new(c, AST_ARG_KW, L(@1)); $$->name = $1; }
     | IDENT '=' expr                    { $$ = ast_new(c, AST_ARG_KW, L(@1)); $$->name = $1; $$->a = $3; }
     ;

stmts: %empty { $$ = (AstList){0}; } | stmts stmt { $$ = $1; ast_push(c, &$$, $2); } | stmts ';' { $$ = $1; } ;

stmt: IDENT '=' expr                     { $$ = ast_new(c, AST_ASSIGN, L(@1)); ast_push(c, &$$->list, ast_new(c, AST_IDENT, L(@1)));
                                           $$->list.v[0]->name = $1; $$->a = $3; }
    | IDENT ',' names '=' expr           { $$ = ast_new(c, AST_ASSIGN, L(@1)); Ast *f = ast_new(c, AST_IDENT, L(@1)); f->name = $1;
                                           ast_push(c, &$$->list, f); for (int i = 0; i < $3.n; i++) ast_push(c, &$$->list, $3.v[i]); $$->a = $5; }
    | FOR IDENT IN expr DOTDOT expr '{' stmts '}'
                                         { $$ = ast_new(c, AST_FOR, L(@1)); $$->name = $2; $$->a = $4; $$->b = $6; $$->list = $8; }
    | IF expr '{' stmts '}' else_part    { $$ = ast_new(c, AST_IF, L(@1)); $$->a = $2; $$->list = $4; $$->c = $6; }
    | RETURN expr                        { $$ = ast_new(c, AST_RETURN, L(@1)); $$->a = $2; }
    | OUTPUT IDENT '=' expr              { $$ = ast_new(c, AST_OUTPUT, L(@1)); $$->name = $2; $$->a = $4; }
    | CONFIG kwdefs                      { $$ = ast_new(c, AST_CONFIG, L(@1)); $$->list = $2; }
    | PREPROCESS kwdefs                  { $$ = ast_new(c, AST_PREPROCESS, L(@1)); $$->list = $2; }
    | UNUSED strings                     { $$ = ast_new(c, AST_UNUSED, L(@1)); $$->list = $2; }
    | call                               { $$ = ast_new(c, AST_EXPR_STMT, $1->loc); $$->a = $1; }
    ;

else_part: %empty                        { $$ = NULL; }
         | ELSE '{' stmts '}'            { $$ = ast_new(c, AST_IF, L(@1)); $$->list = $3; }
         | ELSE stmt                     { $$ = ast_new(c, AST_IF, L(@1)); ast_push(c, &$$->list, $2); }
         ;

names: IDENT                             { $$ = (AstList){0}; Ast *n = ast_new(c, AST_IDENT, L(@1)); n->name = $1; ast_push(c, &$$, n); }
     | names ',' IDENT                   { $$ = $1; Ast *n = ast_new(c, AST_IDENT, L(@3)); n->name = $3; ast_push(c, &$$, n); }
     ;

kwdefs: IDENT '=' expr                   { $$ = (AstList){0}; Ast *k = ast_new(c, AST_ARG_KW, L(@1)); k->name = $1; k->a = $3; ast_push(c, &$$, k); }
      | kwdefs ',' IDENT '=' expr        { $$ = $1; Ast *k = ast_new(c, AST_ARG_KW, L(@3)); k->name = $3; k->a = $5; ast_push(c, &$$, k); }
      ;

strings: STRING                          { $$ = (AstList){0}; Ast *s = ast_new(c, AST_STR, L(@1)); s->str = $1; ast_push(c, &$$, s); }
       | strings ',' STRING              { $$ = $1; Ast *s = ast_new(c, AST_STR, L(@3)); s->str = $3; ast_push(c, &$$, s); }
       ;

expr: primary                            { $$ = $1; }
    | expr '+' expr                      { $$ = binop(c, '+', $1, $3, L(@2)); }
    | expr '-' expr                      { $$ = binop(c, '-', $1, $3, L(@2)); }
    | expr '*' expr                      { $$ = binop(c, '*', $1, $3, L(@2)); }
    | expr '/' expr                      { $$ = binop(c, '/', $1, $3, L(@2)); }
    | expr IDIV expr                     { $$ = binop(c, IDIV, $1, $3, L(@2)); }
    | expr '%' expr                      { $$ = binop(c, '%', $1, $3, L(@2)); }
    | expr POW expr                      { $$ = binop(c, POW, $1, $3, L(@2)); }
    | expr EQ expr                       { $$ = binop(c, EQ, $1, $3, L(@2)); }
    | expr NE expr                       { $$ = binop(c, NE, $1, $3, L(@2)); }
    | expr '<' expr                      { $$ = binop(c, '<', $1, $3, L(@2)); }
    | expr LE expr                       { $$ = binop(c, LE, $1, $3, L(@2)); }
    | expr '>' expr                      { $$ = binop(c, '>', $1, $3, L(@2)); }
    | expr GE expr                       { $$ = binop(c, GE, $1, $3, L(@2)); }
    | expr AND expr                      { $$ = binop(c, AND, $1, $3, L(@2)); }
    | expr OR expr                       { $$ = binop(c, OR, $1, $3, L(@2)); }
    | NOT expr                           { $$ = ast_new(c, AST_UNOP, L(@1)); $$->ival = NOT; $$->a = $2; }
    | '-' expr %prec UMINUS              { $$ = ast_new(c, AST_UNOP, L(@1)); $$->ival = '-'; $$->a = $2; }
    ;

primary: INT                             { $$ = ast_new(c, AST_INT, L(@1)); $$->ival = $1; }
       | FLOAT                           { $$ = ast_new(c, AST_FLOAT, L(@1)); $$->fval = $1; }
       | STRING                          { $$ = ast_new(c, AST_STR, L(@1)); $$->str = $1; }
       | IDENT                           { $$ = ast_new(c, AST_IDENT, L(@1)); $$->name = $1; }
       | call                            { $$ = $1; }
       | param_expr                      { $$ = $1; }
       | '(' expr ')'                    { $$ = $2; }
       | '(' expr ',' exprs ')'          { $$ = ast_new(c, AST_TUPLE, L(@1)); ast_push(c, &$$->list, $2);
                                           for (int i = 0; i < $4.n; i++) ast_push(c, &$$->list, $4.v[i]); }
       | '[' list_items ']'              { $$ = ast_new(c, AST_LIST, L(@1)); $$->list = $2; }
       ;

exprs: expr                              { $$ = (AstList){0}; ast_push(c, &$$, $1); }
     | exprs ',' expr                    { $$ = $1; ast_push(c, &$$, $3); }
     ;

call: IDENT '(' args ')'                 { $$ = ast_new(c, AST_CALL, L(@1)); $$->name = $1; $$->list = $3; }
    | IDENT '(' args ')' AT primary      { $$ = ast_new(c, AST_CALL, L(@1)); $$->name = $1; $$->list = $3; $$->a = $6; }
    ;

args: %empty { $$ = (AstList){0}; } | arg_list { $$ = $1; } ;
arg_list: arg                            { $$ = (AstList){0}; ast_push(c, &$$, $1); }
        | arg_list ',' arg               { $$ = $1; ast_push(c, &$$, $3); }
        ;
arg: expr                                { $$ = $1; }
   | IDENT '=' expr                      { $$ = ast_new(c, AST_ARG_KW, L(@1)); $$->name = $1; $$->a = $3; }
   ;

param_expr: PARAM STRING '[' list_items ']'
                                         { $$ = ast_new(c, AST_PARAM, L(@1)); $$->str = $2; $$->a = ast_new(c, AST_LIST, L(@3)); $$->a->list = $4; }
          | PARAM STRING '[' list_items ']' AS '[' list_items ']'
                                         { $$ = ast_new(c, AST_PARAM, L(@1)); $$->str = $2; $$->a = ast_new(c, AST_LIST, L(@3)); $$->a->list = $4;
                                           $$->b = ast_new(c, AST_LIST, L(@7)); $$->b->list = $8; }
          ;

list_items: %empty                       { $$ = (AstList){0}; }
          | list_item                    { $$ = (AstList){0}; ast_push(c, &$$, $1); }
          | list_items ',' list_item     { $$ = $1; ast_push(c, &$$, $3); }
          ;
list_item: expr                          { $$ = $1; }
         | IDENT '=' expr                { $$ = ast_new(c, AST_ITEM_SIZED, L(@1)); $$->name = $1; $$->a = $3; }
         | IDENT ARROW IDENT             { $$ = ast_new(c, AST_ITEM_RENAME, L(@1)); $$->name = $1; $$->name2 = $3; }
         ;

%%

static void vit_yyerror(VIT_YYLTYPE *loc, void *scanner, Ctx *c, int file, AstList *items, const char *msg) {
    (void)scanner; (void)items;
    if (!strcmp(msg, "memory exhausted")) /* bison's words for a full parser stack */
        diag_error(c, L(*loc), "nesting too deep (more than %d levels of brackets, blocks and operators)", YYMAXDEPTH);
    else
        diag_error(c, L(*loc), "%s", msg);
}

bool parse_file(Ctx *c, int file, AstList *out) {
    yyscan_t sc;
    if (vit_yylex_init_extra(c, &sc)) return false;
    YY_BUFFER_STATE b = vit_yy_scan_bytes(c->files[file].text, (int)c->files[file].len, sc);
    int before = c->errors;
    int rc = vit_yyparse(sc, c, file, out);
    vit_yy_delete_buffer(b, sc);
    vit_yylex_destroy(sc);
    return rc == 0 && c->errors == before;
}
