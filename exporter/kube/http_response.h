#pragma once
// The HTTP/1.1 response parser of the Kubernetes client (exporter/kube/
// https.h): status line, header fields, and a body framed by
// Content-Length, by chunked transfer coding (RFC 9112 section 7.1), or by
// the end of the connection. Fed bytes as they arrive; never reads past
// what it was given, never allocates more than the caps below, and names
// what is wrong with a hostile answer ("response parse: chunk size line
// \"zz\" is not hexadecimal"). No I/O here: the fuzz target
// (tests/fuzz/http_response_fuzz.cpp) drives it directly.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cvm::exporter::kube::http {

struct ResponseLimits {
  std::size_t max_body = 64u << 20;      // the body, decoded (too_big past it)
  std::size_t max_line = 16u << 10;      // one status, header or chunk line
  std::size_t max_header_bytes = 256u << 10;  // all header lines together
  std::size_t max_headers = 256;         // header fields
};

struct ParsedResponse {
  int status = 0;
  std::string reason;
  std::string content_type;
  std::optional<long> retry_after;  // delta-seconds only
  bool keep_alive = true;           // the connection may carry another request
  std::string body;
};

class ResponseParser {
 public:
  enum class State { kMore, kDone, kError, kTooBig };

  // `no_body`: the request was HEAD, or a CONNECT whose 2xx has none.
  explicit ResponseParser(ResponseLimits limits = {}, bool no_body = false)
      : limits_(limits), no_body_(no_body) {}

  // Consumes `data`; bytes past the end of the response make the
  // connection unfit for reuse (nothing is pipelined) but are no error.
  State Feed(std::string_view data);
  // The peer closed the connection: ends a body read to the end of the
  // connection, and is an error anywhere else ("the connection closed
  // in the headers").
  State Finish();

  State state() const { return state_; }
  // Why kError or kTooBig ("response parse: ...").
  const std::string& error() const { return error_; }
  // Any byte of the response arrived (a reused connection that closes
  // before one is safe to open again for an idempotent request).
  bool started() const { return started_; }
  ParsedResponse& response() { return response_; }
  // The body runs to the end of the connection (no length, not chunked):
  // an end without TLS close_notify may have cut it.
  bool reads_to_close() const { return phase_ == Phase::kBodyUntilClose; }

 private:
  enum class Phase {
    kStatusLine,
    kHeaders,
    kBodyLength,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kBodyUntilClose,
    kDone
  };
  State Fail(std::string why);
  State Step();
  bool TakeLine(std::string& line, bool& too_long);
  State OnStatusLine(std::string_view line);
  State OnHeaderLine(std::string_view line);
  State OnHeadersDone();
  State AppendBody(std::string_view bytes);

  ResponseLimits limits_;
  bool no_body_;
  State state_ = State::kMore;
  Phase phase_ = Phase::kStatusLine;
  std::string error_;
  std::string buf_;  // bytes not consumed yet
  std::size_t header_bytes_ = 0;
  std::size_t header_count_ = 0;
  std::optional<unsigned long long> content_length_;
  bool chunked_ = false;
  unsigned long long remaining_ = 0;  // of a Content-Length body or a chunk
  bool started_ = false;
  bool http10_ = false;
  ParsedResponse response_;
};

// Parses one whole response (the bytes, then the end of the connection):
// the fuzz target and the tests. Returns kDone, kError or kTooBig.
ResponseParser::State ParseWholeResponse(std::string_view bytes,
                                         ResponseParser& parser);

}  // namespace cvm::exporter::kube::http
