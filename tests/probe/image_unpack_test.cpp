// The workspace-image unpacker (probe/image_unpack.h) on real images made
// by tests/setup/make_image_archives.sh (buildah, skopeo; cached in
// build/test-cache/image-archives) and on the attack inputs its
// make_hostile_images.py builds with python3's tarfile.
#include "probe/image_unpack.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "probe/host_root.h"
#include "probe/image_layout.h"
#include "tests/support/temp_tree.h"

namespace cvm::probe {
namespace {

namespace fs = std::filesystem;

std::string Archives(std::string_view rel = "") {
  std::string base = std::string(CVM_TEST_CACHE) + "/image-archives";
  return rel.empty() ? base : base + "/" + std::string(rel);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A file's content for comparisons: text as is, binaries by size and hash
// (so a failure prints readably).
std::string Content(const std::string& data) {
  for (char c : data) {
    if (c == '\0') return "binary " + std::to_string(data.size()) + " " + std::to_string(std::hash<std::string>{}(data));
  }
  return data;
}

// Every path under `root` with what it is: "d" (folder), "f <content>"
// (file), "l <target>" (symbolic link), compared whole.
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = it->path().string().substr(root.size());
    auto st = it->symlink_status();
    if (fs::is_symlink(st)) {
      out[rel] = "l " + fs::read_symlink(it->path()).string();
    } else if (fs::is_directory(st)) {
      out[rel] = "d";
    } else {
      out[rel] = "f " + Content(Slurp(it->path().string()));
    }
  }
  return out;
}

std::size_t CountEntries(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// The tree make_image_archives.sh's two-layer image must unpack to.
std::map<std::string, std::string> WorkspaceTree() {
  std::string src = Archives("src");
  return {
      {"/etc", "d"},
      {"/etc/hostname", "f changed\n"},
      {"/opt", "d"},
      {"/opt/d", "d"},
      {"/opt/d/b", "f b\n"},
      {"/tmp", "d"},
      {"/usr", "d"},
      {"/usr/bin", "d"},
      {"/usr/bin/env", "f " + Content(Slurp(src + "/usr/bin/env"))},
      {"/usr/bin/true", "f " + Content(Slurp(src + "/usr/bin/true"))},
      {"/usr/bin/true2", "f " + Content(Slurp(src + "/usr/bin/true"))},
      {"/usr/bin/t2", "l /usr/bin/true"},
  };
}

UnpackOptions Options(const testing::TempTree& tmp, std::string platform = "linux/amd64") {
  UnpackOptions o;
  o.platform = std::move(platform);
  o.tmp_dir = tmp.path();
  return o;
}

TEST(ImageInputKindTest, Names) {
  EXPECT_EQ(ImageInputKindName(ImageInputKind::kRootfs), "rootfs");
  EXPECT_EQ(ImageInputKindName(ImageInputKind::kDockerArchive), "docker-archive");
  EXPECT_EQ(ImageInputKindName(ImageInputKind::kOciLayout), "oci-layout");
  EXPECT_EQ(ImageInputKindName(ImageInputKind::kOciArchive), "oci-archive");
}

struct RealImage {
  const char* input;
  ImageInputKind kind;
  const char* reference;
};

class RealImageTest : public ::testing::TestWithParam<RealImage> {};

TEST_P(RealImageTest, UnpacksFileByFile) {
  const RealImage& p = GetParam();
  testing::TempTree tmp;
  auto kind = DetectImageInput(Archives(p.input));
  ASSERT_TRUE(kind.has_value()) << kind.error().message;
  EXPECT_EQ(*kind, p.kind);
  std::string root;
  {
    auto image = UnpackImage(Archives(p.input), Options(tmp));
    ASSERT_TRUE(image.has_value()) << image.error().message;
    root = image->root();
    EXPECT_EQ(root.rfind(tmp.path() + "/cvm-image-", 0), 0u) << root;
    struct stat st {};
    ASSERT_EQ(::stat(root.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    // Whiteouts applied (/etc/os-release, /opt/d/a, /opt/d/keep), links as
    // stored, nothing else.
    EXPECT_EQ(Tree(root), WorkspaceTree());
    // true2 was made with ln in the mount, but its target is in the
    // lower layer, so buildah stores it as a whole file: no hard link.
    struct stat a {};
    ASSERT_EQ(::stat((root + "/usr/bin/true").c_str(), &a), 0);
    EXPECT_EQ(a.st_mode & 07777, 0755u);
    const ImageInfo& info = image->info();
    EXPECT_EQ(info.kind, p.kind);
    EXPECT_EQ(info.platform, "linux/amd64");
    EXPECT_EQ(info.layers.size(), 2u);
    EXPECT_EQ(info.reference, p.reference);
    EXPECT_TRUE(ValidDigest(info.manifest_digest)) << info.manifest_digest;
    EXPECT_EQ(info.skipped_special, 0u);
    EXPECT_TRUE(info.warnings.empty()) << info.warnings.front();
    // HostRoot resolves the absolute link inside the root.
    auto host = HostRoot::Open(root);
    ASSERT_TRUE(host.has_value());
    auto resolved = host->Resolve("/usr/bin/t2");
    ASSERT_TRUE(resolved.has_value()) << resolved.error().message;
    EXPECT_EQ(*resolved, "/usr/bin/true");
  }
  EXPECT_FALSE(fs::exists(root)) << "the folder outlives its UnpackedImage";
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Buildah, RealImageTest,
    ::testing::Values(RealImage{"oci", ImageInputKind::kOciLayout, "workspace"},
                      RealImage{"oci-gzip.tar", ImageInputKind::kOciArchive, "workspace"},
                      RealImage{"oci-zstd", ImageInputKind::kOciLayout, "workspace"},
                      RealImage{"docker.tar", ImageInputKind::kDockerArchive, "docker.io/example/workspace:1"},
                      RealImage{"docker-legacy.tar", ImageInputKind::kDockerArchive,
                                "docker.io/example/workspace:1"}),
    [](const auto& info) {
      std::string n = info.param.input;
      for (auto& c : n) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return n;
    });

TEST(ImageUnpackTest, DockerLayersAreArchivePaths) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("docker-legacy.tar"), Options(tmp));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  ASSERT_EQ(image->info().layers.size(), 2u);
  EXPECT_NE(image->info().layers[0].find("/layer.tar"), std::string::npos) << image->info().layers[0];
}

TEST(ImageUnpackTest, GzipAndZstdLayersAreWhatTheManifestsSay) {
  // The fixtures really are compressed: their blobs start with the magic.
  testing::TempTree tmp;
  auto zstd = UnpackImage(Archives("oci-zstd"), Options(tmp));
  ASSERT_TRUE(zstd.has_value()) << zstd.error().message;
  std::string blob = Slurp(Archives("oci-zstd/") + BlobPath(zstd->info().layers[0]));
  ASSERT_GE(blob.size(), 4u);
  EXPECT_EQ(static_cast<unsigned char>(blob[0]), 0x28);
  EXPECT_EQ(static_cast<unsigned char>(blob[1]), 0xb5);
}

TEST(ImageUnpackTest, OpaqueFolderHidesLowerLayersOnly) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("opaque"), Options(tmp));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  auto tree = Tree(image->root());
  auto want = WorkspaceTree();
  want.erase("/opt/d/b");  // the lower layer's: hidden
  want["/opt/d/new"] = "f from the opaque layer\n";  // this layer's, before the marker
  want["/opt/d/after"] = "f after the marker\n";
  EXPECT_EQ(tree, want);
  EXPECT_EQ(image->info().layers.size(), 3u);
}

