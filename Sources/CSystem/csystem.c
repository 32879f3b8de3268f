#include "csystem.h"

int csystem_errno(void) { return errno; }

void *csystem_map_failed(void) { return MAP_FAILED; }

int csystem_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }
