/* runtime/cli/score.c — vitrun score: not written yet. */
#include "cli.h"

int cmd_score(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "vitrun %s: not available in this build yet\n", argv[1]);
    return 2;
}
