#include "exporter/kube/libcurl.h"

#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>

namespace cvm::exporter::kube::detail {
namespace {

LibCurl g_lib;
std::optional<Error> g_failed;

void Load() {
  // Never closed: libcurl keeps global state after curl_global_init.
  void* handle = ::dlopen(LibCurlName(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    std::string message = "cannot load ";
    message += LibCurlName();
    message += " (";
    message += why != nullptr ? why : "dlopen failed";
    message += "): talking to the Kubernetes API needs libcurl (Debian's libcurl4)";
    g_failed = MakeError("libcurl", std::move(message));
    return;
  }
  bool ok = true;
  auto get = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
    if (fn == nullptr && ok) {
      ok = false;
      std::string message = LibCurlName();
      message += " has no ";
      message += name;
      g_failed = MakeError("libcurl", std::move(message));
    }
  };
  get(g_lib.global_init, "curl_global_init");
  get(g_lib.easy_init, "curl_easy_init");
  get(g_lib.easy_cleanup, "curl_easy_cleanup");
  get(g_lib.easy_reset, "curl_easy_reset");
  get(g_lib.easy_setopt, "curl_easy_setopt");
  get(g_lib.easy_getinfo, "curl_easy_getinfo");
  get(g_lib.easy_perform, "curl_easy_perform");
  get(g_lib.easy_strerror, "curl_easy_strerror");
  get(g_lib.slist_append, "curl_slist_append");
  get(g_lib.slist_free_all, "curl_slist_free_all");
  if (!ok) return;
  CURLcode rc = g_lib.global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    g_failed = MakeError("libcurl", std::string("curl_global_init: ") + g_lib.easy_strerror(rc));
  }
}

}  // namespace

const char* LibCurlName() { return CVM_LIBCURL_SONAME; }

Result<const LibCurl*> LoadLibCurl() {
  static std::once_flag once;
  std::call_once(once, Load);
  if (g_failed) return *g_failed;
  return &g_lib;
}

const LibCurl& Curl() { return g_lib; }

}  // namespace cvm::exporter::kube::detail
