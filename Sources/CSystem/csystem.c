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

void csystem_release_fence(void) {
    atomic_thread_fence(memory_order_release);
}

void csystem_acquire_fence(void) {
    atomic_thread_fence(memory_order_acquire);
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

/* cmpxchg16b on x86-64 (every CPU Debian's amd64 port runs on has it), written out because
 * the compiler would otherwise call libatomic for a 16-byte compare-and-swap; other 64-bit
 * targets inline their own. */
int csystem_cas_pair(uint64_t *pair, uint64_t expected_first, uint64_t expected_second, uint64_t first,
                     uint64_t second) {
#if defined(__x86_64__)
    unsigned char swapped;
    __asm__ __volatile__("lock cmpxchg16b %1\n\tsetz %0"
                         : "=q"(swapped), "+m"(*(unsigned __int128 *)pair), "+a"(expected_first),
                           "+d"(expected_second)
                         : "b"(first), "c"(second)
                         : "memory", "cc");
    return swapped;
#else
    unsigned __int128 expected = ((unsigned __int128)expected_second << 64) | expected_first;
    unsigned __int128 desired = ((unsigned __int128)second << 64) | first;
    return __atomic_compare_exchange_n((unsigned __int128 *)pair, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
#endif
}

int csystem_cas64(uint64_t *word, uint64_t expected, uint64_t desired) {
    return atomic_compare_exchange_strong_explicit((_Atomic uint64_t *)word, &expected, desired,
                                                   memory_order_seq_cst, memory_order_seq_cst);
}

uint64_t csystem_add64(uint64_t *word, uint64_t value) {
    return atomic_fetch_add_explicit((_Atomic uint64_t *)word, value, memory_order_seq_cst) + value;
}

int csystem_process_gone(int pid) {
    if (pid <= 0) return 0;
    if (kill(pid, 0) == -1) return errno == ESRCH;
    /* A zombie is gone too: it runs no code, whether or not its parent has reaped it yet. */
    char path[32], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;
    ssize_t length = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (length <= 0) return 0;
    stat[length] = 0;
    const char *end = strrchr(stat, ')');
    return end != NULL && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X');
}

int csystem_sync_directory(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int result = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return result;
}
