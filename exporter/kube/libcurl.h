#pragma once
// libcurl, loaded at run time (dlopen) by the first Client::Create: the
// commands and agents that never talk to the API do not map it. Linked,
// libcurl 7.88 (Debian 12's libcurl4) brings 16 more shared libraries
// (nghttp2, ssh2, rtmp, psl, krb5, ldap, brotli, ...) into every process:
// measured here, 6.8 ms more CPU and 4.4 MiB more resident memory for a
// process that only starts and exits (`/usr/bin/time`, 50 runs of a C
// program linked with -lcurl against one that is not). The headers come
// from libcurl4-openssl-dev; the library is found by its soname.

// The type-checking macros of <curl/typecheck-gcc.h> wrap the function
// names; calls go through the function pointers below instead.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <memory>

#include "probe/result.h"

namespace cvm::exporter::kube::detail {

struct LibCurl {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_reset) easy_reset = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

// The library's file name (its soname, from the build's libcurl).
const char* LibCurlName();

// dlopens libcurl once per process and runs curl_global_init; the error
// names the library and what dlerror or curl said.
Result<const LibCurl*> LoadLibCurl();

// The loaded library; only code holding a handle made through
// LoadLibCurl() calls it.
const LibCurl& Curl();

// One RAII alias per libcurl handle (STYLE.md section 7).
struct CurlEasyFree {
  void operator()(CURL* p) const noexcept { Curl().easy_cleanup(p); }
};
struct CurlSlistFree {
  void operator()(curl_slist* p) const noexcept { Curl().slist_free_all(p); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyFree>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistFree>;

}  // namespace cvm::exporter::kube::detail
