/* Swift-friendly signatures for C calls Swift cannot make directly: libcurl's variadic setopt
 * and getinfo, wrapped once per argument type, and OpenSSL macros. Prefix cshims_: these are
 * internal and never exported from liboutbound-events (see exports.map). */
#ifndef CSHIMS_H
#define CSHIMS_H

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <stddef.h>

typedef size_t (*cshims_data_callback)(char *data, size_t size, size_t count, void *context);

CURLcode cshims_curl_easy_setopt_long(CURL *curl, CURLoption option, long value);
CURLcode cshims_curl_easy_setopt_pointer(CURL *curl, CURLoption option, const void *value);
CURLcode cshims_curl_easy_setopt_offset(CURL *curl, CURLoption option, curl_off_t value);
CURLcode cshims_curl_easy_setopt_callback(CURL *curl, CURLoption option, cshims_data_callback value);
typedef int (*cshims_debug_callback)(CURL *curl, curl_infotype type, char *data, size_t size, void *context);
CURLcode cshims_curl_easy_setopt_debug(CURL *curl, cshims_debug_callback value);
/* Copies the bytes (CURL_BLOB_COPY), so the caller may free them at once. */
CURLcode cshims_curl_easy_setopt_blob(CURL *curl, CURLoption option, const void *data, size_t length);

CURLcode cshims_curl_easy_getinfo_long(CURL *curl, CURLINFO info, long *value);
CURLcode cshims_curl_easy_getinfo_string(CURL *curl, CURLINFO info, const char **value);
CURLcode cshims_curl_easy_getinfo_offset(CURL *curl, CURLINFO info, curl_off_t *value);
CURLcode cshims_curl_easy_getinfo_pointer(CURL *curl, CURLINFO info, void **value);

CURLMcode cshims_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/* BIO_get_mem_data is a macro. */
long cshims_bio_get_mem_data(BIO *bio, char **data);

/* The TLS version of a transfer's connection ("TLSv1.3"), or NULL when it has none. */
const char *cshims_curl_tls_version(CURL *curl);

/* HMAC-SHA256 of the concatenation a.b.c, in three updates (no buffer for the whole message):
 * the Standard Webhooks signature of id, ".timestamp." and the body. Writes 32 bytes to out;
 * returns 1 on success, 0 on failure. Any thread. */
int cshims_hmac_sha256_3(const void *key, size_t key_length, const void *a, size_t a_length, const void *b,
                         size_t b_length, const void *c, size_t c_length, unsigned char out[32]);

/* XN_FLAG_RFC2253 is a macro of casts Swift cannot import. */
unsigned long cshims_xn_flag_rfc2253(void);

#endif
