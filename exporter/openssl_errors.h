#pragma once
// OpenSSL's queued errors as one reason ("error:0A000086:SSL routines::
// certificate verify failed; ..."), the queue emptied; "" when none. For
// the code that calls the OpenSSL it links (web_config.cpp, kube/https.cpp);
// http_server.cpp reads civetweb's OpenSSL through its own table.
#include <openssl/err.h>

#include <string>

namespace cvm::exporter {

inline std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace cvm::exporter
