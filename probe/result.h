#pragma once
// cvm::Error and cvm::Result<T>: a value or an error, shaped like
// std::expected so it can be swapped for it later (STYLE.md section 5).

#include <string>
#include <utility>
#include <variant>

namespace cvm {

// An error met while reading the host. `path` is the in-root path as the
// host sees it ("/etc/os-release"), `code` an errno value (0 when the error
// is not a system call's), `message` the full text for people.
struct Error {
  int code = 0;
  std::string path;
  std::string message;

  bool operator==(const Error&) const = default;
};

// Formats "<path>: <what> (<ERRNAME>)", e.g.
// "/etc/os-release: Too many levels of symbolic links (ELOOP)".
Error ErrnoError(int code, std::string path);
// An error that is not an errno, e.g. a parse error: "<path>: <message>".
Error MakeError(std::string path, std::string message, int code = 0);
// "ELOOP" for ELOOP, "E<number>" when glibc has no name.
std::string ErrnoName(int code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace cvm
