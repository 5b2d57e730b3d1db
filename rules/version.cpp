#include "rules/version.h"

#include <cctype>
#include <string>

namespace cvm::rules {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// dpkg's character order: '~' before everything (even the end), then the
// end, then letters, then everything else (lib/dpkg/version.c, order()).
int DpkgOrder(int c) {
  if (c == '~') return -1;
  if (c == 0) return 0;
  if (IsAlpha(static_cast<char>(c))) return c;
  return c + 256;
}

// Compares two digit runs as numbers, without overflow.
int CompareNumbers(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// deb-version(7) comparison of one part (upstream or revision).
int VerRevCmp(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    while ((i < a.size() && !IsDigit(a[i])) || (j < b.size() && !IsDigit(b[j]))) {
      int ac = i < a.size() && !IsDigit(a[i]) ? DpkgOrder(a[i]) : 0;
      int bc = j < b.size() && !IsDigit(b[j]) ? DpkgOrder(b[j]) : 0;
      if (ac != bc) return ac < bc ? -1 : 1;
      if (i < a.size() && !IsDigit(a[i])) ++i;
      if (j < b.size() && !IsDigit(b[j])) ++j;
    }
    std::size_t si = i, sj = j;
    while (i < a.size() && IsDigit(a[i])) ++i;
    while (j < b.size() && IsDigit(b[j])) ++j;
    std::string_view na = a.substr(si, i - si), nb = b.substr(sj, j - sj);
    if (na.empty()) na = "0";
    if (nb.empty()) nb = "0";
    if (int c = CompareNumbers(na, nb); c != 0) return c;
  }
  return 0;
}

struct EpochVersion {
  std::string_view epoch = "0", upstream, revision;
};

EpochVersion SplitEpochRevision(std::string_view v) {
  EpochVersion out;
  if (auto colon = v.find(':'); colon != std::string_view::npos) {
    bool digits = colon > 0;
    for (std::size_t k = 0; k < colon; ++k) digits = digits && IsDigit(v[k]);
    if (digits) {
      out.epoch = v.substr(0, colon);
      v.remove_prefix(colon + 1);
    }
  }
  if (auto dash = v.rfind('-'); dash != std::string_view::npos) {
    out.revision = v.substr(dash + 1);
    v = v.substr(0, dash);
  }
  out.upstream = v;
  return out;
}

int CompareDpkg(std::string_view a, std::string_view b) {
  EpochVersion x = SplitEpochRevision(a), y = SplitEpochRevision(b);
  if (int c = CompareNumbers(x.epoch, y.epoch); c != 0) return c;
  if (int c = VerRevCmp(x.upstream, y.upstream); c != 0) return c;
  return VerRevCmp(x.revision, y.revision);
}

// rpmvercmp (rpmio/rpmvercmp.c): alphanumeric segments, numbers newer than
// letters, "~" older than anything, "^" newer than the end only.
int RpmVerCmp(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  std::size_t i = 0, j = 0;
  auto is_alnum = [](char c) { return IsDigit(c) || IsAlpha(c); };
  while (i < a.size() || j < b.size()) {
    while (i < a.size() && !is_alnum(a[i]) && a[i] != '~' && a[i] != '^') ++i;
    while (j < b.size() && !is_alnum(b[j]) && b[j] != '~' && b[j] != '^') ++j;
    bool at = i < a.size() && a[i] == '~', bt = j < b.size() && b[j] == '~';
    if (at || bt) {
      if (!at) return 1;
      if (!bt) return -1;
      ++i, ++j;
      continue;
    }
    bool ac = i < a.size() && a[i] == '^', bc = j < b.size() && b[j] == '^';
    if (ac || bc) {
      if (i >= a.size()) return -1;
      if (j >= b.size()) return 1;
      if (!ac) return 1;
      if (!bc) return -1;
      ++i, ++j;
      continue;
    }
    if (i >= a.size() || j >= b.size()) break;
    std::size_t si = i, sj = j;
    bool numeric = IsDigit(a[i]);
    if (numeric) {
      while (i < a.size() && IsDigit(a[i])) ++i;
      while (j < b.size() && IsDigit(b[j])) ++j;
    } else {
      while (i < a.size() && IsAlpha(a[i])) ++i;
      while (j < b.size() && IsAlpha(b[j])) ++j;
    }
    std::string_view sa = a.substr(si, i - si), sb = b.substr(sj, j - sj);
    if (sb.empty()) return numeric ? 1 : -1;  // different segment types
    if (numeric) {
      if (int c = CompareNumbers(sa, sb); c != 0) return c;
    } else if (int c = sa.compare(sb); c != 0) {
      return c < 0 ? -1 : 1;
    }
  }
  if (i >= a.size() && j >= b.size()) return 0;
  return i >= a.size() ? -1 : 1;
}

int CompareRpm(std::string_view a, std::string_view b) {
  EpochVersion x = SplitEpochRevision(a), y = SplitEpochRevision(b);
  if (int c = CompareNumbers(x.epoch, y.epoch); c != 0) return c;
  if (int c = RpmVerCmp(x.upstream, y.upstream); c != 0) return c;
  if (x.revision.empty() || y.revision.empty()) return 0;
  return RpmVerCmp(x.revision, y.revision);
}

// Upstream release strings as dpkg would order them once pre-release
// markers become "~": "1.1.0-rc.1" -> "1.1.0~rc.1".
std::string UpstreamKey(std::string_view v) {
  if (!v.empty() && (v.front() == 'v' || v.front() == 'V') && v.size() > 1 &&
      IsDigit(v[1])) {
    v.remove_prefix(1);
  }
  std::string out(v);
  static constexpr std::string_view kPre[] = {"rc", "alpha", "beta", "pre", "dev"};
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (out[k] != '-' && out[k] != '.') continue;
    std::string_view rest = std::string_view(out).substr(k + 1);
    for (auto p : kPre) {
      if (rest.substr(0, p.size()) == p &&
          (rest.size() == p.size() || !IsAlpha(rest[p.size()]))) {
        out[k] = '~';
        return out;
      }
    }
  }
  return out;
}

}  // namespace

int CompareVersions(std::string_view a, std::string_view b, VersionScheme scheme) {
  switch (scheme) {
    case VersionScheme::kDpkg:
      return CompareDpkg(a, b);
    case VersionScheme::kRpm:
      return CompareRpm(a, b);
    case VersionScheme::kKernel:
      return VerRevCmp(a, b);
    case VersionScheme::kUpstream:
      break;
  }
  return VerRevCmp(UpstreamKey(a), UpstreamKey(b));
}

}  // namespace cvm::rules
