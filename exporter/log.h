#pragma once
// The agent's log: one JSON object per line on a stream (stderr), with
// time (RFC 3339, UTC, milliseconds), level, msg and the fields given.
// Safe to call from several threads.

#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string_view>

#include "probe/result.h"

namespace cvm::exporter {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
Result<LogLevel> ParseLogLevel(std::string_view name);  // debug info warn error

class Logger {
 public:
  Logger(std::ostream& out, LogLevel level) : out_(out), level_(level) {}
  void Log(LogLevel level, std::string_view msg, nlohmann::json fields = {});
  void Debug(std::string_view msg, nlohmann::json f = {}) { Log(LogLevel::kDebug, msg, std::move(f)); }
  void Info(std::string_view msg, nlohmann::json f = {}) { Log(LogLevel::kInfo, msg, std::move(f)); }
  void Warn(std::string_view msg, nlohmann::json f = {}) { Log(LogLevel::kWarn, msg, std::move(f)); }
  void Error(std::string_view msg, nlohmann::json f = {}) { Log(LogLevel::kError, msg, std::move(f)); }

 private:
  std::mutex mu_;
  std::ostream& out_;
  LogLevel level_;
};

}  // namespace cvm::exporter