TEST(ImageUnpackTest, MultiPlatformIndexPicksThePlatform) {
  testing::TempTree tmp;
  for (auto [platform, arch] : {std::pair{"linux/arm64", "arm64\n"}, std::pair{"linux/arm64/v8", "arm64\n"},
                                std::pair{"linux/amd64", "amd64\n"}}) {
    SCOPED_TRACE(platform);
    auto image = UnpackImage(Archives("multi"), Options(tmp, platform));
    ASSERT_TRUE(image.has_value()) << image.error().message;
    EXPECT_EQ(Slurp(image->root() + "/etc/arch"), arch);
    EXPECT_EQ(image->info().reference, "multi");
    EXPECT_EQ(Slurp(image->root() + "/etc/hostname"), "workspace-test\n");
  }
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

TEST(ImageUnpackTest, DefaultPlatformIsTheHosts) {
  testing::TempTree tmp;
  UnpackOptions o;
  o.tmp_dir = tmp.path();
  auto image = UnpackImage(Archives("multi"), o);
  ASSERT_TRUE(image.has_value()) << image.error().message;
  ImagePlatform host = HostPlatform();
  EXPECT_EQ(Slurp(image->root() + "/etc/arch"), host.architecture + "\n");
}

TEST(ImageUnpackTest, MissingPlatformListsTheIndexPlatforms) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("multi"), Options(tmp, "linux/riscv64"));
  ASSERT_FALSE(image.has_value());
  const std::string& m = image.error().message;
  EXPECT_NE(m.find("linux/riscv64"), std::string::npos) << m;
  EXPECT_NE(m.find("linux/amd64"), std::string::npos) << m;
  EXPECT_NE(m.find("linux/arm64/v8"), std::string::npos) << m;
  auto docker = UnpackImage(Archives("docker.tar"), Options(tmp, "linux/arm64"));
  ASSERT_FALSE(docker.has_value());
  EXPECT_NE(docker.error().message.find("it has linux/amd64"), std::string::npos) << docker.error().message;
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

