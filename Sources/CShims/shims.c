#include "cshims.h"

#include <openssl/ssl.h>

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
