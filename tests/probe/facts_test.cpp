#include "probe/facts.h"

#include <gtest/gtest.h>

#include "probe/fact_catalog.h"
#include "probe/facts_json.h"

namespace cvm::probe {
namespace {

Facts Sample() {
  Facts f;
  f.root = "/host";
  f.Set("kernel.release", std::string("5.15.0-91-generic"), "/proc/sys/kernel/osrelease");
  f.Set("kernel.major", std::int64_t{5}, "/proc/sys/kernel/osrelease");
  f.Set("os.id_like", StringList{"debian"}, "/etc/os-release");
  f.Set("shiftfs.registered", false, "/proc/filesystems");
  f.Set("gpu.nvidia.devices",
        RecordList{{{"address", std::string("0000:3b:00.0")},
                    {"device_id", std::int64_t{0x20b0}},
                    {"bound", true}}},
        "/sys/bus/pci/devices");
  f.AddError({"selinux", "/sys/fs", "/sys/fs: no sysfs"});
  f.AddRun({"kernel", true, 0.001});
  return f;
}

TEST(FactsJson, NestsByDottedName) {
  auto j = FactsToJson(Sample());
  EXPECT_EQ(j["facts"]["kernel"]["release"], "5.15.0-91-generic");
  EXPECT_EQ(j["facts"]["kernel"]["major"], 5);
  EXPECT_EQ(j["sources"]["os.id_like"], "/etc/os-release");
  EXPECT_EQ(j["facts"]["gpu"]["nvidia"]["devices"][0]["device_id"], 0x20b0);
  EXPECT_EQ(j["errors"][0]["probe"], "selinux");
  EXPECT_EQ(j["probes"][0]["name"], "kernel");
}

TEST(FactsJson, DigitComponentsStayObjectKeys) {
  Facts f;
  f.Set("kernel.modules.9p", std::string("absent"), "/lib/modules");
  auto j = FactsToJson(f);
  ASSERT_TRUE(j["facts"]["kernel"]["modules"].is_object());
  EXPECT_EQ(j["facts"]["kernel"]["modules"]["9p"], "absent");
  f.Set("x.0", std::int64_t{1}, "");
  auto k = FactsToJson(f);
  EXPECT_TRUE(k["facts"]["x"].is_object());
  auto back = FactsFromJson(k);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->GetInt("x.0"), 1);
}

TEST(FactsJson, RoundTrips) {
  Facts before = Sample();
  auto after = FactsFromJson(FactsToJson(before));
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->all(), before.all());
  EXPECT_EQ(after->errors(), before.errors());
  EXPECT_EQ(after->root, "/host");
}

TEST(FactsJson, BadInputNamesTheField) {
  auto bad = FactsFromJson(nlohmann::json::parse(R"({"facts": {"kernel": {"x": 1.5}}})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().path, "facts.kernel.x");
  EXPECT_FALSE(FactsFromJson(nlohmann::json::parse(R"({"facts": 3})")));
  EXPECT_FALSE(FactsFromJson(nlohmann::json::parse(R"({"facts": {}, "errors": [{"probe": 5}]})")));
}

TEST(Facts, TypedGetters) {
  Facts f = Sample();
  EXPECT_EQ(*f.GetString("kernel.release"), "5.15.0-91-generic");
  EXPECT_EQ(f.GetString("kernel.major"), nullptr);
  EXPECT_EQ(f.GetInt("kernel.major"), 5);
  EXPECT_EQ(f.GetBool("shiftfs.registered"), false);
  EXPECT_EQ(f.GetBool("nothing"), std::nullopt);
}

TEST(FactCatalog, PatternsMatchOneComponent) {
  EXPECT_NE(FindFactSpec("kernel.release"), nullptr);
  EXPECT_EQ(FindFactSpec("kernel.nothing"), nullptr);
  EXPECT_EQ(FindFactSpec(""), nullptr);
}

TEST(FactCatalog, NamesAreUniqueAndNoneIsAPrefixOfAnother) {
  auto catalog = FactCatalog();
  for (std::size_t i = 0; i < catalog.size(); ++i) {
    for (std::size_t j = 0; j < catalog.size(); ++j) {
      if (i == j) continue;
      std::string a(catalog[i].name), b(catalog[j].name);
      EXPECT_NE(a, b);
      EXPECT_NE(b.rfind(a + ".", 0), 0u) << a << " is a prefix of " << b;
    }
  }
}

}  // namespace
}  // namespace cvm::probe
