/* runtime/cli/index.c — vitrun index and vitrun merge: not written yet. */
#include "cli.h"

int cmd_index(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "vitrun %s: not available in this build yet\n", argv[1]);
    return 2;
}
int cmd_merge(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "vitrun %s: not available in this build yet\n", argv[1]);
    return 2;
}
