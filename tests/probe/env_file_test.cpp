#include "probe/env_file.h"

#include <gtest/gtest.h>

namespace cvm::probe {
namespace {

struct Row {
  std::string_view input;
  std::vector<std::pair<std::string, std::string>> want;
  std::size_t warnings = 0;
};

TEST(EnvFileParse, Table) {
  const Row rows[] = {
      {"ID=ubuntu\n", {{"ID", "ubuntu"}}},
      {"ID=ubuntu", {{"ID", "ubuntu"}}},  // no trailing newline
      {"NAME=\"Ubuntu\"\r\nID=ubuntu\r\n", {{"NAME", "Ubuntu"}, {"ID", "ubuntu"}}},
      {"NAME='Fedora Linux'\n", {{"NAME", "Fedora Linux"}}},
      {"PRETTY_NAME=\"a \\\"quoted\\\" \\$var \\\\ \\`x\\`\"\n",
       {{"PRETTY_NAME", "a \"quoted\" $var \\ `x`"}}},
      {"X=\"keep \\n backslash\"\n", {{"X", "keep \\n backslash"}}},
      {"X='no \\escapes'\n", {{"X", "no \\escapes"}}},
      {"X=a\\ b\n", {{"X", "a b"}}},
      {"X=\"con\"'cat'enated\n", {{"X", "concatenated"}}},
      {"# comment\n\n   \nID=x\n  # indented comment\n", {{"ID", "x"}}},
      {"ID=x # trailing comment\n", {{"ID", "x"}}},
      {"X=\n", {{"X", ""}}},
      {"X=\"\"\n", {{"X", ""}}},
      {"ID=a\nID=b\n", {{"ID", "a"}, {"ID", "b"}}},
      {"  ID=indented\n", {{"ID", "indented"}}},
      {"X=\"unterminated\nID=ok\n", {{"ID", "ok"}}, 1},
      {"X='unterminated\n", {}, 1},
      {"not a line\nID=ok\n", {{"ID", "ok"}}, 1},
      {"1X=bad\n", {}, 1},
      {"X=a b\n", {}, 1},
      {"KEY = value\n", {}, 1},
      {"VERSION_ID=TEMPLATE_VERSION_ID\n", {{"VERSION_ID", "TEMPLATE_VERSION_ID"}}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.input);
    EnvFile got = ParseEnvFile(row.input);
    EXPECT_EQ(got.entries, row.want);
    EXPECT_EQ(got.warnings.size(), row.warnings);
  }
}

TEST(EnvFileParse, GetReturnsTheLastAssignment) {
  EnvFile f = ParseEnvFile("ID=a\nID=b\n");
  ASSERT_NE(f.Get("ID"), nullptr);
  EXPECT_EQ(*f.Get("ID"), "b");
  EXPECT_EQ(f.Get("NAME"), nullptr);
}

TEST(EnvFileParse, WarningsNameTheLine) {
  EnvFile f = ParseEnvFile("ID=a\nX=\"open\n");
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_EQ(f.warnings[0], "line 2: unterminated double quote; line ignored");
}

}  // namespace
}  // namespace cvm::probe
