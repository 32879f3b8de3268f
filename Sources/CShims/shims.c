#include "cshims.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/ssl.h>
#include <pthread.h>

CURLcode cshims_curl_easy_setopt_long(CURL *curl, CURLoption option, long value) {
    return curl_easy_setopt(curl, option, value);
}

CURLcode cshims_curl_easy_setopt_pointer(CURL *curl, CURLoption option, const void *value) {
    return curl_easy_setopt(curl, option, value);
}

CURLcode cshims_curl_easy_setopt_offset(CURL *curl, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(curl, option, value);
}

CURLcode cshims_curl_easy_setopt_callback(CURL *curl, CURLoption option, cshims_data_callback value) {
    return curl_easy_setopt(curl, option, value);
}

CURLcode cshims_curl_easy_setopt_debug(CURL *curl, cshims_debug_callback value) {
    return curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, value);
}

CURLcode cshims_curl_easy_setopt_blob(CURL *curl, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob = { (void *)data, length, CURL_BLOB_COPY };
    return curl_easy_setopt(curl, option, &blob);
}

CURLcode cshims_curl_easy_getinfo_long(CURL *curl, CURLINFO info, long *value) {
    return curl_easy_getinfo(curl, info, value);
}

CURLcode cshims_curl_easy_getinfo_string(CURL *curl, CURLINFO info, const char **value) {
    return curl_easy_getinfo(curl, info, value);
}

CURLcode cshims_curl_easy_getinfo_offset(CURL *curl, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(curl, info, value);
}

CURLcode cshims_curl_easy_getinfo_pointer(CURL *curl, CURLINFO info, void **value) {
    return curl_easy_getinfo(curl, info, value);
}

CURLMcode cshims_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

long cshims_bio_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

unsigned long cshims_xn_flag_rfc2253(void) {
    return XN_FLAG_RFC2253;
}

const char *cshims_curl_tls_version(CURL *curl) {
    struct curl_tlssessioninfo *info = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || !info) return NULL;
    if (info->backend != CURLSSLBACKEND_OPENSSL || !info->internals) return NULL;
    return SSL_get_version((SSL *)info->internals);
}

/* OpenSSL 3's MAC interface; the HMAC algorithm is fetched once per process. */
static EVP_MAC *hmac_algorithm;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void) {
    hmac_algorithm = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

int cshims_hmac_sha256_3(const void *key, size_t key_length, const void *a, size_t a_length, const void *b,
                         size_t b_length, const void *c, size_t c_length, unsigned char out[32]) {
    pthread_once(&hmac_once, fetch_hmac);
    if (!hmac_algorithm) return 0;
    EVP_MAC_CTX *context = EVP_MAC_CTX_new(hmac_algorithm);
    if (!context) return 0;
    char digest[] = "SHA256";
    OSSL_PARAM parameters[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    static const unsigned char empty = 0;
    size_t length = 0;
    int ok = EVP_MAC_init(context, key_length ? key : &empty, key_length, parameters)
        && EVP_MAC_update(context, a, a_length) && EVP_MAC_update(context, b, b_length)
        && EVP_MAC_update(context, c, c_length) && EVP_MAC_final(context, out, &length, 32) && length == 32;
    EVP_MAC_CTX_free(context);
    return ok;
}
