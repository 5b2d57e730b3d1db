#pragma once
// Text from host files may hold any bytes; the sinks' formats (JSON, the
// Prometheus exposition, Kubernetes label values) take only UTF-8.

#include <string>
#include <string_view>

namespace cvm::exporter {

// `text` with every byte that does not start or continue a well-formed
// UTF-8 sequence (overlong forms, surrogates and code points above
// U+10FFFF included) replaced by U+FFFD, one replacement per bad byte.
std::string ValidUtf8(std::string_view text);

// Whether ValidUtf8(text) == text, without making the copy.
bool IsValidUtf8(std::string_view text);

}  // namespace cvm::exporter
