/* A shared object named libcrypto.so (its SONAME) whose only content is its
 * dependency on libcrypto.so.3, so that civetweb's dlopen("libcrypto.so")
 * finds OpenSSL 3's libcrypto without the libssl-dev symlink. See
 * tls_shim.h. */
int cvm_preflight_libcrypto_shim;
int cvm_preflight_libcrypto_shim = 1;
