/* The system calls the library makes, as a C module of its own: Embedded Swift has no Glibc
 * module, and one module for both builds keeps a single source tree. Add a header here rather
 * than importing Glibc in a library source. */
#ifndef CSYSTEM_H
#define CSYSTEM_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* errno is a macro over a thread-local location, which Swift cannot import. */
int csystem_errno(void);

/* open(2) is variadic, which Swift cannot call. */
int csystem_open(const char *path, int flags, mode_t mode);

/* MAP_FAILED is a cast Swift cannot import. */
void *csystem_map_failed(void);

#endif
