#include "exporter/kube/http_response.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cvm::exporter::kube::http {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 section 5.6.2.
bool IsTokenChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// What a hostile line looks like in an error: cut and printable.
std::string Show(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 60)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  if (s.size() > 60) out += "...";
  return out + "\"";
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

}  // namespace

ResponseParser::State ResponseParser::Fail(std::string why) {
  error_ = "response parse: " + std::move(why);
  state_ = State::kError;
  response_.keep_alive = false;
  return state_;
}

bool ResponseParser::TakeLine(std::string& line, bool& too_long) {
  too_long = false;
  std::size_t nl = buf_.find('\n');
  if (nl == std::string::npos) {
    too_long = buf_.size() > limits_.max_line;
    return false;
  }
  if (nl > limits_.max_line) {
    too_long = true;
    return false;
  }
  std::size_t end = nl;
  if (end > 0 && buf_[end - 1] == '\r') --end;
  line.assign(buf_, 0, end);
  buf_.erase(0, nl + 1);
  return true;
}

ResponseParser::State ResponseParser::OnStatusLine(std::string_view line) {
  // HTTP-version SP status-code SP [reason-phrase]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." ||
      (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
      !AllDigits(line.substr(9, 3)) || (line.size() > 12 && line[12] != ' ')) {
    return Fail("the status line " + Show(line) + " is not HTTP/1.x");
  }
  int status = 0;
  std::from_chars(line.data() + 9, line.data() + 12, status);
  if (status < 100 || status > 599)
    return Fail("the status code " + std::to_string(status) + " is out of range");
  http10_ = line[7] == '0';
  response_ = ParsedResponse{};
  response_.status = status;
  response_.reason = std::string(line.size() > 13 ? line.substr(13) : "");
  if (http10_) response_.keep_alive = false;
  header_count_ = 0;
  content_length_.reset();
  chunked_ = false;
  phase_ = Phase::kHeaders;
  return State::kMore;
}

