#include "probe/firmware.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "tests/support/fixture.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

using cvm::testing::ScanTree;
using cvm::testing::TempTree;

constexpr const char* kVar =
    "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

// efivarfs prefixes the 4-byte attributes: 0x06 = BOOTSERVICE_ACCESS |
// RUNTIME_ACCESS, as `od -An -t x1` shows on a Secure Boot host
// ("06 00 00 00 01").
std::string Var(char value) { return std::string("\x06\x00\x00\x00", 4) + value; }

TEST(EfiVariableParse, FifthByte) {
  EXPECT_EQ(*ParseEfiBoolVariable(Var(1)), true);
  EXPECT_EQ(*ParseEfiBoolVariable(Var(0)), false);
  EXPECT_FALSE(ParseEfiBoolVariable(Var(2)));
  EXPECT_FALSE(ParseEfiBoolVariable(std::string("\x06\x00\x00\x00", 4)));
  EXPECT_FALSE(ParseEfiBoolVariable(""));
}

TEST(FirmwareProbe, SecureBootOn) {
  TempTree t;
  t.Write(kVar, Var(1));
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetBool(kFirmwareEfi), true);
  EXPECT_EQ(f.GetBool(kSecurebootEnabled), true);
}

TEST(FirmwareProbe, SecureBootOff) {
  TempTree t;
  t.Write(kVar, Var(0));
  EXPECT_EQ(ScanTree(t).GetBool(kSecurebootEnabled), false);
}

// This machine: /sys/firmware has acpi and memmap, no efi.
TEST(FirmwareProbe, NotEfiMeansNoSecureBoot) {
  TempTree t;
  t.Mkdir("sys/firmware/acpi");
  t.Mkdir("sys/firmware/memmap");
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetBool(kFirmwareEfi), false);
  EXPECT_EQ(f.GetBool(kSecurebootEnabled), false);
  EXPECT_NE(f.Find(kSecurebootEnabled)->source.find("not booted by EFI"),
            std::string::npos);
}

TEST(FirmwareProbe, NoSysFirmwareIsUnknown) {
  TempTree t;
  t.Mkdir("sys/fs");
  Facts f = ScanTree(t);
  EXPECT_FALSE(f.Has(kFirmwareEfi));
  EXPECT_FALSE(f.Has(kSecurebootEnabled));
}

TEST(FirmwareProbe, EmptyEfivarsIsUnknown) {
  TempTree t;
  t.Mkdir("sys/firmware/efi/efivars");
  Facts f = ScanTree(t);
  EXPECT_EQ(f.GetBool(kFirmwareEfi), true);
  EXPECT_FALSE(f.Has(kSecurebootEnabled));
}

TEST(FirmwareProbe, PopulatedEfivarsWithoutSecureBootIsOff) {
  TempTree t;
  t.Write("sys/firmware/efi/efivars/BootCurrent-8be4df61-93ca-11d2-aa0d-00e098032b8c",
          std::string("\x06\x00\x00\x00\x01\x00", 6));
  EXPECT_EQ(ScanTree(t).GetBool(kSecurebootEnabled), false);
}

}  // namespace
}  // namespace cvm::probe
