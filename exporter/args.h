#pragma once
// The argument walker every command uses.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cvm::exporter {

// Walks the arguments of one command. Accepts "--opt VALUE" and
// "--opt=VALUE"; anything unknown is a usage error.
class Args {
 public:
  Args(int argc, char** argv, int start) {
    for (int i = start; i < argc; ++i) args_.emplace_back(argv[i]);
  }
  bool Done() const { return pos_ >= args_.size(); }
  std::string_view Peek() const { return args_[pos_]; }
  // True when the current argument is `name`; takes its value if needed.
  bool Flag(std::string_view name) {
    if (args_[pos_] != name) return false;
    ++pos_;
    return true;
  }
  std::optional<std::string> Option(std::string_view name, std::string& error) {
    std::string_view a = args_[pos_];
    if (a == name) {
      if (pos_ + 1 >= args_.size()) {
        error = std::string(name) + " needs a value";
        return std::nullopt;
      }
      pos_ += 2;
      return args_[pos_ - 1];
    }
    if (a.size() > name.size() && a.substr(0, name.size()) == name &&
        a[name.size()] == '=') {
      ++pos_;
      return std::string(a.substr(name.size() + 1));
    }
    return std::nullopt;
  }

 private:
  std::vector<std::string> args_;
  std::size_t pos_ = 0;
};

}  // namespace cvm::exporter