ResponseParser::State ResponseParser::OnHeaderLine(std::string_view line) {
  if (++header_count_ > limits_.max_headers)
    return Fail("more than " + std::to_string(limits_.max_headers) + " header fields");
  if (line.front() == ' ' || line.front() == '\t')
    return Fail("a folded header line " + Show(line) + " (obsolete line folding)");
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return Fail("the header line " + Show(line) + " has no field name");
  std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), IsTokenChar))
    return Fail("the header field name " + Show(name) + " is not a token");
  std::string_view value = TrimOws(line.substr(colon + 1));
  if (IEquals(name, "Content-Length")) {
    if (!AllDigits(value) || value.size() > 18)
      return Fail("Content-Length " + Show(value) + " is not a number");
    unsigned long long n = 0;
    std::from_chars(value.data(), value.data() + value.size(), n);
    if (content_length_ && *content_length_ != n)
      return Fail("two different Content-Length fields");
    content_length_ = n;
  } else if (IEquals(name, "Transfer-Encoding")) {
    // Only "chunked" is asked for (no TE header goes out); it must be the
    // last coding, and nothing is decoded below it.
    std::string_view v = value;
    std::size_t last = v.rfind(',');
    std::string_view final_coding = TrimOws(last == std::string_view::npos ? v : v.substr(last + 1));
    if (!IEquals(final_coding, "chunked") || last != std::string_view::npos)
      return Fail("the transfer coding " + Show(value) + " is not supported (only chunked)");
    if (chunked_) return Fail("two Transfer-Encoding fields");
    chunked_ = true;
  } else if (IEquals(name, "Content-Type")) {
    response_.content_type = std::string(value);
  } else if (IEquals(name, "Retry-After")) {
    long secs = -1;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    // Only delta-seconds: the API server never sends an HTTP date.
    if (ec == std::errc() && p == value.data() + value.size() && secs >= 0)
      response_.retry_after = secs;
  } else if (IEquals(name, "Connection")) {
    std::string_view v = value;
    while (!v.empty()) {
      std::size_t comma = v.find(',');
      std::string_view opt = TrimOws(v.substr(0, comma));
      if (IEquals(opt, "close")) response_.keep_alive = false;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return State::kMore;
}

ResponseParser::State ResponseParser::OnHeadersDone() {
  int s = response_.status;
  if (s >= 100 && s < 200) {
    if (s == 101) return Fail("101 Switching Protocols was not asked for");
    // 100 Continue, 103 Early Hints: an interim answer; the real one follows.
    phase_ = Phase::kStatusLine;
    return State::kMore;
  }
  if (chunked_ && content_length_) {
    // RFC 9112 section 6.3: chunked wins, and the connection is not reused.
    content_length_.reset();
    response_.keep_alive = false;
  }
  if (no_body_ || s == 204 || s == 304) {
    phase_ = Phase::kDone;
  } else if (chunked_) {
    phase_ = Phase::kChunkSize;
  } else if (content_length_) {
    if (*content_length_ > limits_.max_body) {
      state_ = State::kTooBig;
      error_ = "the answer is larger than " + std::to_string(limits_.max_body) + " bytes";
      response_.keep_alive = false;
      return state_;
    }
    remaining_ = *content_length_;
    response_.body.reserve(static_cast<std::size_t>(remaining_));
    phase_ = remaining_ == 0 ? Phase::kDone : Phase::kBodyLength;
  } else {
    response_.keep_alive = false;
    phase_ = Phase::kBodyUntilClose;
  }
  if (phase_ == Phase::kDone) state_ = State::kDone;
  return state_;
}

ResponseParser::State ResponseParser::AppendBody(std::string_view bytes) {
  if (response_.body.size() + bytes.size() > limits_.max_body) {
    state_ = State::kTooBig;
    error_ = "the answer is larger than " + std::to_string(limits_.max_body) + " bytes";
    response_.keep_alive = false;
    return state_;
  }
  response_.body.append(bytes);
  return State::kMore;
}

ResponseParser::State ResponseParser::Step() {
  std::string line;
  bool too_long = false;
  while (state_ == State::kMore) {
    switch (phase_) {
      case Phase::kStatusLine:
      case Phase::kHeaders:
      case Phase::kTrailers:
      case Phase::kChunkSize: {
        if (!TakeLine(line, too_long)) {
          if (too_long)
            return Fail("a line longer than " + std::to_string(limits_.max_line) +
                        " bytes (" + Show(buf_) + ")");
          return state_;
        }
        if (phase_ != Phase::kChunkSize) {
          header_bytes_ += line.size() + 2;
          if (header_bytes_ > limits_.max_header_bytes)
            return Fail("the header is longer than " +
                        std::to_string(limits_.max_header_bytes) + " bytes");
        }
        if (phase_ == Phase::kStatusLine) {
          if (line.empty() && header_bytes_ <= 8) continue;  // RFC 9112 2.2: a stray CRLF
          OnStatusLine(line);
        } else if (phase_ == Phase::kHeaders) {
          if (line.empty())
            OnHeadersDone();
          else
            OnHeaderLine(line);
        } else if (phase_ == Phase::kTrailers) {
          if (line.empty()) {
            phase_ = Phase::kDone;
            state_ = State::kDone;
          } else if (line.find(':') == std::string::npos) {
            return Fail("the trailer line " + Show(line) + " has no field name");
          }
        } else {  // kChunkSize: chunk-size [; ext] CRLF
          std::string_view v = line;
          v = v.substr(0, v.find(';'));
          v = TrimOws(v);
          if (v.empty() || v.size() > 15 ||
              !std::all_of(v.begin(), v.end(), [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c)) != 0;
              })) {
            return Fail("the chunk size line " + Show(line) + " is not hexadecimal");
          }
          unsigned long long n = 0;
          std::from_chars(v.data(), v.data() + v.size(), n, 16);
          if (n == 0) {
            phase_ = Phase::kTrailers;
          } else {
            if (response_.body.size() + n > limits_.max_body) {
              state_ = State::kTooBig;
              error_ = "the answer is larger than " + std::to_string(limits_.max_body) + " bytes";
              response_.keep_alive = false;
              return state_;
            }
            remaining_ = n;
            phase_ = Phase::kChunkData;
          }
        }
        break;
      }
      case Phase::kBodyLength:
      case Phase::kChunkData: {
        if (buf_.empty()) return state_;
        std::size_t n = static_cast<std::size_t>(
            std::min<unsigned long long>(remaining_, buf_.size()));
        if (AppendBody(std::string_view(buf_).substr(0, n)) != State::kMore) return state_;
        buf_.erase(0, n);
        remaining_ -= n;
        if (remaining_ == 0) {
          if (phase_ == Phase::kBodyLength) {
            phase_ = Phase::kDone;
            state_ = State::kDone;
          } else {
            phase_ = Phase::kChunkDataEnd;
          }
        }
        break;
      }
      case Phase::kChunkDataEnd: {
        if (buf_.empty()) return state_;
        if (buf_[0] == '\n') {
          buf_.erase(0, 1);
        } else if (buf_[0] == '\r') {
          if (buf_.size() < 2) return state_;
          if (buf_[1] != '\n') return Fail("a chunk is not followed by CRLF");
          buf_.erase(0, 2);
        } else {
          return Fail("a chunk is longer than its size line says");
        }
        phase_ = Phase::kChunkSize;
        break;
      }
      case Phase::kBodyUntilClose: {
        if (buf_.empty()) return state_;
        if (AppendBody(buf_) != State::kMore) return state_;
        buf_.clear();
        break;
      }
      case Phase::kDone:
        state_ = State::kDone;
        break;
    }
  }
  if (state_ == State::kDone && !buf_.empty()) {
    response_.keep_alive = false;  // more than one answer: do not reuse
    buf_.clear();
  }
  return state_;
}

ResponseParser::State ResponseParser::Feed(std::string_view data) {
  if (data.empty()) return state_;
  started_ = true;
  if (state_ != State::kMore) {
    if (state_ == State::kDone) response_.keep_alive = false;
    return state_;
  }
  buf_.append(data);
  return Step();
}

ResponseParser::State ResponseParser::Finish() {
  if (state_ != State::kMore) return state_;
  response_.keep_alive = false;
  switch (phase_) {
    case Phase::kBodyUntilClose:
      state_ = State::kDone;
      phase_ = Phase::kDone;
      return state_;
    case Phase::kStatusLine:
      return Fail(started_ ? "the connection closed in the status line"
                           : "the connection closed before an answer");
    case Phase::kHeaders:
      return Fail("the connection closed in the header");
    case Phase::kBodyLength:
      return Fail("the connection closed " + std::to_string(remaining_) +
                  " bytes before the end of the body (Content-Length " +
                  std::to_string(*content_length_) + ")");
    case Phase::kChunkSize:
    case Phase::kChunkData:
    case Phase::kChunkDataEnd:
    case Phase::kTrailers:
      return Fail("the connection closed inside the chunked body (" +
                  std::to_string(response_.body.size()) + " bytes read)");
    case Phase::kDone:
      state_ = State::kDone;
      return state_;
  }
  return state_;
}

ResponseParser::State ParseWholeResponse(std::string_view bytes,
                                         ResponseParser& parser) {
  if (parser.Feed(bytes) != ResponseParser::State::kMore) return parser.state();
  return parser.Finish();
}

}  // namespace cvm::exporter::kube::http
