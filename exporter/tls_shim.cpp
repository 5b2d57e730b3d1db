#include "exporter/tls_shim.h"

#include <civetweb.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string>
#include <type_traits>

extern const unsigned char cvm_libssl_shim[];
extern const unsigned long cvm_libssl_shim_size;
extern const unsigned char cvm_libcrypto_shim[];
extern const unsigned long cvm_libcrypto_shim_size;

namespace cvm::exporter {
namespace {

bool WriteAll(int fd, const unsigned char* data, unsigned long size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<unsigned long>(n);
  }
  return true;
}

CivetwebOpenSsl g_openssl;
bool g_openssl_loaded = false;

// dlopens `size` bytes as a shared object. A memfd stays open for the life
// of the process: its /proc/self/fd name must not be reused by another.
Result<void*> LoadImage(const char* name, const unsigned char* data, unsigned long size) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  std::string path;
  if (fd >= 0) {
    path = "/proc/self/fd/" + std::to_string(fd);
  } else {
    const char* tmp = std::getenv("TMPDIR");
    path = tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp";
    path += "/cvm-preflight-XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) {
      return MakeError(name, "cannot write the TLS shim: no memfd and no temporary file in " +
                                 path.substr(0, path.rfind('/')) + " (" + ErrnoName(errno) + ")");
    }
  }
  bool is_memfd = path.rfind("/proc/self/fd/", 0) == 0;
  if (!WriteAll(fd, data, size)) {
    int e = errno;
    ::close(fd);
    if (!is_memfd) ::unlink(path.c_str());
    return MakeError(name, "cannot write the TLS shim (" + ErrnoName(e) + ")");
  }
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string why = handle == nullptr ? std::string(::dlerror()) : std::string();
  if (!is_memfd) {
    ::unlink(path.c_str());
    ::close(fd);
  }
  if (handle == nullptr) {
    if (is_memfd) ::close(fd);
    return MakeError(name, "cannot load OpenSSL 3 through the TLS shim: " + why +
                               " (is libssl3 installed?)");
  }
  return handle;
}

// dlsym on the shim's handle searches the shim and its dependencies:
// libssl.so.3 and libcrypto.so.3, the copy civetweb uses.
Result<bool> LookUpOpenSsl(void* ssl_shim) {
  std::string missing;
  auto get = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(ssl_shim, name));
    if (fn == nullptr && missing.empty()) missing = name;
  };
#define CVM_OPENSSL_GET(name) get(g_openssl.name, #name)
  CVM_OPENSSL_GET(ERR_clear_error);
  CVM_OPENSSL_GET(ERR_get_error);
  CVM_OPENSSL_GET(ERR_error_string_n);
  CVM_OPENSSL_GET(SSL_CTX_use_certificate_chain_file);
  CVM_OPENSSL_GET(SSL_CTX_use_PrivateKey_file);
  CVM_OPENSSL_GET(SSL_CTX_check_private_key);
  CVM_OPENSSL_GET(SSL_CTX_ctrl);
  CVM_OPENSSL_GET(SSL_CTX_set_options);
  CVM_OPENSSL_GET(SSL_CTX_clear_options);
  CVM_OPENSSL_GET(SSL_CTX_load_verify_locations);
  CVM_OPENSSL_GET(SSL_load_client_CA_file);
  CVM_OPENSSL_GET(SSL_CTX_set_client_CA_list);
  CVM_OPENSSL_GET(SSL_CTX_set_verify);
#undef CVM_OPENSSL_GET
  if (!missing.empty()) return MakeError("libssl.so.3", "OpenSSL 3 has no " + missing);
  return true;
}

Result<bool> LoadOnce() {
  if (auto r = LoadImage("libcrypto.so", cvm_libcrypto_shim, cvm_libcrypto_shim_size); !r) {
    return r.error();
  }
  auto ssl = LoadImage("libssl.so", cvm_libssl_shim, cvm_libssl_shim_size);
  if (!ssl) return ssl.error();
  if (auto r = LookUpOpenSsl(*ssl); !r) return r;
  unsigned features = mg_init_library(MG_FEATURES_TLS);
  if ((features & MG_FEATURES_TLS) == 0) {
    return MakeError("civetweb", "cannot initialise TLS even with OpenSSL 3 loaded "
                                 "(mg_init_library left out MG_FEATURES_TLS)");
  }
  g_openssl_loaded = true;
  return true;
}

}  // namespace

const CivetwebOpenSsl* CivetwebOpenSslFunctions() {
  return g_openssl_loaded ? &g_openssl : nullptr;
}

Result<bool> LoadCivetwebTlsShim() {
  static std::once_flag once;
  static Result<bool> result = MakeError("", "not loaded");
  std::call_once(once, [] { result = LoadOnce(); });
  return result;
}

}  // namespace cvm::exporter
