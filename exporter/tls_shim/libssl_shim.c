/* A shared object named libssl.so (its SONAME) that stands in for the
 * unversioned name Debian 12's libcivetweb 1.15 dlopens. civetweb was built
 * for the OpenSSL 1.1 API and looks up SSL_get_peer_certificate, which
 * OpenSSL 3.0 turned into a macro for SSL_get1_peer_certificate (civetweb
 * issue 1334, "Missing function: SSL_get_peer_certificate"); without it
 * civetweb loads no TLS at all. Every other function civetweb looks up is
 * found through this object's dependency, libssl.so.3. See tls_shim.h. */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

/* Both return a new reference the caller frees, as the 1.1 function did. */
X509* SSL_get_peer_certificate(const SSL* ssl);
X509* SSL_get_peer_certificate(const SSL* ssl) { return SSL_get1_peer_certificate(ssl); }
