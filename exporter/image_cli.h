#pragma once
// `cvm-preflight image ROOTFS`: judges an unpacked workspace image with the
// image rule set (rules/default/image/, docs/workspace-image.md): the image
// probes (probe/registry.h ImageProbes) over the image's root, the same
// report as `scan` with the one verdict `image` and an `image` section.

#include <optional>
#include <ostream>
#include <memory>
#include <string>

#include "probe/image_unpack.h"

#include "exporter/args.h"
#include "probe/result.h"

namespace cvm::exporter {

// What the command judges: a root folder and what is known of the image.
struct ImageInput {
  std::string input;     // as given on the command line
  std::string root;      // the folder the probes read
  std::string kind;      // "rootfs"
  std::string platform;  // "linux/amd64" when known, else empty
  // "option" (--platform), "index" (the image's own index or config) or
  // "packages" (image.platform); empty with it.
  std::string platform_from;
  std::string manifest_digest;  // archives: the manifest picked
  std::string reference;        // archives: its ref name or repo tag
  std::size_t layers = 0;       // archives: layers applied
  // An archive's private unpacked root, removed when the last copy goes.
  std::shared_ptr<probe::UnpackedImage> unpacked;
};

// Turns the command's argument into a root folder. This build takes an
// unpacked root only (docker export, umoci unpack, buildah mount): a path
// that is not a plain directory, or a directory with an `oci-layout` file,
// is an error saying so. The one place archive unpacking
// (probe::UnpackImage) comes in.
Result<ImageInput> OpenImageInput(const std::string& path, const std::string& platform);

// "linux/amd64", "linux/arm64/v8": OS/ARCH[/VARIANT], lower-case letters,
// digits, '_' and '-'. Returns an error message, empty when valid.
std::string CheckPlatform(const std::string& platform);

int RunImageCommand(Args& args, std::ostream& out, std::ostream& err);

}  // namespace cvm::exporter
