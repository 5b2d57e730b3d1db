#pragma once
// One RAII alias per libcurl handle (STYLE.md section 7).

#include <curl/curl.h>

#include <memory>

#include "probe/detail/c_free.h"

namespace cvm::exporter::kube::detail {

using CurlEasyPtr =
    std::unique_ptr<CURL, probe::detail::CFree<&curl_easy_cleanup>>;
using CurlSlistPtr =
    std::unique_ptr<curl_slist, probe::detail::CFree<&curl_slist_free_all>>;

}  // namespace cvm::exporter::kube::detail
