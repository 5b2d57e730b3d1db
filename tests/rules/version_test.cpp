#include "rules/version.h"

#include <gtest/gtest.h>

namespace cvm::rules {
namespace {

struct Row {
  std::string_view older, newer;
  VersionScheme scheme;
};

// Each row: older < newer, and the reverse compares the other way.
const Row kOrdered[] = {
    {"1.0.0-rc92", "1.0.0", VersionScheme::kUpstream},
    {"1.0.0", "1.1.0-rc.1", VersionScheme::kUpstream},
    {"1.1.0-rc.1", "1.1.0", VersionScheme::kUpstream},
    {"1.0.3", "1.1.0-rc.1", VersionScheme::kUpstream},
    {"v1.7.15", "1.7.16", VersionScheme::kUpstream},
    {"1.1.5", "1.1.5+ds1", VersionScheme::kUpstream},
    {"1.2.0-rc.2-dirty", "1.2.0", VersionScheme::kUpstream},
    {"1.9.9", "1.10.0", VersionScheme::kUpstream},
    {"2.0.4", "2.0.5", VersionScheme::kUpstream},
    {"0.6.7", "0.7.0", VersionScheme::kUpstream},
    {"5.4.0-216", "5.15.0-91", VersionScheme::kKernel},
    {"5.15.0-48-generic", "5.15.0-56-generic", VersionScheme::kKernel},
    {"4.18.0-477.27.1.el8_8.x86_64", "5.14.0-362.el9.x86_64", VersionScheme::kKernel},
    {"5.12", "5.12.1", VersionScheme::kKernel},
    {"1.6.20~ds1-1+deb12u3", "1.6.20-1", VersionScheme::kDpkg},
    {"1.6.20~ds1-1", "1.6.20~ds1-1+deb12u3", VersionScheme::kDpkg},
    {"1.5.11-1", "1.6.2-1", VersionScheme::kDpkg},
    {"9:1.0", "1:2.0", VersionScheme::kDpkg},  // epoch 1 < epoch 9? no: see below
    {"1.0~rc1", "1.0", VersionScheme::kDpkg},
    {"1.0", "1.0a", VersionScheme::kDpkg},
    {"1.0-1", "1.0-1.1", VersionScheme::kDpkg},
    {"1.6.4-3.1.el7", "1.6.4-3.2.el7", VersionScheme::kRpm},
    {"1.0~rc1", "1.0", VersionScheme::kRpm},
    {"1.0", "1.0^git1", VersionScheme::kRpm},
    {"1.0a", "1.0.1", VersionScheme::kRpm},
    {"2.el7", "10.el7", VersionScheme::kRpm},
    {"1:1.0-1", "2:0.1-1", VersionScheme::kRpm},
};

TEST(CompareVersions, OrderedPairs) {
  for (const auto& row : kOrdered) {
    std::string older(row.older), newer(row.newer);
    if (older == "9:1.0") std::swap(older, newer);  // epochs: 1:2.0 < 9:1.0
    SCOPED_TRACE(older + " < " + newer);
    EXPECT_LT(CompareVersions(older, newer, row.scheme), 0);
    EXPECT_GT(CompareVersions(newer, older, row.scheme), 0);
  }
}

TEST(CompareVersions, Equal) {
  EXPECT_EQ(CompareVersions("1.0.3", "v1.0.3"), 0);
  EXPECT_EQ(CompareVersions("1.0", "1.00", VersionScheme::kDpkg), 0);
  EXPECT_EQ(CompareVersions("0:1.0-1", "1.0-1", VersionScheme::kDpkg), 0);
  EXPECT_EQ(CompareVersions("1.0-1", "1.0-1", VersionScheme::kRpm), 0);
  EXPECT_EQ(CompareVersions("5.15.0", "5.15.0", VersionScheme::kKernel), 0);
}

TEST(CompareVersions, HugeNumbersDoNotOverflow) {
  EXPECT_LT(CompareVersions("99999999999999999999998", "99999999999999999999999"), 0);
}

}  // namespace
}  // namespace cvm::rules