TEST(ImageUnpackTest, RootfsIsUsedInPlace) {
  std::string src = Archives("src");
  auto kind = DetectImageInput(src);
  ASSERT_TRUE(kind.has_value());
  EXPECT_EQ(*kind, ImageInputKind::kRootfs);
  {
    auto image = UnpackImage(src, UnpackOptions{});
    ASSERT_TRUE(image.has_value()) << image.error().message;
    EXPECT_EQ(image->root(), src);
    EXPECT_EQ(image->info().kind, ImageInputKind::kRootfs);
  }
  EXPECT_TRUE(fs::exists(src + "/etc/os-release")) << "a root folder is never removed";
}

TEST(ImageUnpackTest, DetectRefusesOtherFiles) {
  auto kind = DetectImageInput(Archives("src/etc/os-release"));
  ASSERT_FALSE(kind.has_value());
  EXPECT_NE(kind.error().message.find("os-release"), std::string::npos) << kind.error().message;
  auto tar = DetectImageInput(Archives("hostile/tars/devices.tar"));
  ASSERT_FALSE(tar.has_value());
  EXPECT_NE(tar.error().message.find("neither index.json"), std::string::npos) << tar.error().message;
  EXPECT_FALSE(DetectImageInput(Archives("no-such-file")).has_value());
}

