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

// dlopens `size` bytes as a shared object. A memfd stays open for the life
// of the process: its /proc/self/fd name must not be reused by another.
Result<bool> LoadImage(const char* name, const unsigned char* data, unsigned long size) {
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
  return true;
}

Result<bool> LoadOnce() {
  if (auto r = LoadImage("libcrypto.so", cvm_libcrypto_shim, cvm_libcrypto_shim_size); !r) return r;
  if (auto r = LoadImage("libssl.so", cvm_libssl_shim, cvm_libssl_shim_size); !r) return r;
  unsigned features = mg_init_library(MG_FEATURES_TLS);
  if ((features & MG_FEATURES_TLS) == 0) {
    return MakeError("civetweb", "cannot initialise TLS even with OpenSSL 3 loaded "
                                 "(mg_init_library left out MG_FEATURES_TLS)");
  }
  return true;
}

}  // namespace

Result<bool> LoadCivetwebTlsShim() {
  static std::once_flag once;
  static Result<bool> result = MakeError("", "not loaded");
  std::call_once(once, [] { result = LoadOnce(); });
  return result;
}

}  // namespace cvm::exporter
