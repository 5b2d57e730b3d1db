#include "probe/go_buildinfo.h"

#include <cstring>

namespace cvm::probe {
namespace {

constexpr std::string_view kMagic = "\xff Go buildinf:";
constexpr std::size_t kMaxSectionTable = 1 << 20;  // HostRoot's range cap
constexpr std::size_t kMaxString = 1 << 20;

struct Elf {
  bool is64 = false;
  bool big = false;
  std::string shdrs;  // the whole section header table
  std::uint16_t shentsize = 0;
  std::uint16_t shnum = 0;
};

std::uint64_t Get(std::string_view b, std::size_t off, int size, bool big) {
  std::uint64_t v = 0;
  for (int i = 0; i < size; ++i) {
    auto byte = static_cast<std::uint8_t>(b[off + static_cast<std::size_t>(i)]);
    if (big) v = (v << 8) | byte;
    else v |= static_cast<std::uint64_t>(byte) << (8 * i);
  }
  return v;
}

struct Section {
  std::uint32_t name = 0;
  std::uint32_t type = 0;
  std::uint64_t addr = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

Section SectionAt(const Elf& e, std::size_t i) {
  std::string_view s(e.shdrs);
  std::size_t o = i * e.shentsize;
  Section out;
  out.name = static_cast<std::uint32_t>(Get(s, o, 4, e.big));
  out.type = static_cast<std::uint32_t>(Get(s, o + 4, 4, e.big));
  if (e.is64) {
    out.addr = Get(s, o + 16, 8, e.big);
    out.offset = Get(s, o + 24, 8, e.big);
    out.size = Get(s, o + 32, 8, e.big);
  } else {
    out.addr = Get(s, o + 12, 4, e.big);
    out.offset = Get(s, o + 16, 4, e.big);
    out.size = Get(s, o + 20, 4, e.big);
  }
  return out;
}

Result<std::string> ReadExact(const RangeReader& read, std::uint64_t off,
                              std::size_t len, std::string_view what) {
  if (len > kMaxString) {
    return MakeError("", std::string(what) + " is larger than 1 MiB", EFBIG);
  }
  auto r = read(off, len);
  if (!r) return r.error();
  if (r->size() != len) {
    return MakeError("", std::string(what) + " runs past the end of the file");
  }
  return r;
}

// Reads the bytes at virtual address `va` through the section table.
Result<std::string> ReadVirtual(const Elf& e, const RangeReader& read,
                                std::uint64_t va, std::size_t len) {
  constexpr std::uint32_t kNoBits = 8;
  for (std::size_t i = 0; i < e.shnum; ++i) {
    Section s = SectionAt(e, i);
    if (s.type == kNoBits || s.addr == 0) continue;
    if (va >= s.addr && va - s.addr < s.size && len <= s.size - (va - s.addr)) {
      return ReadExact(read, s.offset + (va - s.addr), len, "a Go string");
    }
  }
  return MakeError("", "build info points outside the file's sections");
}

bool ReadUvarint(std::string_view b, std::size_t& pos, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64 && pos < b.size(); shift += 7) {
    auto byte = static_cast<std::uint8_t>(b[pos++]);
    out |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

std::string Unquote(std::string_view v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  for (std::size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '\\' && i + 2 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

}  // namespace

GoBuildInfo ParseGoModInfo(std::string_view text) {
  // 16-byte sentinels around the text (runtime/debug's modinfo).
  if (text.size() >= 33 && text[text.size() - 17] == '\n') {
    text = text.substr(16, text.size() - 32);
  }
  GoBuildInfo info;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    std::string_view key = line.substr(0, tab), rest = line.substr(tab + 1);
    if (key == "path") {
      info.path = std::string(rest);
    } else if (key == "mod") {
      auto t2 = rest.find('\t');
      info.main_module = std::string(rest.substr(0, t2));
      if (t2 != std::string_view::npos) {
        std::string_view v = rest.substr(t2 + 1);
        info.main_version = std::string(v.substr(0, v.find('\t')));
      }
    } else if (key == "build") {
      auto eq = rest.find('=');
      if (eq == std::string_view::npos) continue;
      info.settings.emplace_back(std::string(rest.substr(0, eq)),
                                 Unquote(rest.substr(eq + 1)));
    }
  }
  return info;
}

Result<GoBuildInfo> ReadGoBuildInfo(const RangeReader& read) {
  auto hdr = read(0, 64);
  if (!hdr) return hdr.error();
  std::string_view h = *hdr;
  if (h.size() < 52 || h.substr(0, 4) != "\x7f" "ELF") {
    return MakeError("", "not an ELF file");
  }
  Elf e;
  e.is64 = h[4] == 2;
  e.big = h[5] == 2;
  if ((h[4] != 1 && h[4] != 2) || (h[5] != 1 && h[5] != 2) ||
      (e.is64 && h.size() < 64)) {
    return MakeError("", "unknown ELF class or byte order");
  }
  std::uint64_t shoff = e.is64 ? Get(h, 40, 8, e.big) : Get(h, 32, 4, e.big);
  e.shentsize = static_cast<std::uint16_t>(Get(h, e.is64 ? 58 : 46, 2, e.big));
  e.shnum = static_cast<std::uint16_t>(Get(h, e.is64 ? 60 : 48, 2, e.big));
  auto shstrndx = static_cast<std::uint16_t>(Get(h, e.is64 ? 62 : 50, 2, e.big));
  if (shoff == 0 || e.shnum == 0) return MakeError("", "ELF file has no section headers");
  if (e.shentsize < (e.is64 ? 64 : 40) || shstrndx >= e.shnum) {
    return MakeError("", "malformed ELF section header table");
  }
  std::size_t table = std::size_t{e.shentsize} * e.shnum;
  if (table > kMaxSectionTable) {
    return MakeError("", "ELF section header table larger than 1 MiB", EFBIG);
  }
  auto shdrs = ReadExact(read, shoff, table, "the ELF section header table");
  if (!shdrs) return shdrs.error();
  e.shdrs = std::move(*shdrs);
  Section strtab = SectionAt(e, shstrndx);
  if (strtab.size > kMaxString) return MakeError("", "ELF section names larger than 1 MiB", EFBIG);
  auto names = ReadExact(read, strtab.offset, strtab.size, "the ELF section names");
  if (!names) return names.error();
  const Section* found = nullptr;
  Section sec;
  for (std::size_t i = 0; i < e.shnum; ++i) {
    Section s = SectionAt(e, i);
    if (s.name >= names->size()) continue;
    if (std::strcmp(names->c_str() + s.name, ".go.buildinfo") == 0) {
      sec = s;
      found = &sec;
      break;
    }
  }
  if (found == nullptr) return MakeError("", "no .go.buildinfo section (not a Go program)");
  std::size_t len = sec.size < 32 ? 32 : (sec.size > kMaxString ? kMaxString : sec.size);
  auto body = read(sec.offset, len);
  if (!body) return body.error();
  std::string_view b = *body;
  if (b.size() < 32 || b.substr(0, kMagic.size()) != kMagic) {
    return MakeError("", ".go.buildinfo does not start with the Go build info magic");
  }
  auto ptr = static_cast<std::size_t>(static_cast<std::uint8_t>(b[14]));
  auto flags = static_cast<std::uint8_t>(b[15]);
  std::string version, mod;
  if (flags & 2) {  // Go 1.18+: two varint-prefixed strings after 32 bytes
    std::size_t pos = 32;
    for (std::string* out : {&version, &mod}) {
      std::uint64_t n = 0;
      if (!ReadUvarint(b, pos, n) || n > b.size() - pos) {
        return MakeError("", ".go.buildinfo strings are truncated");
      }
      *out = std::string(b.substr(pos, n));
      pos += n;
    }
  } else {  // before Go 1.18: pointers to string headers {data, len}
    if (ptr != 4 && ptr != 8) return MakeError("", ".go.buildinfo pointer size is not 4 or 8");
    bool big = (flags & 1) != 0;
    for (int i = 0; i < 2; ++i) {
      std::uint64_t va = Get(b, 16 + ptr * static_cast<std::size_t>(i), static_cast<int>(ptr), big);
      auto hdr2 = ReadVirtual(e, read, va, 2 * ptr);
      if (!hdr2) return hdr2.error();
      std::uint64_t data = Get(*hdr2, 0, static_cast<int>(ptr), big);
      std::uint64_t n = Get(*hdr2, ptr, static_cast<int>(ptr), big);
      if (n > kMaxString) return MakeError("", "Go build info string larger than 1 MiB", EFBIG);
      std::string s;
      if (n > 0) {
        auto str = ReadVirtual(e, read, data, static_cast<std::size_t>(n));
        if (!str) return str.error();
        s = std::move(*str);
      }
      (i == 0 ? version : mod) = std::move(s);
    }
  }
  GoBuildInfo info = ParseGoModInfo(mod);
  info.go_version = version;
  return info;
}

std::string LdflagsVariable(const GoBuildInfo& info, std::string_view name) {
  for (const auto& [key, value] : info.settings) {
    if (key != "-ldflags") continue;
    std::string_view v = value;
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < v.size()) {
      while (i < v.size() && v[i] == ' ') ++i;
      std::size_t j = i;
      while (j < v.size() && v[j] != ' ') ++j;
      if (j > i) words.push_back(v.substr(i, j - i));
      i = j;
    }
    for (std::size_t k = 0; k < words.size(); ++k) {
      std::string_view def;
      if ((words[k] == "-X" || words[k] == "--X") && k + 1 < words.size()) {
        def = words[k + 1];
      } else if (words[k].substr(0, 3) == "-X=") {
        def = words[k].substr(3);
      } else {
        continue;
      }
      auto eq = def.find('=');
      if (eq != std::string_view::npos && def.substr(0, eq) == name) {
        return std::string(def.substr(eq + 1));
      }
    }
  }
  return "";
}

std::string GoStampedVersion(const GoBuildInfo& info) {
  for (std::string_view name : {"main.version", "main.Version"}) {
    std::string v = LdflagsVariable(info, name);
    if (!v.empty()) return v;
  }
  for (const auto& [key, value] : info.settings) {
    if (key != "-ldflags") continue;
    std::string_view v = value;
    std::size_t at = 0;
    while ((at = v.find("/version.Version=", at)) != std::string_view::npos) {
      std::size_t start = v.rfind(' ', at);
      start = start == std::string_view::npos ? 0 : start + 1;
      if (v.substr(start, 3) == "-X=") start += 3;
      std::string name(v.substr(start, at + 16 - start));
      std::string got = LdflagsVariable(info, name);
      if (!got.empty()) return got;
      at += 17;
    }
  }
  if (!info.main_version.empty() && info.main_version != "(devel)") {
    return info.main_version;
  }
  return "";
}

}  // namespace cvm::probe