TEST(ImageUnpackTest, SizeLimitNamesLayerAndEntry) {
  testing::TempTree tmp;
  UnpackOptions o = Options(tmp);
  o.limits.max_bytes = 1000;  // /usr/bin/true alone is bigger
  auto image = UnpackImage(Archives("oci"), o);
  ASSERT_FALSE(image.has_value());
  const std::string& m = image.error().message;
  EXPECT_NE(m.find("layer sha256:"), std::string::npos) << m;
  EXPECT_NE(m.find("entry usr/bin/"), std::string::npos) << m;
  EXPECT_NE(m.find("size limit"), std::string::npos) << m;
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

TEST(ImageUnpackTest, EntryLimitNamesLayerAndEntry) {
  testing::TempTree tmp;
  UnpackOptions o = Options(tmp);
  o.limits.max_entries = 5;
  auto image = UnpackImage(Archives("oci"), o);
  ASSERT_FALSE(image.has_value());
  const std::string& m = image.error().message;
  EXPECT_NE(m.find("layer sha256:"), std::string::npos) << m;
  EXPECT_NE(m.find("more than 5 entries"), std::string::npos) << m;
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

// Runs only as the child of the test below (a fresh process, where the
// library name is taken at the first load), printing what it got.
TEST(ImageUnpackTest, WithoutLibarchiveChild) {
  if (std::getenv("CVM_TEST_NO_LIBARCHIVE_CHILD") == nullptr) GTEST_SKIP() << "child of the test below";
  detail::SetLibArchiveNameForTest("libarchive-not-here.so.13");
  auto image = UnpackImage(Archives("oci"), UnpackOptions{});
  std::printf("@@%s\n", image.has_value() ? "unpacked" : image.error().message.c_str());
  auto rootfs = UnpackImage(Archives("src"), UnpackOptions{});
  std::printf("@@%s\n", rootfs.has_value() ? "rootfs ok" : rootfs.error().message.c_str());
}

TEST(ImageUnpackTest, WithoutLibarchiveSaysWhichLibraryAndTheWayOut) {
  std::string cmd =
      "CVM_TEST_NO_LIBARCHIVE_CHILD=1 /proc/" + std::to_string(::getpid()) +
      "/exe --gtest_filter=ImageUnpackTest.WithoutLibarchiveChild 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string got;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) got.append(buf, n);
  ::pclose(p);
  EXPECT_NE(got.find("cannot load libarchive-not-here.so.13"), std::string::npos) << got;
  EXPECT_NE(got.find("an unpacked root folder works instead"), std::string::npos) << got;
  EXPECT_NE(got.find("@@rootfs ok"), std::string::npos) << got;
}

// Attack layers, each as a one-layer OCI layout: the refusal names the
// layer (its digest) and the entry, nothing lands in the sentinel folder
// the entries aim at, and the temporary folder is gone.
struct Hostile {
  const char* layout;
  const char* entry;  // "" = accepted
  const char* why;
};

class HostileImageTest : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileImageTest, RefusedNamingLayerAndEntry) {
  const Hostile& p = GetParam();
  testing::TempTree tmp;
  std::string layout = Archives(std::string("hostile/layouts/") + p.layout);
  auto image = UnpackImage(layout, Options(tmp));
  if (p.entry[0] == '\0') {
    ASSERT_TRUE(image.has_value()) << image.error().message;
  } else {
    ASSERT_FALSE(image.has_value()) << "accepted " << p.layout;
    const std::string& m = image.error().message;
    EXPECT_NE(m.find("layer sha256:"), std::string::npos) << m;
    EXPECT_NE(m.find(std::string("entry ") + p.entry), std::string::npos) << m;
    EXPECT_NE(m.find(p.why), std::string::npos) << m;
    EXPECT_EQ(CountEntries(tmp.path()), 0u) << "the temporary folder is left behind";
  }
  EXPECT_EQ(CountEntries(Archives("sentinel")), 0u) << "written outside the root";
  EXPECT_FALSE(fs::exists(Archives("hostile/layouts/escape.txt")));
  EXPECT_FALSE(fs::exists(tmp.path() + "/escape.txt"));
}

INSTANTIATE_TEST_SUITE_P(
    Python, HostileImageTest,
    ::testing::Values(
        Hostile{"dotdot", "a/../../escape.txt", "\"..\" component"},
        Hostile{"dotdot-sentinel", "../../", "\"..\" component"},
        // Links on the way are followed inside the root: these land in it.
        Hostile{"symlink-then-file", "", ""},
        Hostile{"symlink-relative-then-file", "", ""},
        Hostile{"symlink-dotdot-then-file", "", ""},
        Hostile{"symlink-loop", "a/x", "more than 40 symbolic links"},
        Hostile{"symlink-to-file-then-file", "l/x", "/f is not a folder"},
        Hostile{"hardlink-dotdot-symlink", "hl", "up/etc/passwd, which is not in the image"},
        Hostile{"hardlink-outside", "passwd", "outside the image's root"},
        Hostile{"hardlink-absolute", "passwd", "/etc/passwd, which is not in the image"},
        Hostile{"hardlink-missing", "hl", "not-there, which is not in the image"},
        Hostile{"hardlink-through-symlink", "hl", "etcl/passwd, which is not in the image"},
        Hostile{"huge-sparse", "huge-sparse", "1099511627776 bytes (sparse)"},
        Hostile{"huge-file", "huge-file", "68719476736 bytes"}),
    [](const auto& info) {
      std::string n = info.param.layout;
      for (auto& c : n) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return n;
    });

// A link on an entry's way is resolved in the root, as "/" of the image:
// an absolute target and ".." past the top both stay inside it.
TEST(HostileImage, LinksOnTheWayPointingOutLandInsideTheRoot) {
  const std::string sentinel = Archives("sentinel");
  for (const char* name : {"symlink-then-file", "symlink-relative-then-file"}) {
    SCOPED_TRACE(name);
    testing::TempTree tmp;
    auto image = UnpackImage(Archives(std::string("hostile/layouts/") + name), Options(tmp));
    ASSERT_TRUE(image.has_value()) << image.error().message;
    EXPECT_EQ(Slurp(image->root() + sentinel + "/pwned"), "through the link\n");
    EXPECT_EQ(CountEntries(sentinel), 0u);
  }
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("hostile/layouts/symlink-dotdot-then-file"), Options(tmp));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(Slurp(image->root() + "/etc/pwned"), "through the link\n");
  EXPECT_EQ(fs::read_symlink(image->root() + "/up").string(), "../../../../../..");
}

