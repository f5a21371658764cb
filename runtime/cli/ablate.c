/* runtime/cli/ablate.c — vitrun ablate and vitrun probe: not written yet. */
#include "cli.h"

int cmd_ablate(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "vitrun %s: not available in this build yet\n", argv[1]);
    return 2;
}
int cmd_probe(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "vitrun %s: not available in this build yet\n", argv[1]);
    return 2;
}
