#ifndef CCHECKSUM_H
#define CCHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli) of length bytes, started from seed (0 for the plain CRC-32C): the
 * checksum of every spool and intake record. With the processor's crc32 instruction where it
 * has one (x86-64 with SSE4.2: about 8 bytes a cycle), else slicing-by-8 tables (about 1). */
uint32_t cchecksum_crc32c(const void *data, size_t length, uint32_t seed);

/* 1 when cchecksum_crc32c uses the processor's instruction (for the tests, which compare the
 * two ways). */
int cchecksum_crc32c_hardware(void);

/* The same checksum by the tables alone. */
uint32_t cchecksum_crc32c_tables(const void *data, size_t length, uint32_t seed);

#endif