// Merged /usr: a later layer named through lib -> usr/lib, sbin -> usr/sbin,
// a dangling bin -> usr/bin and an absolute lib64 -> /usr/lib lands in
// /usr, its whiteout and opaque marker act on /usr/lib, its hard link's
// target is resolved the same way, and the links stay links.
std::map<std::string, std::string> MergedUsrTree() {
  std::string systemd = "f \x7f" "ELF systemd stand-in\n";
  return {
      {"/bin", "l usr/bin"},
      {"/lib", "l usr/lib"},
      {"/lib64", "l /usr/lib"},
      {"/sbin", "l usr/sbin"},
      {"/usr", "d"},
      {"/usr/bin", "d"},
      {"/usr/bin/sh", "f #!stand-in\n"},
      {"/usr/lib", "d"},
      {"/usr/lib/ld.so", "f via an absolute link\n"},
      {"/usr/lib/old", "d"},
      {"/usr/lib/old/b", "f this layer's\n"},
      {"/usr/lib/old/c", "f this layer's too\n"},
      {"/usr/lib/systemd", "d"},
      {"/usr/lib/systemd/system", "d"},
      {"/usr/lib/systemd/system/foo.service", "f [Service]\nExecStart=/bin/true\n"},
      {"/usr/lib/systemd/systemd", systemd},
      {"/usr/sbin", "d"},
      {"/usr/sbin/hl", systemd},
      {"/usr/sbin/init", "l /lib/systemd/systemd"},
  };
}

TEST(MergedUsr, LaterLayerWritesThroughTheLinksIntoUsr) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("hostile/layouts/merged-usr"), Options(tmp));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(Tree(image->root()), MergedUsrTree());
  struct stat a {}, b {};
  ASSERT_EQ(::stat((image->root() + "/usr/sbin/hl").c_str(), &a), 0);
  ASSERT_EQ(::stat((image->root() + "/usr/lib/systemd/systemd").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "sbin/hl is a hard link to lib/systemd/systemd";
  EXPECT_EQ(image->info().layers.size(), 2u);
}

TEST(MergedUsr, ApplyLayerGivesTheSameTree) {
  testing::TempTree tmp;
  auto image = UnpackedImage::CreateEmpty(tmp.path());
  ASSERT_TRUE(image.has_value()) << image.error().message;
  for (const char* name : {"merged-usr-base", "merged-usr-upper"}) {
    auto ok = image->ApplyLayer(name, Slurp(Archives(std::string("hostile/tars/") + name + ".tar")), UnpackLimits{});
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
  }
  EXPECT_EQ(Tree(image->root()), MergedUsrTree());
}

TEST(HostileImage, CorruptGzipNamesTheLayer) {
  for (const char* name : {"corrupt-gzip", "truncated-gzip"}) {
    SCOPED_TRACE(name);
    testing::TempTree tmp;
    auto image = UnpackImage(Archives(std::string("hostile/layouts/") + name), Options(tmp));
    ASSERT_FALSE(image.has_value());
    const std::string& m = image.error().message;
    EXPECT_NE(m.find("layer sha256:"), std::string::npos) << m;
    EXPECT_EQ(CountEntries(tmp.path()), 0u);
  }
}

TEST(HostileImage, AbsoluteNamesAreStrippedIntoTheRoot) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("hostile/layouts/absolute"), Options(tmp));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  EXPECT_EQ(Slurp(image->root() + Archives("sentinel") + "/pwned"), "abs\n");
  EXPECT_EQ(CountEntries(Archives("sentinel")), 0u);
}

