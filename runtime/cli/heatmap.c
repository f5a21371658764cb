/* runtime/cli/heatmap.c — vitrun heatmap: not written yet. */
#include "cli.h"

int cmd_heatmap(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "vitrun %s: not available in this build yet\n", argv[1]);
    return 2;
}
