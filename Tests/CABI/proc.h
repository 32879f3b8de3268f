/* What /proc says about this process, for the C tests that watch it. */
#ifndef OE_TEST_PROC_H
#define OE_TEST_PROC_H

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

/* Resident memory in KiB, from /proc/self/statm. */
static inline long resident_kib(void) {
    long pages = 0, resident = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (!statm) return -1;
    if (fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(statm);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Entries of a /proc directory: /proc/self/fd for descriptors, /proc/self/task for threads. */
static inline long count_entries(const char *path) {
    DIR *directory = opendir(path);
    if (!directory) return -1;
    long count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory))) {
        if (entry->d_name[0] != '.') count++;
    }
    closedir(directory);
    return count;
}

#endif