TEST(HostileImage, DevicesAreSkippedAndCountedSetuidDropped) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("hostile/layouts/devices"), Options(tmp));
  ASSERT_TRUE(image.has_value()) << image.error().message;
  const std::string& root = image->root();
  EXPECT_EQ(image->info().skipped_special, 3u);
  ASSERT_EQ(image->info().warnings.size(), 3u);
  EXPECT_NE(image->info().warnings[0].find("entry dev/sda: a block device, not created"), std::string::npos)
      << image->info().warnings[0];
  EXPECT_FALSE(fs::exists(fs::symlink_status(root + "/dev/sda")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root + "/dev/null")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root + "/dev/fifo")));
  EXPECT_EQ(Slurp(root + "/dev/regular"), "kept\n");
  struct stat st {};
  ASSERT_EQ(::stat((root + "/usr/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "setuid dropped";
}

TEST(HostileImage, MissingBlobNamesIt) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("hostile/layouts/missing-blob"), Options(tmp));
  ASSERT_FALSE(image.has_value());
  const std::string& m = image.error().message;
  EXPECT_NE(m.find("blobs/sha256/"), std::string::npos) << m;
  EXPECT_NE(m.find("No such file"), std::string::npos) << m;
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

TEST(HostileImage, DigestMismatchIsRefusedAndTheTreeRemoved) {
  testing::TempTree tmp;
  auto image = UnpackImage(Archives("hostile/layouts/digest-mismatch"), Options(tmp));
  ASSERT_FALSE(image.has_value());
  const std::string& m = image.error().message;
  EXPECT_NE(m.find("layer sha256:"), std::string::npos) << m;
  EXPECT_NE(m.find("digest mismatch"), std::string::npos) << m;
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

TEST(HostileImage, MillionEntriesRefusedAtTheDefaultLimit) {
  testing::TempTree tmp;
  auto empty = UnpackedImage::CreateEmpty(tmp.path());
  ASSERT_TRUE(empty.has_value()) << empty.error().message;
  std::string layer = Slurp(Archives("hostile/million.tar.gz"));
  ASSERT_GT(layer.size(), 1000000u);
  auto start = std::chrono::steady_clock::now();
  auto ok = empty->ApplyLayer("million.tar.gz", layer, UnpackLimits{});
  double applied = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(ok.has_value());
  const std::string& m = ok.error().message;
  EXPECT_NE(m.find("layer million.tar.gz: entry d0976/"), std::string::npos) << m;
  EXPECT_NE(m.find("more than 1000000 entries"), std::string::npos) << m;
  EXPECT_NE(m.find("before anything of it was written"), std::string::npos) << m;
  // Refused on its headers: not one file was made.
  EXPECT_EQ(CountEntries(empty->root()), 0u);
  EXPECT_EQ(empty->info().entries, 0u);
  start = std::chrono::steady_clock::now();
  { UnpackedImage gone = std::move(*empty); }
  double removed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("million entries: refused after %.1f s, folder removed in %.1f s\n", applied, removed);
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
}

// The pure parsers (probe/image_layout.h).
TEST(ImageLayoutParse, Platforms) {
  struct Row {
    const char* text;
    ImagePlatform want;
  };
  for (const Row& r : {Row{"linux/amd64", {"linux", "amd64", ""}}, Row{"linux/arm64/v8", {"linux", "arm64", "v8"}},
                       Row{"arm64", {"linux", "arm64", ""}}}) {
    SCOPED_TRACE(r.text);
    auto p = ParsePlatform(r.text);
    ASSERT_TRUE(p.has_value()) << p.error().message;
    EXPECT_EQ(*p, r.want);
  }
  for (const char* bad : {"", "linux/", "/amd64", "Linux/AMD64", "linux/arm64/v8/x", "linux//amd64"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParsePlatform(bad).has_value());
  }
}

TEST(ImageLayoutParse, PlatformMatching) {
  EXPECT_TRUE(PlatformMatches({"linux", "arm64", "v8"}, {"linux", "arm64", ""}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm64", ""}, {"linux", "arm64", "v8"}));
  EXPECT_TRUE(PlatformMatches({"linux", "arm", "v7"}, {"linux", "arm", ""}));
  EXPECT_FALSE(PlatformMatches({"linux", "arm", "v6"}, {"linux", "arm", ""}));
  EXPECT_FALSE(PlatformMatches({"linux", "amd64", ""}, {"linux", "arm64", "v8"}));
  EXPECT_FALSE(PlatformMatches({"linux", "amd64", ""}, {"windows", "amd64", ""}));
}

TEST(ImageLayoutParse, IndexErrorsNameTheField) {
  struct Row {
    const char* text;
    const char* error;
  };
  const std::string d64(64, 'a');
  for (const Row& r : {Row{"[]", "not a JSON object"}, Row{"{", "not valid JSON"},
                       Row{R"({"schemaVersion":1,"manifests":[]})", "schemaVersion"},
                       Row{R"({"schemaVersion":2})", "\"manifests\""},
                       Row{R"({"schemaVersion":2,"manifests":[{"digest":"sha256:../../etc","size":1}]})",
                           "manifests[0]: bad or unsupported digest"},
                       Row{R"({"schemaVersion":2,"manifests":[{"digest":"md5:00","size":1}]})", "bad or unsupported"},
                       Row{R"({"schemaVersion":2,"manifests":[{"digest":1,"size":1}]})", "\"digest\" is not a string"}}) {
    SCOPED_TRACE(r.text);
    auto idx = ParseOciIndex(r.text, "index.json");
    ASSERT_FALSE(idx.has_value());
    EXPECT_NE(idx.error().message.find(r.error), std::string::npos) << idx.error().message;
    EXPECT_EQ(idx.error().message.rfind("index.json", 0), 0u) << idx.error().message;
  }
  auto ok = ParseOciIndex(R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" +
                              d64 + R"(","size":7,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]})",
                          "index.json");
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ((*ok)[0].size, 7);
  ASSERT_TRUE((*ok)[0].platform.has_value());
  EXPECT_EQ(PlatformString(*(*ok)[0].platform), "linux/arm64/v8");
  EXPECT_EQ(BlobPath((*ok)[0].digest), "blobs/sha256/" + d64);
}

TEST(ImageLayoutParse, DockerManifest) {
  auto m = ParseDockerManifest(
      R"([{"Config":"abc.json","RepoTags":["debian:12"],"Layers":["1/layer.tar","2/layer.tar"]}])");
  ASSERT_TRUE(m.has_value()) << m.error().message;
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].repo_tags, std::vector<std::string>{"debian:12"});
  EXPECT_EQ((*m)[0].layers.size(), 2u);
  for (const char* bad : {"{}", "[]", R"([{"Layers":[]}])", R"([{"Config":"a","Layers":[1]}])"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseDockerManifest(bad).has_value());
  }
}

TEST(ImageLayoutParse, MemberPaths) {
  EXPECT_EQ(NormalizeMemberPath("./blobs//sha256/x"), "blobs/sha256/x");
  EXPECT_EQ(NormalizeMemberPath("/index.json"), "index.json");
  EXPECT_EQ(NormalizeMemberPath("a/../b"), std::nullopt);
  EXPECT_EQ(NormalizeMemberPath("."), "");
}

}  // namespace
}  // namespace cvm::probe
