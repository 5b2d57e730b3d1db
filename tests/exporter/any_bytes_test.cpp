// Issue 18, "JSON for any bytes": a host file may hold any bytes, and a
// report must still come out, valid JSON and valid UTF-8, with exit status
// 0, 1 or 3 (never 134 from an uncaught nlohmann type_error 316). Each case
// copies a real fixture root and puts raw bytes (an invalid UTF-8 byte, a
// truncated sequence, an overlong form) into one string a host file feeds,
// then runs the real binary.
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "exporter/report_json.h"
#include "exporter/utf8.h"
#include "probe/facts_json.h"
#include "probe/runtime_version.h"
#include "tests/support/data.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kFffd = "\xEF\xBF\xBD";
// \xff never occurs in UTF-8; \xE6\x97 is a 3-byte sequence cut short;
// \xC0\xAF an overlong '/'.
const std::string kBad = "\xff" "a\xE6\x97" "b\xC0\xAF";

struct Case {
  const char* name;
  const char* fixture;
  const char* file;     // in the root
  const char* find;     // replaced by find + kBad
  const char* remove;   // a file of the root to remove first, or ""
};

const Case kCases[] = {
    {"os_release_id", "debian-12", "etc/os-release", "ID=debian", ""},
    {"os_release_pretty_name", "debian-12", "etc/os-release", "PRETTY_NAME=\"Debian", ""},
    // Field 3 of /proc/version is read when osrelease is missing.
    {"proc_version", "debian-12", "proc/version", "Linux version 6.1.0-31-amd64",
     "proc/sys/kernel/osrelease"},
    {"dmi_product_name", "platform-qemu-kvm", "sys/class/dmi/id/product_name", "Standard PC",
     ""},
    {"mount_source", "centos-7-xfs-ftype1", "proc/1/mountinfo", "xfs /dev/mapper/cl-root", ""},
    {"dpkg_version", "debian-12-sysbox-0.6.7-containerd-io-1.7.25", "var/lib/dpkg/status",
     "Version: 1.7.25-1", ""},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

struct Command {
  int status;
  std::string out;
};

Command RunCmd(const std::string& cmd) {
  Command c{-1, ""};
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) c.out.append(buf, n);
    int st = ::pclose(p);
    c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return c;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// kBad as the report writes it.
std::string Replaced() {
  std::string r(kFffd);
  return r + "a" + r + r + "b" + r + r;
}

class AnyBytes : public ::testing::TestWithParam<Case> {};

TEST_P(AnyBytes, ScanStillWritesValidJsonAndUtf8) {
  const Case& c = GetParam();
  cvm::testing::Fixture fixture(c.fixture);  // with its overlays
  cvm::testing::TempTree t;
  t.CopyFrom(fixture.root());
  if (*c.remove) fs::remove(t.Abs(c.remove));
  std::string path = t.Abs(c.file);
  std::string text = ReadAll(path);
  std::size_t at = text.find(c.find);
  ASSERT_NE(at, std::string::npos) << c.find << " not in " << path;
  text.insert(at + std::strlen(c.find), kBad);
  if (fs::is_symlink(path)) fs::remove(path);
  t.Write(c.file, text);

  std::string scan = std::string(CVM_BINARY) + " scan --root '" + t.path() + "'";
  Command json = RunCmd(scan + " --format json 2>/dev/null");
  EXPECT_TRUE(json.status == 0 || json.status == 1 || json.status == 3)
      << c.name << ": exit status " << json.status;
  EXPECT_EQ(ValidUtf8(json.out), json.out) << c.name << ": the report is not UTF-8";
  nlohmann::json report = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << c.name << ": not JSON:\n" << json.out;
  EXPECT_TRUE(report.contains("verdicts")) << c.name;
  // The bytes reached the report (as a fact or in an error's text), each
  // bad byte as one U+FFFD.
  EXPECT_NE(json.out.find(Replaced()), std::string::npos)
      << c.name << ": the replaced bytes are not in the report:\n" << json.out;

  Command prom = RunCmd(scan + " --format prometheus 2>/dev/null");
  EXPECT_TRUE(prom.status == 0 || prom.status == 1 || prom.status == 3) << c.name;
  EXPECT_EQ(ValidUtf8(prom.out), prom.out) << c.name << ": the exposition is not UTF-8";
  Command txt = RunCmd(scan + " >/dev/null 2>&1; echo $?");
  EXPECT_TRUE(txt.out == "0\n" || txt.out == "1\n" || txt.out == "3\n")
      << c.name << ": text report exit " << txt.out;
}

INSTANTIATE_TEST_SUITE_P(HostFiles, AnyBytes, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// `--exec-versions` runs binaries only on a live root, so version outputs
// are fed to their parsers here: real outputs (tests/data/runtime-versions)
// with the bytes after the version, and what the parser makes of them (a
// version or an error's text) into facts, then the facts' JSON.
TEST(AnyBytes, VersionOutputsStillGiveValidJson) {
  for (const char* name : {"runc-1.1.4.txt", "containerd-containerd.io-1.5.10.txt"}) {
    std::string text = cvm::testing::ReadText(
        cvm::testing::SourcePath(std::string("tests/data/runtime-versions/") + name));
    std::size_t eol = text.find('\n');
    std::size_t at = text.rfind(' ', eol == std::string::npos ? text.size() : eol);
    ASSERT_NE(at, std::string::npos) << name;
    std::size_t end = text.find_first_of(" \n", at + 1);
    text.insert(end == std::string::npos ? text.size() : end, kBad);
    std::string got;
    if (std::string(name).rfind("runc", 0) == 0) {
      auto v = probe::ParseRuncVersion(text);
      got = v ? v->version : v.error().message;
    } else {
      auto v = probe::ParseContainerdVersion(text);
      got = v ? v->version + " " + v->revision : v.error().message;
    }
    probe::Facts facts;
    facts.Set("runtime.runc.version", got, name);
    std::string out = DumpJson(probe::FactsToJson(facts));
    EXPECT_EQ(ValidUtf8(out), out) << name;
    EXPECT_NE(out.find(Replaced()), std::string::npos) << name << ": " << out;
    EXPECT_FALSE(nlohmann::json::parse(out, nullptr, false).is_discarded()) << name;
  }
}

TEST(Utf8, IsValidUtf8SaysWhetherValidUtf8ChangesAnything) {
  const std::string rows[] = {
      "", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC euro", "\xF0\x9F\x90\xA7",
      "\xff", "x\x80y", "\xC0\xAF (overlong)", "\xED\xA0\x80 (surrogate)",
      "\xF4\x90\x80\x80 (above U+10FFFF)", "truncated \xE2\x82", std::string("nul\0byte", 8),
  };
  for (const std::string& s : rows) {
    SCOPED_TRACE(s);
    EXPECT_EQ(IsValidUtf8(s), ValidUtf8(s) == s);
  }
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));
  EXPECT_FALSE(IsValidUtf8("k\xff"));
}

TEST(DumpJson, ReplacesEachBadByteInStringsAndKeys) {
  nlohmann::json j = {{"ok", "caf\xC3\xA9"}, {"k\xff", {"x\x80y", 1}}};
  std::string r(kFffd);
  std::string text = DumpJson(j, -1);
  EXPECT_EQ(text, "{\"k" + r + "\":[\"x" + r + "y\",1],\"ok\":\"caf\xC3\xA9\"}");
  // The strict parser accepts it.
  nlohmann::json back;
  EXPECT_NO_THROW(back = nlohmann::json::parse(text));
  EXPECT_EQ(back["ok"], "caf\xC3\xA9");
}

}  // namespace
}  // namespace cvm::exporter
