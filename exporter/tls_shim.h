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

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe/result.h"

namespace cvm::exporter {

// Loads the shims once per process and initialises civetweb's TLS
// (mg_init_library(MG_FEATURES_TLS)); later calls return the first result.
Result<bool> LoadCivetwebTlsShim();

// The OpenSSL functions exporter/http_server.cpp calls on the SSL_CTX
// civetweb hands its init_ssl callback, looked up (dlsym) in the shared
// OpenSSL 3 civetweb loaded through the shims. With CVM_STATIC_LIBS the
// binary has its own static copy of OpenSSL; an SSL_CTX made by one copy
// must never be handled by the other (their state and error queues are
// separate), so civetweb's context is set up through civetweb's copy.
// Without CVM_STATIC_LIBS both are the same libssl.so.3.
struct CivetwebOpenSsl {
#define CVM_OPENSSL_FN(name) decltype(&::name) name = nullptr
  CVM_OPENSSL_FN(ERR_clear_error);
  CVM_OPENSSL_FN(ERR_get_error);
  CVM_OPENSSL_FN(ERR_error_string_n);
  CVM_OPENSSL_FN(SSL_CTX_use_certificate_chain_file);
  CVM_OPENSSL_FN(SSL_CTX_use_PrivateKey_file);
  CVM_OPENSSL_FN(SSL_CTX_check_private_key);
  CVM_OPENSSL_FN(SSL_CTX_ctrl);
  CVM_OPENSSL_FN(SSL_CTX_set_options);
  CVM_OPENSSL_FN(SSL_CTX_clear_options);
  CVM_OPENSSL_FN(SSL_CTX_load_verify_locations);
  CVM_OPENSSL_FN(SSL_load_client_CA_file);
  CVM_OPENSSL_FN(SSL_CTX_set_client_CA_list);
  CVM_OPENSSL_FN(SSL_CTX_set_verify);
#undef CVM_OPENSSL_FN
};

// civetweb's OpenSSL functions; nullptr until LoadCivetwebTlsShim()
// succeeded.
const CivetwebOpenSsl* CivetwebOpenSslFunctions();

}  // namespace cvm::exporter
