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
#include <sched.h>
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

/* Memory shared between processes (appliance mode's intake file): C11 atomics, which Swift
 * cannot apply to a mapped file's bytes, and the futex calls that wait on them. */
uint64_t csystem_load64(const uint64_t *word);
void csystem_store64(uint64_t *word, uint64_t value);
uint32_t csystem_load32(const uint32_t *word);
void csystem_store32(uint32_t *word, uint32_t value);
/* Adds and returns the new value. */
uint32_t csystem_add32(uint32_t *word, uint32_t value);
/* Waits while *word == expected, at most timeout_ms; shared between processes (no
 * FUTEX_PRIVATE_FLAG). Returns 0 when woken or the value differed, -1 on timeout. */
int csystem_futex_wait(uint32_t *word, uint32_t expected, int timeout_ms);
/* Wakes every waiter on word. */
void csystem_futex_wake(uint32_t *word);
/* Compare-and-swap of a 16-byte-aligned pair of words as one (appliance mode's claims: a
 * position and a sequence number move together). 1 when swapped. */
int csystem_cas_pair(uint64_t *pair, uint64_t expected_first, uint64_t expected_second, uint64_t first,
                     uint64_t second);
/* Fences for a reader that copies bytes a writer may be changing and then checks a word the
 * writer stores before it changes them (a sequence lock): the writer's release fence comes
 * after that store, the reader's acquire fence after its copy. */
void csystem_release_fence(void);
void csystem_acquire_fence(void);
/* Compare-and-swap of one word; 1 when swapped. */
int csystem_cas64(uint64_t *word, uint64_t expected, uint64_t desired);
/* Adds and returns the new value. */
uint64_t csystem_add64(uint64_t *word, uint64_t value);

/* 1 when no process has that pid any more (kill(pid, 0) says ESRCH), or only a zombie. */
int csystem_process_gone(int pid);
/* fsync(2) of a directory, so that a rename or a new file in it survives a power cut. 0 or
 * an errno value. */
int csystem_sync_directory(const char *path);

/* A process-shared, robust mutex in shared memory: a process that dies holding it never blocks
 * the others. */
int csystem_robust_mutex_init(pthread_mutex_t *mutex);
/* 0: locked; 1: locked, and its previous owner died holding it (it is made consistent again);
 * otherwise an errno value. */
int csystem_robust_mutex_lock(pthread_mutex_t *mutex);

/* An open-file-description lock on the first byte of fd, held as long as the description is
 * open: "a process is running on this file". 0 when taken, else an errno value. */
int csystem_hold_running_lock(int fd);
/* 1 when some open file description holds that lock, 0 when none does, -1 on error. */
int csystem_running_lock_held(int fd);

#endif
