#include "ccommandline.h"

#include <stddef.h>

static int count;
static char **arguments;

/* glibc calls every function of an executable's .init_array with (argc, argv, envp) before
 * main, as Rust's standard library relies on for its own arguments on Linux. */
static void capture(int argc, char **argv, char **envp) {
    (void)envp;
    count = argc;
    arguments = argv;
}

__attribute__((section(".init_array"), used))
static void (*const capture_arguments)(int, char **, char **) = capture;

int ccommandline_count(void) { return count; }

const char *ccommandline_argument(int index) {
    return index >= 0 && index < count ? arguments[index] : NULL;
}
