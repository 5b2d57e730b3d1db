#pragma once
// TLS for Debian 12's libcivetweb 1.15. civetweb loads OpenSSL at run time
// with dlopen("libcrypto.so") and dlopen("libssl.so"), names that exist only
// with libssl-dev installed, and then looks up SSL_get_peer_certificate,
// which OpenSSL 3.0 no longer exports (a macro now; civetweb issue 1334).
// So on Debian 12 civetweb serves no TLS at all: mg_start2 fails with
// "Error initializing SSL context", and after a failed
// mg_init_library(MG_FEATURES_TLS) it even starts and then crashes on the
// first TLS connection (seen with civetweb 1.15+dfsg-4 and libssl3 3.0.19).
//
// LoadCivetwebTlsShim loads two tiny shared objects built with the agent
// (exporter/tls_shim/*.c) and embedded in its binary, whose SONAMEs are
// libcrypto.so and libssl.so and whose dependencies are OpenSSL 3's
// libcrypto.so.3 and libssl.so.3; the libssl one adds the missing function.
// glibc's dlopen returns an object already loaded under a matching SONAME
// before it searches the disk, so civetweb gets OpenSSL 3 through them, with
// or without libssl-dev. They are written to a memfd (a temporary file,
// removed at once, on kernels before 3.17) and dlopened from there.

#include "probe/result.h"

namespace cvm::exporter {

// Loads the shims once per process and initialises civetweb's TLS
// (mg_init_library(MG_FEATURES_TLS)); later calls return the first result.
Result<bool> LoadCivetwebTlsShim();

}  // namespace cvm::exporter
