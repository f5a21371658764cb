/* runtime/cli/segment.c — vitrun segment: not written yet. */
#include "cli.h"

int cmd_segment(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "vitrun %s: not available in this build yet\n", argv[1]);
    return 2;
}
