/* A disk whose every sync takes SLOWSYNC_MS milliseconds (default 100), as an LD_PRELOAD shim:
 * msync(MS_SYNC), fsync and fdatasync sleep that long, then make the real call. sync_bench runs
 * with it to show that a slow disk never reaches oe_emit (the spool is synced by a thread of its
 * own, outside the lock oe_emit takes).
 * Build: cc -O2 -shared -fPIC -o slowsync.so slowsync.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void nap(void) {
    const char *text = getenv("SLOWSYNC_MS");
    long ms = text ? atol(text) : 100;
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

int msync(void *address, size_t length, int flags) {
    static int (*real)(void *, size_t, int);
    if (!real) real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
    if (flags & MS_SYNC) nap();
    return real(address, length, flags);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    nap();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    nap();
    return real(fd);
}
