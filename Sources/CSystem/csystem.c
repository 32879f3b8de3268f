#define _GNU_SOURCE
#include "csystem.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>

int csystem_errno(void) { return errno; }

void *csystem_map_failed(void) { return MAP_FAILED; }

int csystem_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }

uint64_t csystem_load64(const uint64_t *word) {
    return atomic_load_explicit((const _Atomic uint64_t *)word, memory_order_seq_cst);
}

void csystem_store64(uint64_t *word, uint64_t value) {
    atomic_store_explicit((_Atomic uint64_t *)word, value, memory_order_seq_cst);
}

uint32_t csystem_load32(const uint32_t *word) {
    return atomic_load_explicit((const _Atomic uint32_t *)word, memory_order_seq_cst);
}

void csystem_store32(uint32_t *word, uint32_t value) {
    atomic_store_explicit((_Atomic uint32_t *)word, value, memory_order_seq_cst);
}

uint32_t csystem_add32(uint32_t *word, uint32_t value) {
    return atomic_fetch_add_explicit((_Atomic uint32_t *)word, value, memory_order_seq_cst) + value;
}

int csystem_futex_wait(uint32_t *word, uint32_t expected, int timeout_ms) {
    struct timespec timeout = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    long result = syscall(SYS_futex, word, FUTEX_WAIT, expected, &timeout, NULL, 0);
    return result == -1 && errno == ETIMEDOUT ? -1 : 0;
}

void csystem_futex_wake(uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int csystem_robust_mutex_init(pthread_mutex_t *mutex) {
    pthread_mutexattr_t attributes;
    int result = pthread_mutexattr_init(&attributes);
    if (result != 0) return result;
    result = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    if (result == 0) result = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    if (result == 0) result = pthread_mutex_init(mutex, &attributes);
    pthread_mutexattr_destroy(&attributes);
    return result;
}

int csystem_robust_mutex_lock(pthread_mutex_t *mutex) {
    int result = pthread_mutex_lock(mutex);
    if (result == EOWNERDEAD) {
        pthread_mutex_consistent(mutex);
        return 1;
    }
    return result;
}

int csystem_hold_running_lock(int fd) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    return fcntl(fd, F_OFD_SETLK, &lock) == 0 ? 0 : errno;
}

int csystem_running_lock_held(int fd) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -1;
    return lock.l_type != F_UNLCK;
}
