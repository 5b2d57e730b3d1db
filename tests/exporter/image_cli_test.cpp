// `cvm-preflight image`: the workspace-image probe and the image rule set
// on real Debian 12 roots (tests/setup/make_workspace_roots.sh, CTest
// fixture workspace_roots: debootstrap plus the docs' Dockerfile steps, and
// one broken variant per check), and on small trees for the edges.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "exporter/cli.h"
#include "exporter/image_cli.h"
#include "probe/fact_catalog.h"
#include "probe/registry.h"
#include "probe/image_unpack.h"
#include "probe/workspace_image.h"
#include "rules/loader.h"
#include "rules/report.h"
#include "tests/support/temp_tree.h"

namespace cvm::exporter {
namespace {

using probe::Facts;
using probe::HostRoot;
using testing::TempTree;

const std::string kRoots = std::string(CVM_TEST_CACHE) + "/workspace-roots/roots";

struct CliRun {
  int code;
  std::string out, err;
};

CliRun Cli(std::vector<std::string> args) {
  args.insert(args.begin(), "cvm-preflight");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream out, err;
  int code = RunCli(static_cast<int>(args.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

Facts ImageFacts(const std::string& dir) {
  auto root = HostRoot::Open(dir);
  EXPECT_TRUE(root) << dir;
  if (!root) return {};
  return probe::RunProbeTable(probe::ImageProbes(), *root);
}

nlohmann::json ImageJson(const std::string& dir, const std::string& profile) {
  CliRun r = Cli({"image", dir, "--format", "json", "--profile", profile});
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

std::string StatusOf(const nlohmann::json& report, const std::string& id) {
  for (const auto& c : report["checks"]) {
    if (c["id"] == id) return c["status"];
  }
  return "absent";
}

std::vector<std::string> List(const Facts& f, std::string_view name) {
  const auto* l = f.GetList(name);
  return l ? *l : std::vector<std::string>{"<absent>"};
}

// --- Real roots -----------------------------------------------------------

class Roots : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (::stat((kRoots + "/good").c_str(), &st) != 0) {
      GTEST_SKIP() << "no " << kRoots << ": run the workspace_roots_setup test first "
                   << "(tests/setup/make_workspace_roots.sh, needs root and the Debian mirror)";
    }
  }
  static std::string Root(const std::string& name) { return kRoots + "/" + name; }
};

TEST_F(Roots, GoodRootHasEverythingTheDocsAsk) {
  Facts f = ImageFacts(Root("good"));
  EXPECT_EQ(f.GetBool(probe::kImageInitPresent), true);
  ASSERT_NE(f.GetString(probe::kImageInitTarget), nullptr);
  // bookworm is merged-/usr: /sbin/init -> /lib/systemd/systemd lands here.
  EXPECT_EQ(*f.GetString(probe::kImageInitTarget), "/usr/lib/systemd/systemd");
  EXPECT_EQ(f.GetBool(probe::kImageInitSystemd), true);
  EXPECT_EQ(f.GetBool(probe::kImageDockerDaemon), true);
  EXPECT_EQ(f.GetBool(probe::kImageDockerCli), true);
  EXPECT_EQ(f.GetBool(probe::kImageDockerServiceEnabled), true);
  EXPECT_EQ(f.GetBool(probe::kImageDockerMasked), false);
  EXPECT_EQ(f.GetInt(probe::kImageTmpCount), 0);
  ASSERT_NE(f.GetString(probe::kImagePackagesDb), nullptr);
  EXPECT_EQ(*f.GetString(probe::kImagePackagesDb), "dpkg");
  // build-essential is left out of the setup (its size): the one warning.
  EXPECT_EQ(List(f, probe::kImagePackagesMissing), std::vector<std::string>{"build-essential"});
  EXPECT_EQ(List(f, probe::kImagePackagesInstalled),
            (std::vector<std::string>{"git", "bash", "docker.io", "curl", "sudo", "systemd"}));
  // The image's own runc, from Debian's runc package.
  ASSERT_NE(f.GetString(probe::kRuntimeRuncVersion), nullptr);
  EXPECT_EQ(f.GetString(probe::kRuntimeRuncVersion)->rfind("1.1.", 0), 0u)
      << *f.GetString(probe::kRuntimeRuncVersion);
  EXPECT_EQ(*f.GetString(probe::kRuntimeRuncPackage), "runc");
  for (const auto& e : f.errors()) {
    EXPECT_NE(e.probe, "workspace-image") << e.path << ": " << e.message;
  }
}

TEST_F(Roots, GoodRootPassesForSysbox06AndLaterButNotCoderV1) {
  // Debian 12's runc 1.1.5 is past the containerd.io 1.5.11-1 era.
  CliRun v1 = Cli({"image", Root("good")});
  EXPECT_EQ(v1.code, kExitFalse) << v1.out;
  EXPECT_NE(v1.out.find("image-runc-containerd-io-1.5.11-era"), std::string::npos);
  EXPECT_NE(v1.out.find("containerd.io=1.5.11-1"), std::string::npos);
  EXPECT_NE(v1.out.find("Pin-Priority: 999"), std::string::npos);
  EXPECT_NE(v1.out.find("image check of " + Root("good")), std::string::npos);
  for (std::string p : {"sysbox-0.6", "sysbox-0.7", "coder-v2"}) {
    CliRun r = Cli({"image", Root("good"), "--profile", p});
    EXPECT_EQ(r.code, kExitOk) << p << "\n" << r.out;
  }
  auto j = ImageJson(Root("good"), "sysbox-0.7");
  EXPECT_EQ(StatusOf(j, "image-packages-recommended"), "fail");  // build-essential
  EXPECT_EQ(StatusOf(j, "image-runc-version-known"), "pass");
  EXPECT_EQ(StatusOf(j, "image-runc-containerd-io-1.5.11-era"), "absent");
}

TEST_F(Roots, JsonHasOnlyTheImageVerdictAndAnImageSection) {
  CliRun r = Cli({"image", Root("good"), "--format", "json", "--profile", "sysbox-0.7",
                  "--platform", "linux/amd64"});
  EXPECT_EQ(r.code, kExitOk);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["verdicts"].size(), 1u) << j["verdicts"].dump();
  EXPECT_EQ(j["verdicts"]["image"]["value"], "true");
  EXPECT_EQ(j["image"]["input"], Root("good"));
  EXPECT_EQ(j["image"]["kind"], "rootfs");
  EXPECT_EQ(j["image"]["platform"], "linux/amd64");
  EXPECT_EQ(j["image"]["platform_from"], "option");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(j["profiles"]["coder-v1"]["image"], "false");
  EXPECT_EQ(j["profiles"]["sysbox-0.6"]["image"], "true");
  EXPECT_FALSE(j["facts"].contains("kernel"));  // no node probes ran
  EXPECT_EQ(j["facts"]["os"]["id"], "debian");
  EXPECT_EQ(j["facts"]["image"]["init"]["systemd"], true);
  for (const auto& c : j["checks"]) {
    EXPECT_EQ(c["verdicts"], nlohmann::json::array({"image"})) << c["id"];
  }
}

TEST_F(Roots, PlatformComesFromThePackagesWhenNotGiven) {
  Facts f = ImageFacts(Root("good"));
  ASSERT_NE(f.GetString(probe::kImagePlatform), nullptr);
  // debootstrap builds the machine's own architecture.
#if defined(__x86_64__)
  EXPECT_EQ(*f.GetString(probe::kImagePlatform), "linux/amd64");
#elif defined(__aarch64__)
  EXPECT_EQ(*f.GetString(probe::kImagePlatform), "linux/arm64");
#endif
  auto j = ImageJson(Root("good"), "sysbox-0.7");
  EXPECT_EQ(j["image"]["platform"], *f.GetString(probe::kImagePlatform));
  EXPECT_EQ(j["image"]["platform_from"], "packages");
  CliRun other = Cli({"image", Root("good"), "--platform", "linux/s390x", "--format", "json"});
  EXPECT_NE(other.err.find("warning: --platform linux/s390x, but the image's packages are built for"),
            std::string::npos) << other.err;
  EXPECT_EQ(nlohmann::json::parse(other.out)["image"]["platform"], "linux/s390x");
}

TEST(WorkspaceImageProbe, PlatformOfPackageArchitectures) {
  EXPECT_EQ(probe::PlatformOfPackageArch("amd64", "dpkg"), "linux/amd64");
  EXPECT_EQ(probe::PlatformOfPackageArch("aarch64", "rpm"), "linux/arm64");
  EXPECT_EQ(probe::PlatformOfPackageArch("armhf", "dpkg"), "linux/arm/v7");
  EXPECT_EQ(probe::PlatformOfPackageArch("armhf", "apk"), "linux/arm/v6");
  EXPECT_EQ(probe::PlatformOfPackageArch("all", "dpkg"), "");
  EXPECT_EQ(probe::PlatformOfPackageArch("noarch", "rpm"), "");
}

TEST_F(Roots, PrometheusHasTheImageVerdictAndNoNodeFamilies) {
  CliRun r = Cli({"image", Root("no-init"), "--format", "prometheus", "--profile", "sysbox-0.7"});
  EXPECT_EQ(r.code, kExitFalse);
  EXPECT_NE(r.out.find("cvm_preflight_verdict{verdict=\"image\",profile=\"sysbox-0.7\"} 0"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cvm_preflight_image_info{input=\"" + Root("no-init") +
                       "\",kind=\"rootfs\",platform=\"linux/"),
            std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("cvm_preflight_node_info"), std::string::npos);
  EXPECT_NE(r.out.find("check=\"image-init-systemd\""), std::string::npos);
}

TEST_F(Roots, NoInitFails) {
  Facts f = ImageFacts(Root("no-init"));
  EXPECT_EQ(f.GetBool(probe::kImageInitPresent), false);
  EXPECT_EQ(f.GetBool(probe::kImageInitSystemd), false);
  EXPECT_FALSE(f.Has(probe::kImageInitTarget));
  CliRun r = Cli({"image", Root("no-init"), "--profile", "sysbox-0.7"});
  EXPECT_EQ(r.code, kExitFalse);
  EXPECT_NE(r.out.find("failing: image-init-systemd\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RUN ln -s /lib/systemd/systemd /sbin/init"), std::string::npos);
}

TEST_F(Roots, InitThatIsNotSystemdFails) {
  Facts f = ImageFacts(Root("init-not-systemd"));
  EXPECT_EQ(f.GetBool(probe::kImageInitPresent), true);
  EXPECT_EQ(f.GetBool(probe::kImageInitSystemd), false);
  ASSERT_NE(f.GetString(probe::kImageInitTarget), nullptr);
  EXPECT_EQ(*f.GetString(probe::kImageInitTarget), "/usr/sbin/init");
  auto j = ImageJson(Root("init-not-systemd"), "sysbox-0.7");
  EXPECT_EQ(j["verdicts"]["image"]["because"], nlohmann::json::array({"image-init-systemd"}));
}

TEST_F(Roots, DockerMissingFailsInstalledAndRequiredPackages) {
  Facts f = ImageFacts(Root("docker-missing"));
  EXPECT_EQ(f.GetBool(probe::kImageDockerDaemon), false);
  EXPECT_EQ(f.GetBool(probe::kImageDockerCli), false);
  EXPECT_EQ(List(f, probe::kImagePackagesMissing),
            (std::vector<std::string>{"build-essential", "docker.io"}));
  auto j = ImageJson(Root("docker-missing"), "sysbox-0.7");
  EXPECT_EQ(j["verdicts"]["image"]["value"], "false");
  EXPECT_EQ(StatusOf(j, "image-docker-installed"), "fail");
  EXPECT_EQ(StatusOf(j, "image-packages-required"), "fail");
  EXPECT_EQ(StatusOf(j, "image-docker-enabled"), "skipped");
  EXPECT_EQ(StatusOf(j, "image-init-systemd"), "pass");
}

TEST_F(Roots, DockerNotEnabledFails) {
  Facts f = ImageFacts(Root("docker-not-enabled"));
  EXPECT_EQ(f.GetBool(probe::kImageDockerServiceEnabled), false);
  EXPECT_EQ(f.GetBool(probe::kImageDockerSocketEnabled), false);
  EXPECT_EQ(List(f, probe::kImageDockerEnabledBy), std::vector<std::string>{});
  CliRun r = Cli({"image", Root("docker-not-enabled"), "--profile", "sysbox-0.6"});
  EXPECT_EQ(r.code, kExitFalse);
  EXPECT_NE(r.out.find("failing: image-docker-enabled\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RUN systemctl enable"), std::string::npos);
}

TEST_F(Roots, SocketOnlyPassesWithAWarning) {
  Facts f = ImageFacts(Root("socket-only"));
  EXPECT_EQ(f.GetBool(probe::kImageDockerServiceEnabled), false);
  EXPECT_EQ(f.GetBool(probe::kImageDockerSocketEnabled), true);
  EXPECT_EQ(List(f, probe::kImageDockerEnabledBy),
            std::vector<std::string>{"/etc/systemd/system/sockets.target.wants/docker.socket"});
  auto j = ImageJson(Root("socket-only"), "sysbox-0.7");
  EXPECT_EQ(j["verdicts"]["image"]["value"], "true");
  EXPECT_EQ(StatusOf(j, "image-docker-enabled"), "pass");
  EXPECT_EQ(StatusOf(j, "image-docker-starts-at-boot"), "fail");
}

TEST_F(Roots, FilesInTmpAreAWarningListingThem) {
  Facts f = ImageFacts(Root("tmp-files"));
  EXPECT_EQ(f.GetInt(probe::kImageTmpCount), 2);
  EXPECT_EQ(List(f, probe::kImageTmpFiles),
            (std::vector<std::string>{"/tmp/mycompany/app.conf", "/tmp/setup.sh"}));
  CliRun r = Cli({"image", Root("tmp-files"), "--profile", "sysbox-0.7"});
  EXPECT_EQ(r.code, kExitOk) << r.out;
  EXPECT_NE(r.out.find("WARN image-tmp-empty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/tmp/mycompany/app.conf, /tmp/setup.sh"), std::string::npos);
}

TEST_F(Roots, MissingToolsAreWarningsOnly) {
  Facts f = ImageFacts(Root("packages-missing"));
  EXPECT_EQ(List(f, probe::kImagePackagesMissing),
            (std::vector<std::string>{"build-essential", "git", "curl", "sudo"}));
  auto j = ImageJson(Root("packages-missing"), "sysbox-0.7");
  EXPECT_EQ(j["verdicts"]["image"]["value"], "true");
  EXPECT_EQ(StatusOf(j, "image-packages-recommended"), "fail");
  EXPECT_EQ(StatusOf(j, "image-packages-required"), "pass");
}

TEST_F(Roots, ContainerdIo1511EraPassesCoderV1) {
  Facts f = ImageFacts(Root("era-1.5.11"));
  ASSERT_NE(f.GetString(probe::kRuntimeRuncVersion), nullptr);
  EXPECT_EQ(*f.GetString(probe::kRuntimeRuncVersion), "1.0.3");
  EXPECT_EQ(*f.GetString(probe::kRuntimeRuncPackage), "containerd.io");
  EXPECT_EQ(*f.GetString(probe::kRuntimeRuncPackageVersion), "1.5.11-1");
  CliRun r = Cli({"image", Root("era-1.5.11")});
  EXPECT_EQ(r.code, kExitOk) << r.out;
  auto j = ImageJson(Root("era-1.5.11"), "coder-v1");
  EXPECT_EQ(StatusOf(j, "image-runc-containerd-io-1.5.11-era"), "pass");
  auto j6 = ImageJson(Root("era-1.5.11"), "sysbox-0.6");
  EXPECT_EQ(StatusOf(j6, "image-runc-1.2-needs-sysbox-0.6.6"), "pass");
}

TEST_F(Roots, NoPackageDatabaseMakesRuncUnknownNotPass) {
  Facts f = ImageFacts(Root("no-package-db"));
  EXPECT_TRUE(f.Has(probe::kRuntimeRuncPath));
  EXPECT_FALSE(f.Has(probe::kRuntimeRuncVersion));  // Debian's runc: no stamped version
  EXPECT_FALSE(f.Has(probe::kImagePackagesMissing));
  bool said = false;
  for (const auto& e : f.errors()) {
    said = said || (e.probe == "workspace-image" &&
                    e.message.find("no package database") != std::string::npos);
  }
  EXPECT_TRUE(said);
  CliRun v1 = Cli({"image", Root("no-package-db")});
  EXPECT_EQ(v1.code, kExitUnknown) << v1.out;
  EXPECT_NE(v1.out.find("unknown: image-runc-containerd-io-1.5.11-era"), std::string::npos);
  // With Sysbox 0.7 any runc works: the unknown version is only an info.
  CliRun v7 = Cli({"image", Root("no-package-db"), "--profile", "sysbox-0.7"});
  EXPECT_EQ(v7.code, kExitOk) << v7.out;
}

TEST_F(Roots, ImageCheckChangesNothingInTheRoot) {
  struct stat before, after;
  ASSERT_EQ(::stat((Root("good") + "/var/lib/dpkg/status").c_str(), &before), 0);
  CliRun r = Cli({"image", Root("good"), "--format", "json"});
  ASSERT_EQ(::stat((Root("good") + "/var/lib/dpkg/status").c_str(), &after), 0);
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(r.code, kExitFalse);
}

// --- Edges on small trees -------------------------------------------------

TEST(ImageInput, ABrokenArchiveOrLayoutIsAClearError) {
  TempTree t;
  t.Write("image.tar", "not really a tar");
  t.Mkdir("layout");
  t.Write("layout/oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}");
  for (const auto& p : {t.Abs("image.tar"), t.Abs("layout")}) {
    CliRun r = Cli({"image", p});
    EXPECT_EQ(r.code, kExitUsage) << r.err;
    EXPECT_NE(r.err.find(p), std::string::npos) << r.err;
  }
  CliRun missing = Cli({"image", t.Abs("nothing-here")});
  EXPECT_EQ(missing.code, kExitUsage);
  EXPECT_NE(missing.err.find(t.Abs("nothing-here")), std::string::npos) << missing.err;
}

// Archives buildah and skopeo made (tests/setup/make_image_archives.sh): a
// two-layer image of a few files, no systemd and no Docker, so the
// verdict is false; every form of it gives the same checks as its tree.
TEST(ImageInput, ArchivesAreUnpackedAndCheckedLikeTheirRoot) {
  const std::string base = std::string(CVM_TEST_CACHE) + "/image-archives/";
  std::string want_checks;
  for (const char* name : {"oci", "oci-gzip.tar", "docker.tar", "docker-legacy.tar"}) {
    CliRun r = Cli({"image", base + name, "--format", "json", "--platform", "linux/amd64"});
    ASSERT_EQ(r.code, kExitFalse) << name << ": " << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["image"]["input"], base + name);
    EXPECT_NE(j["image"]["kind"], "rootfs") << name;
    EXPECT_EQ(j["image"]["platform"], "linux/amd64") << name;
    EXPECT_FALSE(j["image"]["manifest_digest"].get<std::string>().empty()) << name;
    EXPECT_GE(j["image"]["layers"].get<int>(), 2) << name;
    // The private root is gone once the command is over.
    std::error_code ec;
    EXPECT_FALSE(std::filesystem::exists(j["image"]["root"].get<std::string>(), ec)) << name;
    std::string checks;
    for (const auto& c : j["checks"]) checks += c["id"].get<std::string>() + "=" +
                                                c["status"].get<std::string>() + " ";
    if (want_checks.empty()) want_checks = checks;
    EXPECT_EQ(checks, want_checks) << name;
    EXPECT_NE(checks.find("image-init-systemd=fail"), std::string::npos) << checks;
  }
}

// Archives of the real roots (make_image_archives.sh --workspace): a
// buildah layer of roots/no-init plus a few extra files, and a second
// layer named through the merged-/usr links (sbin/init, lib/systemd/...)
// with a whiteout and an opaque /opt. Each must give the facts and the
// verdicts of the root it rebuilds, under every profile.
const std::string kWsArchives = std::string(CVM_TEST_CACHE) + "/workspace-archives/";

std::string FactText(const probe::Fact& f) {
  nlohmann::json j;
  std::visit([&](const auto& v) {
    using V = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<V, probe::RecordList>) {
      for (const auto& r : v) {
        nlohmann::json o;
        // (A pair, not a structured binding: clang 14 cannot capture one.)
        for (const auto& field : r) {
          std::visit([&](const auto& y) { o[field.first] = y; }, field.second);
        }
        j.push_back(o);
      }
    } else {
      j = v;
    }
  }, f.value);
  return j.dump() + " <- " + f.source;
}

std::map<std::string, std::string> FactMap(const Facts& f) {
  std::map<std::string, std::string> out;
  for (const auto& [name, fact] : f.all()) out[name] = FactText(fact);
  for (const auto& e : f.errors()) out["error " + e.probe + " " + e.path] = e.message;
  return out;
}

TEST_F(Roots, WorkspaceArchivesAreJudgedAsTheirRoots) {
  struct stat st;
  if (::stat((kWsArchives + ".stamp").c_str(), &st) != 0) {
    GTEST_SKIP() << "no " << kWsArchives << ": run the workspace_archives_setup test first";
  }
  // Each unpack of a Debian root takes seconds (some 5 s here, more under
  // ASan): every profile for the first archive, one each for the others;
  // every report's "profiles" holds all four profiles' verdicts anyway.
  struct Case {
    const char* archive;
    const char* root;
    const char* kind;
    std::vector<const char*> profiles;
  };
  std::map<std::string, nlohmann::json> reports;  // "archive profile"
  for (const Case& c : {Case{"good.oci.tar", "good", "oci-archive", {"coder-v1", "sysbox-0.6", "sysbox-0.7"}},
                        Case{"good.docker.tar", "good", "docker-archive", {"sysbox-0.6"}},
                        Case{"no-init.oci.tar", "no-init", "oci-archive", {"sysbox-0.7"}}}) {
    SCOPED_TRACE(c.archive);
    const std::string archive = kWsArchives + c.archive;
    probe::UnpackOptions uo;
    uo.platform = "linux/amd64";
    auto unpacked = probe::UnpackImage(archive, uo);
    ASSERT_TRUE(unpacked.has_value()) << unpacked.error().message;
    EXPECT_EQ(unpacked->info().layers.size(), 2u);
    // Written through sbin -> usr/sbin and lib -> usr/lib: the links stay.
    std::error_code ec;
    EXPECT_TRUE(std::filesystem::is_symlink(unpacked->root() + "/lib", ec));
    EXPECT_TRUE(std::filesystem::is_symlink(unpacked->root() + "/sbin", ec));
    EXPECT_FALSE(std::filesystem::exists(unpacked->root() + "/usr/lib/cvm-extra", ec)) << "whiteout";
    EXPECT_FALSE(std::filesystem::exists(unpacked->root() + "/opt/junk", ec)) << "opaque /opt";
    EXPECT_EQ(FactMap(ImageFacts(unpacked->root())), FactMap(ImageFacts(Root(c.root))));
    for (const char* profile : c.profiles) {
      SCOPED_TRACE(profile);
      auto run = [&](const std::string& input) {
        CliRun r = Cli({"image", input, "--format", "json", "--profile", profile, "--platform", "linux/amd64"});
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
        return j;
      };
      nlohmann::json from_archive = run(archive);
      nlohmann::json from_root = run(Root(c.root));
      EXPECT_EQ(from_archive["image"]["kind"], c.kind);
      EXPECT_EQ(from_archive["checks"], from_root["checks"]);
      EXPECT_EQ(from_archive["verdicts"], from_root["verdicts"]);
      EXPECT_EQ(from_archive["profiles"], from_root["profiles"]);
      EXPECT_EQ(from_archive["facts"], from_root["facts"]);
      EXPECT_FALSE(from_archive["checks"].empty());
      reports[std::string(c.archive) + " " + profile] = std::move(from_archive);
    }
  }
  // The two images differ where their roots do.
  const nlohmann::json& good = reports["good.oci.tar sysbox-0.7"];
  const nlohmann::json& no_init = reports["no-init.oci.tar sysbox-0.7"];
  EXPECT_EQ(StatusOf(good, "image-init-systemd"), "pass");
  EXPECT_EQ(StatusOf(no_init, "image-init-systemd"), "fail");
}

TEST(ImageInput, UsageErrors) {
  EXPECT_EQ(Cli({"image"}).code, kExitUsage);
  EXPECT_EQ(Cli({"image", "/", "/tmp"}).code, kExitUsage);
  EXPECT_EQ(Cli({"image", "/", "--format", "yaml"}).code, kExitUsage);
  EXPECT_EQ(Cli({"image", "/", "--profile", "coder-v3"}).code, kExitUsage);
  EXPECT_EQ(Cli({"image", "/", "--bogus"}).code, kExitUsage);
  CliRun help = Cli({"image", "--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_NE(help.out.find("Usage: cvm-preflight image ROOTFS"), std::string::npos);
  EXPECT_NE(Cli({"--help"}).out.find("  image "), std::string::npos);
}

TEST(ImageInput, PlatformIsOsArchOrOsArchVariant) {
  EXPECT_EQ(CheckPlatform("linux/amd64"), "");
  EXPECT_EQ(CheckPlatform("linux/arm64/v8"), "");
  EXPECT_NE(CheckPlatform("linux"), "");
  EXPECT_NE(CheckPlatform("linux/"), "");
  EXPECT_NE(CheckPlatform("Linux/AMD64"), "");
  EXPECT_NE(CheckPlatform("linux/amd64/v8/x"), "");
  EXPECT_EQ(Cli({"image", "/", "--platform", "amd64"}).code, kExitUsage);
}

TEST(WorkspaceImageProbe, TmpListingIsBoundedAndSorted) {
  TempTree t;
  for (int i = 0; i < 30; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "tmp/f%02d", i);
    t.Write(name, "x");
  }
  std::string deep = "tmp";
  for (int i = 0; i < probe::kTmpMaxDepth + 2; ++i) {
    deep += "/d";
    t.Mkdir(deep);
  }
  t.Write(deep + "/too-deep", "x");
  Facts f = ImageFacts(t.path());
  EXPECT_EQ(f.GetInt(probe::kImageTmpCount), 30);  // the deep file is not reached
  auto files = List(f, probe::kImageTmpFiles);
  ASSERT_EQ(files.size(), probe::kTmpListed);
  EXPECT_EQ(files.front(), "/tmp/f00");
  EXPECT_NE(f.Find(probe::kImageTmpCount)->source.find("not walked"), std::string::npos);
}

TEST(WorkspaceImageProbe, MaskedDanglingAndHardLinkedUnitsAndInit) {
  TempTree t;
  t.Write("usr/lib/systemd/systemd", "\x7f" "ELF", 0755);
  t.Symlink("lib", "usr/lib");
  t.Mkdir("sbin");
  // A hard link of systemd under another name is still systemd.
  ASSERT_EQ(::link(t.Abs("usr/lib/systemd/systemd").c_str(), t.Abs("sbin/init").c_str()), 0);
  t.Write("usr/lib/systemd/system/docker.service", "[Service]\n");
  t.Mkdir("etc/systemd/system/multi-user.target.wants");
  t.Symlink("etc/systemd/system/multi-user.target.wants/docker.service",
            "/lib/systemd/system/docker.service");
  t.Mkdir("etc/systemd/system/sockets.target.wants");
  t.Symlink("etc/systemd/system/sockets.target.wants/docker.socket",
            "/lib/systemd/system/docker.socket");  // no such unit
  t.Symlink("etc/systemd/system/docker.service", "/dev/null");  // masked
  Facts f = ImageFacts(t.path());
  EXPECT_EQ(f.GetBool(probe::kImageInitSystemd), true);
  EXPECT_NE(f.Find(probe::kImageInitSystemd)->source.find("same file"), std::string::npos);
  EXPECT_EQ(f.GetBool(probe::kImageDockerMasked), true);
  EXPECT_EQ(f.GetBool(probe::kImageDockerServiceEnabled), false);  // masked wins
  EXPECT_EQ(f.GetBool(probe::kImageDockerSocketEnabled), false);   // dangling
  bool dangling = false;
  for (const auto& e : f.errors()) {
    dangling = dangling || e.message.find("leads to no unit file") != std::string::npos;
  }
  EXPECT_TRUE(dangling);
  // No /tmp at all: nothing left there.
  EXPECT_EQ(f.GetInt(probe::kImageTmpCount), 0);
}

TEST(WorkspaceImageProbe, InitLinkEscapingTheRootStaysInside) {
  TempTree t;
  t.Mkdir("sbin");
  // An absolute link resolves inside the image, never on this machine's
  // /lib/systemd/systemd.
  t.Symlink("sbin/init", "/../../../../lib/systemd/systemd");
  Facts f = ImageFacts(t.path());
  EXPECT_EQ(f.GetBool(probe::kImageInitPresent), false);
  EXPECT_EQ(f.GetBool(probe::kImageInitSystemd), false);
}

TEST(WorkspaceImageProbe, DocsPackagesAcceptOtherDistrosNames) {
  auto s = probe::CheckDocsPackages({"docker-ce", "build-base", "git", "bash"});
  EXPECT_EQ(s.installed, (std::vector<std::string>{"build-essential", "git", "bash", "docker.io"}));
  EXPECT_EQ(s.missing, (std::vector<std::string>{"curl", "sudo", "systemd"}));
  auto none = probe::CheckDocsPackages({});
  EXPECT_EQ(none.missing.size(), probe::DocsPackages().size());
}

TEST(WorkspaceImageProbe, ApkDatabaseCounts) {
  TempTree t;
  t.Write("lib/apk/db/installed",
          "P:bash\nV:5.2.26-r0\nA:x86_64\n\nP:docker\nV:26.1.5-r0\nA:x86_64\n\n");
  Facts f = ImageFacts(t.path());
  ASSERT_NE(f.GetString(probe::kImagePackagesDb), nullptr);
  EXPECT_EQ(*f.GetString(probe::kImagePackagesDb), "apk");
  EXPECT_EQ(List(f, probe::kImagePackagesInstalled),
            (std::vector<std::string>{"bash", "docker.io"}));
}

// --- The image rule set ---------------------------------------------------

TEST(ImageRules, CompiledSetEqualsItsYamlAndOnlyNamesTheImageVerdict) {
  auto compiled = rules::LoadImageRules();
  auto yaml = rules::LoadImageRulesFromYaml();
  ASSERT_TRUE(yaml.ok()) << yaml.errors.front().Text();
  ASSERT_EQ(compiled.rules.size(), yaml.rules.size());
  ASSERT_GE(compiled.rules.size(), 9u);
  for (std::size_t i = 0; i < yaml.rules.size(); ++i) {
    EXPECT_EQ(compiled.rules[i].id, yaml.rules[i].id);
    EXPECT_EQ(compiled.rules[i].expect.Text(), yaml.rules[i].expect.Text());
    EXPECT_EQ(compiled.rules[i].verdicts, std::vector<std::string>{"image"});
    EXPECT_FALSE(compiled.rules[i].sources.empty());
  }
  // Node rules know nothing of them: node reports are unchanged.
  for (const auto& r : rules::LoadDefaultRules().rules) EXPECT_NE(r.id.rfind("image-", 0), 0u);
}

TEST(ImageRules, VerdictsComeFromTheRuleSetKind) {
  rules::RuleSetLoad image = rules::LoadImageRuleSet({});
  EXPECT_EQ(image.set.kind, rules::RuleSetKind::kImage);
  rules::Evaluation ev = rules::Evaluate(image.set, Facts{}, "coder-v1");
  ASSERT_EQ(ev.verdicts.size(), 1u);
  EXPECT_EQ(ev.verdicts[0].name, "image");
  EXPECT_EQ(ev.verdicts[0].value, rules::Tri::kUnknown);  // nothing read is not a pass
  rules::Evaluation node = rules::Evaluate(rules::LoadRuleSet({}).set, Facts{}, "coder-v1");
  EXPECT_EQ(node.verdicts.size(), std::size(rules::kVerdicts));
}

TEST(ImageRules, KindsDoNotMix) {
  const std::string image_rule =
      "- id: my-image-rule\n  title: t\n  reason: R\n  severity: error\n"
      "  verdicts: [image]\n  expect: {fact: image.tmp.count, eq: 0}\n  sources: [me]\n";
  EXPECT_EQ(rules::DetectKind(image_rule), rules::RuleSetKind::kImage);
  auto as_node = rules::LoadRulesText(image_rule, "x.yaml");
  ASSERT_FALSE(as_node.ok());
  EXPECT_NE(as_node.errors[0].message.find("image --rules"), std::string::npos);
  EXPECT_TRUE(rules::LoadRulesText(image_rule, "x.yaml", rules::RuleSetKind::kImage).ok());
  auto cvm_in_image = rules::LoadRulesText(
      "- id: r\n  title: t\n  reason: R\n  severity: error\n  verdicts: [cvm]\n"
      "  expect: {fact: os.id, eq: debian}\n  sources: [me]\n",
      "y.yaml", rules::RuleSetKind::kImage);
  ASSERT_FALSE(cvm_in_image.ok());
  EXPECT_NE(cvm_in_image.errors[0].message.find("unknown verdict 'cvm' (image)"), std::string::npos);
  // Without verdicts, an image rule file's rule counts for image.
  auto bare = rules::LoadRulesText(
      "- id: r\n  title: t\n  reason: R\n  severity: error\n"
      "  expect: {fact: os.id, eq: debian}\n  sources: [me]\n",
      "z.yaml", rules::RuleSetKind::kImage);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare.rules[0].verdicts, std::vector<std::string>{"image"});
}

TEST(ImageRules, CliListExplainValidateAndUserRules) {
  CliRun list = Cli({"rules", "list", "--image", "--profile", "sysbox-0.6"});
  EXPECT_EQ(list.code, kExitOk);
  EXPECT_NE(list.out.find("image-runc-1.2-needs-sysbox-0.6.6  [warning; image]"), std::string::npos)
      << list.out;
  EXPECT_EQ(list.out.find("image-runc-containerd-io-1.5.11-era"), std::string::npos);
  EXPECT_EQ(Cli({"rules", "list"}).out.find("image-init-systemd"), std::string::npos);
  CliRun explain = Cli({"explain", "image-init-systemd"});
  EXPECT_EQ(explain.code, kExitOk);
  EXPECT_NE(explain.out.find("Verdicts:  image"), std::string::npos);
  EXPECT_NE(explain.out.find("coder/docs@e77433ee"), std::string::npos);
  EXPECT_NE(explain.out.find("rules/default/image/init.yaml"), std::string::npos);
  CliRun validate = Cli({"rules", "validate", std::string(CVM_SOURCE_DIR) + "/rules/default/image"});
  EXPECT_EQ(validate.code, kExitOk) << validate.err;
  EXPECT_EQ(Cli({"rules", "validate", "--node",
                 std::string(CVM_SOURCE_DIR) + "/rules/default/image/tmp.yaml"}).code,
            kExitFalse);
  // --rules turns a default image rule off and adds one.
  TempTree t;
  t.Write("rules.yaml",
          "- {id: image-tmp-empty, enabled: false}\n"
          "- id: image-is-debian\n  title: Debian images only\n  reason: NotDebian\n"
          "  severity: error\n  verdicts: [image]\n  expect: {fact: os.id, eq: debian}\n"
          "  sources: [our policy]\n");
  t.Write("rootfs/etc/os-release", "ID=alpine\n");
  auto j = nlohmann::json::parse(
      Cli({"image", t.Abs("rootfs"), "--format", "json", "--rules", t.Abs("rules.yaml")}).out);
  EXPECT_EQ(StatusOf(j, "image-tmp-empty"), "absent");
  EXPECT_EQ(StatusOf(j, "image-is-debian"), "fail");
  EXPECT_EQ(Cli({"explain", "image-is-debian", "--rules", t.Abs("rules.yaml")}).code, kExitOk);
}

}  // namespace
}  // namespace cvm::exporter
