#include "exporter/image_cli.h"

#include <cerrno>
#include <filesystem>
#include <string_view>
#include <vector>

#include "exporter/cli.h"
#include "exporter/metrics.h"
#include "exporter/report_json.h"
#include "exporter/text_report.h"
#include "exporter/version.h"
#include "probe/fact_catalog.h"
#include "probe/host_root.h"
#include "probe/registry.h"
#include "rules/loader.h"
#include "rules/report.h"

namespace cvm::exporter {
namespace {

constexpr std::string_view kImageHelp =
    R"(Usage: cvm-preflight image ROOTFS|TARBALL|OCI-LAYOUT [OPTIONS]

Checks a workspace image before a CVM workspace is built from it: systemd
as /sbin/init, Docker installed and enabled under systemd, the image's runc
against the containerd.io 1.5.11-1 era, nothing left in /tmp, and the
packages of the Coder docs' example image (docs/workspace-image.md). Prints
the verdict `image`, the failing checks with their fixes, and what could
not be read. Nothing in the image is changed or executed.

ROOTFS is an unpacked image root: `docker export` (untarred), `umoci
unpack` (its rootfs/ folder), `buildah mount`. TARBALL is a `docker save`
archive or an OCI image layout in a tar (any compression); OCI-LAYOUT the
layout as a folder. Those are unpacked layer by layer into a private
temporary folder, removed afterwards, with limits on size and entries
and no entry written outside it; this needs libarchive (loaded at run
time; the container image leaves it out) (docs/image-inputs.md).

Options:
  --profile NAME    coder-v1 (default), coder-v2, sysbox-0.6 or sysbox-0.7:
                    the Sysbox the nodes run decides which runc works
                    inside the image (docs/workspace-image.md)
  --platform OS/ARCH
                    Which image of a multi-platform index to check
                    (default the host's, linux/amd64 here); for a root,
                    shown in the report, else the one its packages are
                    built for (a warning when the two differ)
  --format FORMAT   text (default), json (docs/report-format.md, with an
                    `image` section) or prometheus
  --rules PATH      Add or override image rules from a YAML file or a
                    directory of them (repeatable; same id replaces)
  --facts           Also list every fact in the text report
  -h, --help        Show this help
  -V, --version     Show the version

Exit status: 0 when the verdict image is true, 1 when false, 3 when
unknown, 2 on a usage or fatal error (an input that is not a root folder).
)";

int Usage(std::ostream& err, const std::string& message) {
  err << "cvm-preflight: image: " << message << " (see 'cvm-preflight image --help')\n";
  return kExitUsage;
}

nlohmann::json ImageJson(const ImageInput& in) {
  nlohmann::json j = {{"input", in.input}, {"root", in.root}, {"kind", in.kind}};
  j["platform"] = in.platform.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.platform);
  j["platform_from"] =
      in.platform.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.platform_from);
  if (in.unpacked) {
    j["manifest_digest"] = in.manifest_digest;
    j["layers"] = in.layers;
    if (!in.reference.empty()) j["reference"] = in.reference;
  }
  return j;
}

// The report's metric families without the node-only ones, plus
// cvm_preflight_image_info.
Families ImageFamilies(const rules::Report& report, const ImageInput& in) {
  Families out;
  for (auto& f : ReportFamilies(report, UnixNow())) {
    if (f.name == "cvm_preflight_node_info" || f.name == "cvm_preflight_runc_1_5_11_era" ||
        f.name == "cvm_preflight_gpu_devices") {
      continue;
    }
    out.push_back(std::move(f));
  }
  prometheus::MetricFamily info;
  info.name = "cvm_preflight_image_info";
  info.help = "The image checked: its input path, kind and platform (empty when unknown); always 1";
  info.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  m.label = {{"input", in.input}, {"kind", in.kind}, {"platform", in.platform}};
  m.gauge.value = 1;
  info.metric.push_back(std::move(m));
  out.push_back(std::move(info));
  out.push_back(BuildInfoFamily());
  return out;
}

}  // namespace

std::string CheckPlatform(const std::string& platform) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : platform + "/") {
    if (c == '/') {
      parts.push_back(part);
      part.clear();
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return "--platform '" + platform + "' has a character other than a-z, 0-9, _ and -";
    part += c;
  }
  if (parts.size() < 2 || parts.size() > 3) {
    return "--platform must be OS/ARCH or OS/ARCH/VARIANT (linux/amd64), not '" + platform + "'";
  }
  for (const auto& p : parts) {
    if (p.empty()) return "--platform '" + platform + "' has an empty part";
  }
  return "";
}

