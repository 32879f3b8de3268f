/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and Btrfs use it: the
 * processor's crc32 instruction when it has one, else slicing-by-8 tables. Both give the same
 * value for every input (Tests: the checksum suite compares them). */
#include "cchecksum.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static uint32_t tables[8][256];
static int hardware;

/* At load: the tables, and whether the processor has the instruction. */
__attribute__((constructor)) static void cchecksum_prepare(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        tables[0][i] = crc;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][tables[t - 1][i] & 0xFF];
#if defined(__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    hardware = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_SSE4_2) != 0;
#endif
}

uint32_t cchecksum_crc32c_tables(const void *data, size_t length, uint32_t seed) {
    const unsigned char *bytes = data;
    uint32_t crc = ~seed;
    while (length >= 8) {
        uint32_t low, high;
        memcpy(&low, bytes, 4);
        memcpy(&high, bytes + 4, 4);
        low ^= crc;  /* little-endian, as every target of this project */
        crc = tables[7][low & 0xFF] ^ tables[6][(low >> 8) & 0xFF] ^ tables[5][(low >> 16) & 0xFF]
            ^ tables[4][low >> 24] ^ tables[3][high & 0xFF] ^ tables[2][(high >> 8) & 0xFF]
            ^ tables[1][(high >> 16) & 0xFF] ^ tables[0][high >> 24];
        bytes += 8;
        length -= 8;
    }
    while (length-- > 0) crc = (crc >> 8) ^ tables[0][(crc ^ *bytes++) & 0xFF];
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_instruction(const void *data, size_t length, uint32_t seed) {
    const unsigned char *bytes = data;
    uint64_t crc = ~seed;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        crc = __builtin_ia32_crc32di(crc, word);
        bytes += 8;
        length -= 8;
    }
    uint32_t crc32 = (uint32_t)crc;
    while (length-- > 0) crc32 = __builtin_ia32_crc32qi(crc32, *bytes++);
    return ~crc32;
}
#endif

uint32_t cchecksum_crc32c(const void *data, size_t length, uint32_t seed) {
#if defined(__x86_64__)
    if (hardware) return crc32c_instruction(data, length, seed);
#endif
    return cchecksum_crc32c_tables(data, length, seed);
}

int cchecksum_crc32c_hardware(void) { return hardware; }