Result<ImageInput> OpenImageInput(const std::string& path, const std::string& platform) {
  auto kind = probe::DetectImageInput(path);
  if (!kind) return kind.error();
  if (*kind == probe::ImageInputKind::kRootfs) {
    ImageInput in;
    in.input = in.root = path;
    in.kind = "rootfs";
    in.platform = platform;
    in.platform_from = platform.empty() ? "" : "option";
    return in;
  }
  // An archive or OCI layout: unpacked into a private folder that lives
  // as long as the ImageInput (probe/image_unpack.h, docs/image-inputs.md).
  probe::UnpackOptions uo;
  uo.platform = platform;
  auto unpacked = probe::UnpackImage(path, uo);
  if (!unpacked) return unpacked.error();
  ImageInput in;
  in.input = path;
  in.unpacked = std::make_shared<probe::UnpackedImage>(std::move(*unpacked));
  const probe::ImageInfo& info = in.unpacked->info();
  in.root = in.unpacked->root();
  in.kind = std::string(probe::ImageInputKindName(info.kind));
  in.platform = info.platform.empty() ? platform : info.platform;
  in.platform_from = !platform.empty() ? "option" : (info.platform.empty() ? "" : "index");
  in.manifest_digest = info.manifest_digest;
  in.reference = info.reference;
  in.layers = info.layers.size();
  return in;
}

int RunImageCommand(Args& args, std::ostream& out, std::ostream& err) {
  std::string input;
  std::string format = "text";
  std::string profile(rules::kDefaultProfile);
  std::string platform;
  std::vector<std::string> rule_paths;
  bool show_facts = false;
  while (!args.Done()) {
    std::string error;
    if (args.Flag("-h") || args.Flag("--help")) {
      out << kImageHelp;
      return kExitOk;
    }
    if (args.Flag("-V") || args.Flag("--version")) {
      out << "cvm-preflight " << kVersion << "\n";
      return kExitOk;
    }
    if (args.Flag("--facts")) {
      show_facts = true;
      continue;
    }
    if (auto v = args.Option("--profile", error)) {
      profile = *v;
      continue;
    }
    if (auto v = args.Option("--platform", error)) {
      platform = *v;
      continue;
    }
    if (auto v = args.Option("--rules", error)) {
      rule_paths.push_back(*v);
      continue;
    }
    if (auto v = args.Option("--format", error)) {
      format = *v;
      continue;
    }
    if (!error.empty()) return Usage(err, error);
    std::string a(args.Peek());
    if (a.size() > 1 && a.front() == '-') return Usage(err, "unknown option '" + a + "'");
    if (!input.empty()) return Usage(err, "one image at a time ('" + input + "', then '" + a + "')");
    input = a;
    args.Flag(a);
  }
  if (input.empty()) return Usage(err, "name the image's root folder (ROOTFS)");
  if (format != "text" && format != "json" && format != "prometheus") {
    return Usage(err, "--format must be text, json or prometheus, not '" + format + "'");
  }
  if (!rules::IsProfile(profile)) {
    return Usage(err, "unknown profile '" + profile +
                          "' (coder-v1, coder-v2, sysbox-0.6, sysbox-0.7)");
  }
  if (!platform.empty()) {
    if (std::string e = CheckPlatform(platform); !e.empty()) return Usage(err, e);
  }
  auto image = OpenImageInput(input, platform);
  if (!image) {
    err << "cvm-preflight: image: " << image.error().message << "\n";
    return kExitUsage;
  }
  auto host = probe::HostRoot::Open(image->root);
  if (!host) {
    err << "cvm-preflight: image: cannot open root " << host.error().message << "\n";
    return kExitUsage;
  }
  rules::RuleSetLoad loaded = rules::LoadImageRuleSet(rule_paths);
  // Nothing is executed in an image (exec_versions stays off).
  rules::Report report = rules::BuildReport(
      probe::RunProbeTable(probe::ImageProbes(), *host), loaded.set, profile,
      std::move(loaded.errors));
  // The platform: as given, else as the image's packages say.
  std::string mismatch;
  if (const std::string* seen = report.facts.GetString(probe::kImagePlatform)) {
    if (image->platform.empty()) {
      image->platform = *seen;
      image->platform_from = "packages";
    } else if (*seen != image->platform) {
      mismatch = "--platform " + image->platform + ", but the image's packages are built for " + *seen;
      err << "cvm-preflight: image: warning: " << mismatch << "\n";
    }
  }
  if (format == "json") {
    nlohmann::json j = ReportToJson(report);
    j["image"] = ImageJson(*image);
    out << DumpJson(j) << "\n";
  } else if (format == "prometheus") {
    out << RenderExposition(ImageFamilies(report, *image));
  } else {
    TextOptions options{UseColor(), show_facts, "image check"};
    WriteTextReport(report, options, out);
    if (!image->platform.empty()) {
      out << "\nPlatform: " << image->platform << " (from the "
          << (image->platform_from == "option" ? "--platform option" : "image's packages") << ")\n";
    }
  }
  return ExitCodeOf(report.selected.Verdict("image")->value);
}

}  // namespace cvm::exporter
