#include "probe/image_unpack.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_set>
#include <utility>

#include "probe/detail/c_free.h"
#include "probe/detail/libarchive.h"
#include "probe/detail/text.h"
#include "probe/detail/unique_fd.h"
#include "probe/host_root.h"
#include "probe/image_layout.h"

namespace cvm::probe {
namespace {

using detail::Cat;
using detail::LibArchive;
using detail::UniqueFd;

// A path in a layer deeper than this is refused, so the recursive removal
// below holds at most this many directory fds (well under the usual 1024).
// Real images nest some 30 levels (node_modules); 4096 is PATH_MAX.
constexpr std::size_t kMaxDepth = 256;
constexpr std::size_t kMaxEntryPath = 4096;
// The JSON documents: image-spec asks manifests to stay under 4 MiB; image
// configs with long histories are larger, but not by this much.
constexpr std::size_t kMaxJson = 16 << 20;
constexpr int kMaxIndexDepth = 4;
constexpr int kMaxMemberLinks = 8;
// Symbolic links followed resolving one entry's folder: Linux's own limit
// for a path lookup (MAXSYMLINKS, 40).
constexpr int kMaxLinks = 40;
constexpr std::size_t kMaxWarnings = 20;
constexpr std::size_t kBlock = 64 << 10;

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, detail::CFree<&EVP_MD_CTX_free>>;

std::string ToHex(const unsigned char* p, unsigned n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

// sha256 or sha512 of what is handed to Update, as "<alg>:<hex>".
class Hasher {
 public:
  explicit Hasher(std::string_view algorithm) : ctx_(EVP_MD_CTX_new()), alg_(algorithm) {
    const EVP_MD* md = algorithm == "sha512" ? EVP_sha512() : EVP_sha256();
    ok_ = ctx_ != nullptr && EVP_DigestInit_ex(ctx_.get(), md, nullptr) == 1;
  }
  void Update(const void* p, std::size_t n) {
    if (ok_ && n > 0) ok_ = EVP_DigestUpdate(ctx_.get(), p, n) == 1;
  }
  std::string Final() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!ok_ || EVP_DigestFinal_ex(ctx_.get(), out, &n) != 1) return "";
    return Cat(alg_, ":", ToHex(out, n));
  }

 private:
  MdCtxPtr ctx_;
  std::string alg_;
  bool ok_ = false;
};

std::string AlgorithmOf(std::string_view digest) {
  return std::string(digest.substr(0, digest.find(':')));
}

// What a libarchive reader pulls its bytes from: a file, or the data of the
// outer archive's current entry (a layer inside an image tarball). Every
// byte handed over is counted and, when `hasher` is set, hashed.
struct ReadClient {
  const LibArchive* la = nullptr;
  int fd = -1;
  struct archive* outer = nullptr;
  bool seekable = false;  // a plain file read without a hash: skip by lseek
  Hasher* hasher = nullptr;
  std::uint64_t total = 0;
  std::vector<char> buf = std::vector<char>(kBlock);
  std::optional<Error> error;
  std::string what;  // names the source in errors
  std::string head;  // the source's first bytes (compression magic)
};

la_ssize_t ReadCb(struct archive*, void* data, const void** out) {
  auto* c = static_cast<ReadClient*>(data);
  la_ssize_t n;
  if (c->outer != nullptr) {
    n = c->la->archive_read_data(c->outer, c->buf.data(), c->buf.size());
    if (n < 0) {
      const char* why = c->la->archive_error_string(c->outer);
      c->error = MakeError(c->what, why != nullptr ? why : "read error in the image archive");
      return -1;
    }
  } else {
    do {
      n = ::read(c->fd, c->buf.data(), c->buf.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      c->error = ErrnoError(errno, c->what);
      return -1;
    }
  }
  if (c->hasher != nullptr) c->hasher->Update(c->buf.data(), static_cast<std::size_t>(n));
  if (c->head.size() < 8) c->head.append(c->buf.data(), std::min<std::size_t>(static_cast<std::size_t>(n), 8 - c->head.size()));
  c->total += static_cast<std::uint64_t>(n);
  *out = c->buf.data();
  return n;
}

la_int64_t SkipCb(struct archive*, void* data, la_int64_t request) {
  auto* c = static_cast<ReadClient*>(data);
  if (!c->seekable || request <= 0) return 0;  // libarchive then reads through
  off_t now = ::lseek(c->fd, 0, SEEK_CUR);
  if (now < 0 || ::lseek(c->fd, request, SEEK_CUR) < 0) return 0;
  c->total += static_cast<std::uint64_t>(request);
  return request;
}

// Reads what the reader left of its source (tar's zero blocks, padding
// after the end marker), so the hash covers the whole blob.
Result<bool> Drain(ReadClient& c) {
  const void* p = nullptr;
  while (true) {
    la_ssize_t n = ReadCb(nullptr, &c, &p);
    if (n < 0) return *c.error;
    if (n == 0) return true;
  }
}

std::string ArchiveError(const LibArchive& la, struct archive* a, std::string_view fallback) {
  const char* why = la.archive_error_string(a);
  return why != nullptr ? std::string(why) : std::string(fallback);
}

// A tar reader (ustar, pax, GNU) over `client`, any of the compressions a
// layer may have. Only in-process decoders: no external programs.
Result<detail::ArchiveReadPtr> OpenReader(const LibArchive& la, ReadClient& client) {
  detail::ArchiveReadPtr a(la.archive_read_new());
  if (!a) return MakeError(client.what, "archive_read_new failed", ENOMEM);
  la.archive_read_support_format_tar(a.get());
  la.archive_read_support_filter_gzip(a.get());
  la.archive_read_support_filter_zstd(a.get());
  la.archive_read_support_filter_xz(a.get());
  la.archive_read_support_filter_bzip2(a.get());
  if (la.archive_read_open2(a.get(), &client, /*open=*/nullptr, ReadCb, SkipCb,
                            /*close=*/nullptr) != ARCHIVE_OK) {
    if (client.error) return *client.error;
    return MakeError(client.what, Cat("not a tar archive: ", ArchiveError(la, a.get(), "unreadable")));
  }
  return a;
}

std::string EntryName(const LibArchive& la, struct archive_entry* e) {
  const char* p = la.archive_entry_pathname(e);
  if (p == nullptr) p = la.archive_entry_pathname_utf8(e);
  return p != nullptr ? std::string(p) : std::string();
}

// Splits an entry name into components: a leading "/" is dropped (as GNU
// tar does), "." and empty components too; ".." is refused.
std::optional<std::vector<std::string>> SplitEntry(std::string_view name) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= name.size()) {
    std::size_t slash = name.find('/', i);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(i, slash - i);
    i = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return std::nullopt;
    out.emplace_back(part);
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n && i < parts.size(); ++i) {
    out += '/';
    out += parts[i];
  }
  return out.empty() ? "/" : out;
}

// Removes `name` in `parent` and, for a directory, all in it. Never follows
// a link: directories are opened O_NOFOLLOW and everything else unlinked.
int RemoveTree(int parent, const std::string& name, std::size_t depth = 0) {
  struct stat st {};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ::unlinkat(parent, name.c_str(), 0) == 0 ? 0 : errno;
  if (depth > kMaxDepth + 8) return ELOOP;
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return errno;
  (void)::fchmod(fd.get(), 0700);  // a folder stored 0555 can still be emptied
  std::vector<std::string> names;
  {
    int listfd = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
    if (listfd < 0) return errno;
    DIR* dir = ::fdopendir(listfd);
    if (dir == nullptr) {
      ::close(listfd);
      return errno;
    }
    while (struct dirent* d = ::readdir(dir)) {
      std::string_view n = d->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(dir);
  }
  int first = 0;
  for (const auto& n : names) {
    int rc = RemoveTree(fd.get(), n, depth + 1);
    if (rc != 0 && first == 0) first = rc;
  }
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && first == 0) first = errno;
  return first;
}

// Applies the entries of one layer onto the folder open as `root_fd`.
class LayerWriter {
 public:
  LayerWriter(int root_fd, const LibArchive& la, const UnpackLimits& limits, ImageInfo& info,
              std::string layer)
      : root_fd_(root_fd), la_(la), limits_(limits), info_(info), layer_(std::move(layer)) {}

  Result<bool> Apply(struct archive* a) {
    while (true) {
      struct archive_entry* e = nullptr;
      int rc = la_.archive_read_next_header(a, &e);
      if (rc == ARCHIVE_EOF) return true;
      if (rc < ARCHIVE_WARN) {
        return Refuse(last_entry_.empty() ? "(the first entry)" : Cat("after ", last_entry_),
                      Cat("unreadable: ", ArchiveError(la_, a, "corrupt archive")));
      }
      auto done = Entry(a, e);
      if (!done) return done.error();
    }
  }

 private:
  Error Refuse(std::string_view entry, std::string_view why, int code = 0) const {
    return MakeError("", Cat("layer ", layer_, ": entry ", entry, ": ", why), code);
  }
  Error RefuseErrno(std::string_view entry, std::string_view doing, int code) const {
    const char* what = strerrordesc_np(code);
    return Refuse(entry, Cat(doing, ": ", what != nullptr ? what : "error", " (", ErrnoName(code), ")"),
                  code);
  }
  void Warn(std::string text) {
    if (info_.warnings.size() < kMaxWarnings) info_.warnings.push_back(std::move(text));
  }
  // A folder of the image, open, with its path inside the root as
  // resolved ("/usr/lib" for an entry under "lib/" when lib -> usr/lib).
  struct Dir {
    UniqueFd fd;
    std::string path;
  };

  // Notes that this layer wrote `name` in `dir` (by its resolved path).
  void Mark(const Dir& dir, const std::string& name) {
    this_layer_.insert(std::hash<std::string_view>{}(Cat(dir.path == "/" ? "" : dir.path, "/", name)));
  }
  bool InThisLayer(std::string_view path) const {
    return this_layer_.count(std::hash<std::string_view>{}(path)) != 0;
  }

  // The folder comps[0..n-1] names, resolved as the container runtimes
  // resolve a layer entry's parent: symbolic links on the way are
  // followed, but inside the root, as if it were "/" (an absolute target
  // starts again at the root, ".." stops at it: containerd's
  // fs.RootPath, Docker's extraction in a chroot). Every step is one
  // component opened from an fd inside the root with
  // O_NOFOLLOW|O_DIRECTORY; a link is read (readlinkat) and its target's
  // components walked the same way, so nothing outside the root is ever
  // opened. Missing folders are made (0755) when `create`. ENOENT (with
  // !create) is returned as such for the caller.
  Result<Dir> Parent(const std::vector<std::string>& comps, std::size_t n, std::string_view entry,
                     bool create) {
    std::string key = Join(comps, n);
    if (cache_fd_.valid() && key == cache_key_) {
      int fd = ::fcntl(cache_fd_.get(), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) return RefuseErrno(entry, "dup", errno);
      return Dir{UniqueFd(fd), cache_path_};
    }
    // What is left to walk, the next component last.
    std::vector<std::string> todo(comps.rbegin() + static_cast<std::ptrdiff_t>(comps.size() - n), comps.rend());
    std::vector<UniqueFd> fds;        // the folders walked, below the root
    std::vector<std::string> names;   // their names: the resolved path
    int links = 0;
    auto at = [&] { return fds.empty() ? root_fd_ : fds.back().get(); };
    auto shown = [&](const std::string& c) { return Cat(Join(names, names.size()) == "/" ? "" : Join(names, names.size()), "/", c); };
    while (!todo.empty()) {
      std::string c = std::move(todo.back());
      todo.pop_back();
      if (c.empty() || c == ".") continue;
      if (c == "..") {  // only from a link's target: entries' ".." are refused before
        if (!names.empty()) {
          names.pop_back();
          fds.pop_back();
        }
        continue;
      }
      int fd = ::openat(at(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(at(), c.c_str(), 0755) != 0 && errno != EEXIST) {
          return RefuseErrno(entry, Cat("making folder ", shown(c)), errno);
        }
        fd = ::openat(at(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        int err = errno;
        if (err == ENOENT) return Error{ENOENT, "", "missing"};
        struct stat st {};
        if (::fstatat(at(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          return RefuseErrno(entry, Cat("opening ", shown(c)), err);
        }
        if (S_ISLNK(st.st_mode)) {
          if (++links > kMaxLinks) {
            return Refuse(entry, Cat("more than ", std::to_string(kMaxLinks),
                                     " symbolic links on the way to its folder (a loop?)"),
                          ELOOP);
          }
          std::string target(kMaxEntryPath + 1, '\0');
          ssize_t len = ::readlinkat(at(), c.c_str(), target.data(), target.size());
          if (len < 0) return RefuseErrno(entry, Cat("reading the link ", shown(c)), errno);
          if (static_cast<std::size_t>(len) > kMaxEntryPath) {
            return Refuse(entry, Cat(shown(c), " is a link to a path longer than 4096 bytes"));
          }
          target.resize(static_cast<std::size_t>(len));
          if (target.empty()) return Refuse(entry, Cat(shown(c), " is a link without a target"), ENOENT);
          if (target.front() == '/') {  // the root's "/", never the host's
            names.clear();
            fds.clear();
          }
          std::size_t end = target.size();
          while (true) {
            std::size_t slash = end == 0 ? std::string::npos : target.rfind('/', end - 1);
            std::size_t from = slash == std::string::npos ? 0 : slash + 1;
            if (end > from) todo.emplace_back(target.substr(from, end - from));
            if (slash == std::string::npos) break;
            end = slash;
          }
          if (todo.size() > kMaxDepth * 4) return Refuse(entry, "symbolic links that expand past 1024 components");
          continue;
        }
        if (!S_ISDIR(st.st_mode)) return Refuse(entry, Cat(shown(c), " is not a folder"), ENOTDIR);
        return RefuseErrno(entry, Cat("opening ", shown(c)), err);
      }
      fds.emplace_back(fd);
      names.push_back(std::move(c));
      if (names.size() > kMaxDepth) return Refuse(entry, "its folder resolves more than 256 levels deep");
    }
    Dir out{UniqueFd(::fcntl(at(), F_DUPFD_CLOEXEC, 0)), Join(names, names.size())};
    if (!out.fd.valid()) return RefuseErrno(entry, "dup", errno);
    int keep = ::fcntl(out.fd.get(), F_DUPFD_CLOEXEC, 0);
    if (keep >= 0) {
      cache_fd_.Reset(keep);
      cache_key_ = key;
      cache_path_ = out.path;
    }
    return out;
  }

  // Makes room for a new entry `name`: what a lower layer (or an earlier
  // entry) put there goes, as a layer's entry replaces the one below it.
  // A folder stays when the new entry is a folder too.
  Result<bool> Clear(int parent, const std::string& name, std::string_view entry, bool keep_dir) {
    struct stat st {};
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return true;
      return RefuseErrno(entry, "stat", errno);
    }
    if (S_ISDIR(st.st_mode)) {
      if (keep_dir) return true;
      cache_fd_.Reset();
      int rc = RemoveTree(parent, name);
      if (rc != 0) return RefuseErrno(entry, "removing the folder it replaces", rc);
      return true;
    }
    // A link replaced may be on the way the cached folder was resolved.
    cache_fd_.Reset();
    if (::unlinkat(parent, name.c_str(), 0) != 0) return RefuseErrno(entry, "removing what it replaces", errno);
    return true;
  }

  Result<bool> Whiteout(const std::vector<std::string>& comps, const std::string& shown) {
    const std::string& name = comps.back();
    auto parent = Parent(comps, comps.size() - 1, shown, /*create=*/false);
    if (!parent) {
      if (parent.error().code == ENOENT) return true;  // nothing below to hide
      return parent.error();
    }
    // The folder as resolved: "lib/.wh.x" with lib -> usr/lib hides /usr/lib/x.
    const std::string& dir = parent->path;
    std::string prefix = dir == "/" ? "/" : Cat(dir, "/");
    if (name == ".wh..wh..opq") {
      // Opaque folder: what lower layers put in it goes; what this layer
      // put there (before or after the marker) stays.
      int listfd = ::fcntl(parent->fd.get(), F_DUPFD_CLOEXEC, 0);
      DIR* d = listfd >= 0 ? ::fdopendir(listfd) : nullptr;
      if (d == nullptr) {
        if (listfd >= 0) ::close(listfd);
        return RefuseErrno(shown, "listing the opaque folder", errno);
      }
      std::vector<std::string> lower;
      while (struct dirent* de = ::readdir(d)) {
        std::string_view n = de->d_name;
        if (n == "." || n == "..") continue;
        if (!InThisLayer(Cat(prefix, n))) lower.emplace_back(n);
      }
      ::closedir(d);
      for (const auto& n : lower) {
        cache_fd_.Reset();
        int rc = RemoveTree(parent->fd.get(), n);
        if (rc != 0 && rc != ENOENT) return RefuseErrno(shown, Cat("removing ", prefix, n), rc);
      }
      return true;
    }
    if (name.rfind(".wh..wh.", 0) == 0) return true;  // aufs metadata (.wh..wh.plnk): not a path
    std::string target = name.substr(4);
    if (target.empty() || target == "." || target == "..") return Refuse(shown, "a whiteout of no name");
    if (InThisLayer(Cat(prefix, target))) return true;  // hides lower layers only
    cache_fd_.Reset();
    int rc = RemoveTree(parent->fd.get(), target);
    if (rc != 0 && rc != ENOENT) return RefuseErrno(shown, Cat("removing ", prefix, target), rc);
    return true;
  }

  Result<bool> WriteData(struct archive* a, int fd, std::int64_t size, std::string_view shown) {
    while (true) {
      const void* buf = nullptr;
      std::size_t len = 0;
      la_int64_t off = 0;
      int rc = la_.archive_read_data_block(a, &buf, &len, &off);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) return Refuse(shown, Cat("unreadable data: ", ArchiveError(la_, a, "corrupt archive")));
      if (off < 0 || static_cast<std::uint64_t>(off) + len > static_cast<std::uint64_t>(size)) {
        return Refuse(shown, "data past the size its header gives");
      }
      const char* p = static_cast<const char*>(buf);
      while (len > 0) {
        ssize_t n = ::pwrite(fd, p, len, off);
        if (n < 0) {
          if (errno == EINTR) continue;
          return RefuseErrno(shown, "writing", errno);
        }
        p += n;
        len -= static_cast<std::size_t>(n);
        off += n;
      }
    }
    // Holes at the end of a sparse file, and a file that ends in one.
    if (::ftruncate(fd, size) != 0) return RefuseErrno(shown, "setting the size", errno);
    return true;
  }

  Result<bool> Entry(struct archive* a, struct archive_entry* e) {
    std::string raw = EntryName(la_, e);
    std::string shown = raw.empty() ? std::string("(no name)") : raw.substr(0, 300);
    last_entry_ = shown;
    ++info_.entries;
    if (info_.entries > limits_.max_entries) {
      return Refuse(shown, Cat("more than ", std::to_string(limits_.max_entries),
                               " entries in the image (the entry limit)"));
    }
    if (raw.empty()) return Refuse(shown, "an entry without a name");
    if (raw.size() > kMaxEntryPath) return Refuse(shown, "a name longer than 4096 bytes");
    auto split = SplitEntry(raw);
    if (!split) return Refuse(shown, "a \"..\" component: it would leave the image's root");
    auto& comps = *split;
    unsigned type = la_.archive_entry_filetype(e);
    const char* hardlink = la_.archive_entry_hardlink(e);
    if (comps.empty()) {
      // "./" or "/": the root itself; its mode is the folder's own (0700).
      if (type == AE_IFDIR && hardlink == nullptr) return true;
      return Refuse(shown, "names the image's root but is not a folder");
    }
    if (comps.size() > kMaxDepth) return Refuse(shown, "more than 256 levels of folders");
    for (const auto& c : comps) {
      if (c.size() > 255) return Refuse(shown, "a name component longer than 255 bytes");
    }
    const std::string& name = comps.back();
    if (name.rfind(".wh.", 0) == 0) return Whiteout(comps, shown);

    if (hardlink != nullptr) return HardLink(comps, hardlink, shown);
    mode_t perm = static_cast<mode_t>(la_.archive_entry_perm(e)) & 0777;  // no setuid, setgid, sticky
    switch (type) {
      case AE_IFDIR: {
        auto parent = Parent(comps, comps.size() - 1, shown, /*create=*/true);
        if (!parent) return parent.error();
        Mark(*parent, name);
        auto cleared = Clear(parent->fd.get(), name, shown, /*keep_dir=*/true);
        if (!cleared) return cleared.error();
        // Owner rwx always, so this process (and its clean-up) can fill and
        // empty it when not root; the other bits are as stored.
        mode_t dmode = perm | 0700;
        if (::mkdirat(parent->fd.get(), name.c_str(), dmode) != 0 && errno != EEXIST) {
          return RefuseErrno(shown, "making the folder", errno);
        }
        UniqueFd fd(::openat(parent->fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid()) return RefuseErrno(shown, "opening the folder", errno);
        if (::fchmod(fd.get(), dmode) != 0) return RefuseErrno(shown, "chmod", errno);
        return true;
      }
      case AE_IFREG: {
        if (la_.archive_entry_size_is_set(e) == 0) return Refuse(shown, "a file without a size");
        std::int64_t size = la_.archive_entry_size(e);
        if (size < 0) return Refuse(shown, "a negative size");
        auto usize = static_cast<std::uint64_t>(size);
        if (usize > limits_.max_bytes || info_.bytes + usize > limits_.max_bytes) {
          std::string sparse = la_.archive_entry_sparse_count(e) > 0 ? " (sparse)" : "";
          return Refuse(shown, Cat("a file of ", std::to_string(usize), " bytes", sparse,
                                   " would take the image past ", std::to_string(limits_.max_bytes),
                                   " bytes (the size limit); nothing of it was written"),
                        EFBIG);
        }
        auto parent = Parent(comps, comps.size() - 1, shown, /*create=*/true);
        if (!parent) return parent.error();
        Mark(*parent, name);
        auto cleared = Clear(parent->fd.get(), name, shown, /*keep_dir=*/false);
        if (!cleared) return cleared.error();
        UniqueFd fd(::openat(parent->fd.get(), name.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd.valid()) return RefuseErrno(shown, "creating the file", errno);
        info_.bytes += usize;
        auto wrote = WriteData(a, fd.get(), size, shown);
        if (!wrote) return wrote.error();
        if (::fchmod(fd.get(), perm) != 0) return RefuseErrno(shown, "chmod", errno);
        return true;
      }
      case AE_IFLNK: {
        const char* target = la_.archive_entry_symlink(e);
        if (target == nullptr || target[0] == '\0') return Refuse(shown, "a symbolic link without a target");
        auto parent = Parent(comps, comps.size() - 1, shown, /*create=*/true);
        if (!parent) return parent.error();
        Mark(*parent, name);
        auto cleared = Clear(parent->fd.get(), name, shown, /*keep_dir=*/false);
        if (!cleared) return cleared.error();
        // Stored as is (absolute targets are normal: /sbin/init ->
        // /lib/systemd/systemd); HostRoot resolves them inside the root.
        if (::symlinkat(target, parent->fd.get(), name.c_str()) != 0) {
          return RefuseErrno(shown, "making the symbolic link", errno);
        }
        cache_fd_.Reset();  // later entries under it resolve through it
        return true;
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
      case AE_IFSOCK: {
        ++info_.skipped_special;
        const char* kind = type == AE_IFCHR   ? "character device"
                           : type == AE_IFBLK ? "block device"
                           : type == AE_IFIFO ? "FIFO"
                                              : "socket";
        Warn(Cat("layer ", layer_, ": entry ", shown, ": a ", kind, ", not created"));
        return true;
      }
      default:
        return Refuse(shown, "an entry of unknown type");
    }
  }

  Result<bool> HardLink(const std::vector<std::string>& comps, const char* target_raw,
                        const std::string& shown) {
    auto tsplit = SplitEntry(target_raw);
    std::string tshown = std::string(target_raw).substr(0, 300);
    if (!tsplit) return Refuse(shown, Cat("a hard link to ", tshown, ", outside the image's root"));
    auto& tcomps = *tsplit;
    if (tcomps.empty()) return Refuse(shown, "a hard link to the image's root");
    if (tcomps.size() > kMaxDepth) return Refuse(shown, "a hard link target more than 256 levels deep");
    if (tcomps == comps) return Refuse(shown, "a hard link to itself");
    auto missing = [&] { return Refuse(shown, Cat("a hard link to ", tshown, ", which is not in the image"), ENOENT); };
    auto tparent = Parent(tcomps, tcomps.size() - 1, shown, /*create=*/false);
    if (!tparent) return tparent.error().code == ENOENT ? missing() : tparent.error();
    struct stat st {};
    if (::fstatat(tparent->fd.get(), tcomps.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return missing();
      return RefuseErrno(shown, Cat("stat of the link target ", tshown), errno);
    }
    if (S_ISDIR(st.st_mode)) return Refuse(shown, Cat("a hard link to the folder ", tshown));
    auto parent = Parent(comps, comps.size() - 1, shown, /*create=*/true);
    if (!parent) return parent.error();
    Mark(*parent, comps.back());
    auto cleared = Clear(parent->fd.get(), comps.back(), shown, /*keep_dir=*/false);
    if (!cleared) return cleared.error();
    // Flags 0: a link target that is a symbolic link is linked itself,
    // not followed.
    if (::linkat(tparent->fd.get(), tcomps.back().c_str(), parent->fd.get(), comps.back().c_str(), 0) != 0) {
      return RefuseErrno(shown, Cat("linking to ", tshown), errno);
    }
    return true;
  }

  int root_fd_;
  const LibArchive& la_;
  const UnpackLimits& limits_;
  ImageInfo& info_;
  std::string layer_;
  std::string last_entry_;
  // Hashes of the paths this layer wrote: whiteouts hide lower layers
  // only (image-spec layer.md). Hashes, not paths, to keep a million-entry
  // layer's memory small; a collision can only keep a lower file a
  // whiteout should have hidden.
  std::unordered_set<std::size_t> this_layer_;
  // The last folder Parent resolved: entries come folder by folder.
  UniqueFd cache_fd_;
  std::string cache_key_;
  std::string cache_path_;
};

// The entry and size limits, checked on a layer's headers alone (the data
// skipped, by lseek where the layer is a plain file) before anything of it
// is written: a million-entry bomb is refused in the time it takes to read
// its headers, not after a million files were made and removed. The apply
// pass counts again (the source is read twice); an unreadable layer is
// left to it, which names the entry.
Result<bool> PreCount(const LibArchive& la, struct archive* a, const UnpackLimits& limits,
                      const ImageInfo& info, std::string_view layer) {
  std::uint64_t entries = info.entries;
  std::uint64_t bytes = info.bytes;
  auto refuse = [&](struct archive_entry* e, std::string_view why, int code) {
    std::string raw = EntryName(la, e);
    std::string shown = raw.empty() ? std::string("(no name)") : raw.substr(0, 300);
    return MakeError("", Cat("layer ", layer, ": entry ", shown, ": ", why,
                             "; its headers were counted before anything of it was written"),
                     code);
  };
  while (true) {
    struct archive_entry* e = nullptr;
    int rc = la.archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF || rc < ARCHIVE_WARN) return true;
    if (++entries > limits.max_entries) {
      return refuse(e, Cat("more than ", std::to_string(limits.max_entries),
                           " entries in the image (the entry limit)"),
                    E2BIG);
    }
    if (la.archive_entry_filetype(e) != AE_IFREG || la.archive_entry_hardlink(e) != nullptr ||
        la.archive_entry_size_is_set(e) == 0) {
      continue;
    }
    std::int64_t size = la.archive_entry_size(e);
    if (size < 0) continue;  // the apply pass refuses it by name
    auto usize = static_cast<std::uint64_t>(size);
    if (usize > limits.max_bytes || bytes + usize > limits.max_bytes) {
      std::string sparse = la.archive_entry_sparse_count(e) > 0 ? " (sparse)" : "";
      return refuse(e, Cat("a file of ", std::to_string(usize), " bytes", sparse, " would take the image past ",
                           std::to_string(limits.max_bytes), " bytes (the size limit); nothing of it was written"),
                    EFBIG);
    }
    bytes += usize;
  }
}

// Where the blobs of an image come from: a folder (an OCI layout) or a tar
// of one (an OCI archive, a docker save), by member path
// ("blobs/sha256/<hex>", "manifest.json").
class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Hands `use` a client reading the member; `hasher` sees every byte.
  virtual Result<bool> Stream(const std::string& member, Hasher* hasher,
                              const std::function<Result<bool>(ReadClient&)>& use) = 0;
  virtual const std::string& Name() const = 0;

  Result<std::string> ReadSmall(const std::string& member, std::size_t cap, Hasher* hasher) {
    std::string out;
    auto ok = Stream(member, hasher, [&](ReadClient& c) -> Result<bool> {
      const void* p = nullptr;
      while (true) {
        la_ssize_t n = ReadCb(nullptr, &c, &p);
        if (n < 0) return *c.error;
        if (n == 0) return true;
        if (out.size() + static_cast<std::size_t>(n) > cap) {
          return MakeError(Cat(Name(), ":", member), Cat("larger than ", std::to_string(cap), " bytes"), EFBIG);
        }
        out.append(static_cast<const char*>(p), static_cast<std::size_t>(n));
      }
    });
    if (!ok) return ok.error();
    return out;
  }
};

class DirStore final : public BlobStore {
 public:
  DirStore(std::string path, const LibArchive& la) : path_(std::move(path)), la_(la) {}
  const std::string& Name() const override { return path_; }
  Result<bool> Stream(const std::string& member, Hasher* hasher,
                      const std::function<Result<bool>(ReadClient&)>& use) override {
    auto norm = NormalizeMemberPath(member);
    std::string shown = Cat(path_, "/", member);
    if (!norm || norm->empty()) return MakeError(shown, "a path that leaves the layout");
    // The layout is the user's own input, so links inside it are followed
    // (by the kernel); the last component must be a regular file, and a
    // FIFO is never opened for reading (O_NONBLOCK, then fstat).
    UniqueFd fd(::open(Cat(path_, "/", *norm).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) return ErrnoError(errno, shown);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, shown);
    if (!S_ISREG(st.st_mode)) return MakeError(shown, "not a regular file");
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags >= 0) (void)::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    ReadClient c;
    c.la = &la_;
    c.fd = fd.get();
    c.hasher = hasher;
    c.seekable = hasher == nullptr;  // nothing to hash: skip data by lseek
    c.what = shown;
    return use(c);
  }

 private:
  std::string path_;
  const LibArchive& la_;
};

// The member a symbolic link in an archive names, relative to the link's
// folder ("a/layer.tar" -> "../b.tar" is "b.tar"); std::nullopt when it
// climbs above the archive's top.
std::optional<std::string> LinkTarget(const std::string& link, std::string_view target) {
  std::vector<std::string> parts;
  if (target.empty() || target[0] != '/') {
    auto dir = SplitEntry(link);
    if (!dir) return std::nullopt;
    parts = std::move(*dir);
    if (!parts.empty()) parts.pop_back();
  }
  std::size_t i = 0;
  while (i <= target.size()) {
    std::size_t slash = target.find('/', i);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view part = target.substr(i, slash - i);
    i = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  std::string out;
  for (const auto& p : parts) out += Cat(out.empty() ? "" : "/", p);
  return out;
}

// A tar, read from its start for each member (skipping by lseek when it is
// not compressed), so nothing of it is copied to disk.
class TarStore final : public BlobStore {
 public:
  TarStore(std::string path, const LibArchive& la) : path_(std::move(path)), la_(la) {}
  const std::string& Name() const override { return path_; }

  Result<bool> Stream(const std::string& member, Hasher* hasher,
                      const std::function<Result<bool>(ReadClient&)>& use) override {
    auto norm = NormalizeMemberPath(member);
    if (!norm || norm->empty()) return MakeError(Cat(path_, ":", member), "a path that leaves the archive");
    std::string want = *norm;
    for (int hop = 0; hop <= kMaxMemberLinks; ++hop) {
      UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
      if (!fd.valid()) return ErrnoError(errno, path_);
      ReadClient outer;
      outer.la = &la_;
      outer.fd = fd.get();
      outer.seekable = true;
      outer.what = path_;
      auto a = OpenReader(la_, outer);
      if (!a) return a.error();
      std::optional<std::string> next;
      while (true) {
        struct archive_entry* e = nullptr;
        int rc = la_.archive_read_next_header(a->get(), &e);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) {
          if (outer.error) return *outer.error;
          return MakeError(path_, Cat("unreadable: ", ArchiveError(la_, a->get(), "corrupt archive")));
        }
        auto name = NormalizeMemberPath(EntryName(la_, e));
        if (!name || *name != want) continue;
        // docker save writes a layer that two images share once and links
        // the other name to it (`<id>/layer.tar -> ../<id2>/layer.tar`).
        if (const char* hl = la_.archive_entry_hardlink(e)) {
          next = NormalizeMemberPath(hl);
        } else if (la_.archive_entry_filetype(e) == AE_IFLNK) {
          const char* target = la_.archive_entry_symlink(e);
          if (target != nullptr) next = LinkTarget(want, target);
        } else if (la_.archive_entry_filetype(e) != AE_IFREG) {
          return MakeError(Cat(path_, ":", want), "not a regular file");
        } else {
          ReadClient inner;
          inner.la = &la_;
          inner.outer = a->get();
          inner.hasher = hasher;
          inner.what = Cat(path_, ":", want);
          return use(inner);
        }
        if (!next || next->empty()) return MakeError(Cat(path_, ":", want), "a link that leaves the archive");
        break;
      }
      if (!next) return MakeError(Cat(path_, ":", want), "not in the archive", ENOENT);
      want = *next;
    }
    return MakeError(Cat(path_, ":", member), "too many links", ELOOP);
  }

 private:
  std::string path_;
  const LibArchive& la_;
};

// What UnpackImage applies: the layers in order, each with what its digest
// must be.
struct LayerPlan {
  std::string member;       // path in the store
  std::string shown;        // the layer's name in messages (digest or path)
  std::string digest;       // of the blob as stored; "" = check `diff_id`
  std::int64_t size = -1;   // the descriptor's, -1 when none
  std::string diff_id;      // docker-archive: the uncompressed tar's digest
};
struct Plan {
  ImageInfo info;
  std::vector<LayerPlan> layers;
};

Result<std::string> ReadBlob(BlobStore& store, const Descriptor& d, std::string_view what) {
  if (d.size > static_cast<std::int64_t>(kMaxJson)) {
    return MakeError(Cat(store.Name(), ":", BlobPath(d.digest)),
                     Cat(what, " of ", std::to_string(d.size), " bytes is over the 16 MiB the unpacker reads"));
  }
  Hasher h(AlgorithmOf(d.digest));
  auto text = store.ReadSmall(BlobPath(d.digest), kMaxJson, &h);
  if (!text) return text.error();
  std::string got = h.Final();
  if (got != d.digest) {
    return MakeError(Cat(store.Name(), ":", BlobPath(d.digest)), Cat(what, ": digest mismatch: content is ", got));
  }
  if (static_cast<std::int64_t>(text->size()) != d.size) {
    return MakeError(Cat(store.Name(), ":", BlobPath(d.digest)),
                     Cat(what, ": ", std::to_string(text->size()), " bytes, the descriptor says ",
                         std::to_string(d.size)));
  }
  return text;
}

struct Chosen {
  Descriptor manifest;
  OciManifest parsed;
  ImagePlatform platform;
  std::string ref_name;
};

// Walks an index (nested ones too) for the first image of `want`.
Result<std::optional<Chosen>> Choose(BlobStore& store, const std::vector<Descriptor>& index,
                                     const ImagePlatform& want, const std::string& reference, int depth,
                                     std::vector<std::string>& seen) {
  for (const auto& d : index) {
    if (depth == 0 && !reference.empty() && d.ref_name != reference) continue;
    if (IsIndexType(d.media_type)) {
      if (depth >= kMaxIndexDepth) return MakeError(store.Name(), "indexes nested more than 4 deep");
      auto text = ReadBlob(store, d, "nested index");
      if (!text) return text.error();
      auto nested = ParseOciIndex(*text, BlobPath(d.digest));
      if (!nested) return nested.error();
      auto got = Choose(store, *nested, want, reference, depth + 1, seen);
      if (!got) return got.error();
      if (*got) {
        if ((*got)->ref_name.empty()) (*got)->ref_name = d.ref_name;
        return got;
      }
      continue;
    }
    if (!d.media_type.empty() && !IsManifestType(d.media_type)) continue;  // artifacts
    if (d.platform && !d.platform->architecture.empty()) {
      seen.push_back(PlatformString(*d.platform));
      if (!PlatformMatches(want, *d.platform)) continue;
    }
    auto text = ReadBlob(store, d, "manifest");
    if (!text) return text.error();
    auto m = ParseOciManifest(*text, BlobPath(d.digest));
    if (!m) return m.error();
    auto ctext = ReadBlob(store, m->config, "config");
    if (!ctext) return ctext.error();
    auto config = ParseImageConfig(*ctext, BlobPath(m->config.digest));
    if (!config) return config.error();
    if (!d.platform || d.platform->architecture.empty()) {
      // No platform in the index (buildah's oci: layouts): the config's.
      seen.push_back(PlatformString(config->platform));
      if (!PlatformMatches(want, config->platform)) continue;
    }
    return std::optional<Chosen>(Chosen{d, std::move(*m), d.platform ? *d.platform : config->platform, d.ref_name});
  }
  return std::optional<Chosen>();
}

std::string SeenList(const std::vector<std::string>& seen) {
  if (seen.empty()) return "it has no images";
  std::string out = "it has ";
  std::vector<std::string> uniq;
  for (const auto& s : seen) {
    bool dup = false;
    for (const auto& u : uniq) dup = dup || u == s;
    if (!dup) uniq.push_back(s);
  }
  for (std::size_t i = 0; i < uniq.size(); ++i) out += Cat(i ? ", " : "", uniq[i]);
  return out;
}

Result<Plan> PlanOci(BlobStore& store, ImageInputKind kind, const ImagePlatform& want,
                     const std::string& reference) {
  auto text = store.ReadSmall("index.json", kMaxJson, nullptr);
  if (!text) return text.error();
  auto index = ParseOciIndex(*text, Cat(store.Name(), ":index.json"));
  if (!index) return index.error();
  std::vector<std::string> seen;
  auto chosen = Choose(store, *index, want, reference, 0, seen);
  if (!chosen) return chosen.error();
  if (!*chosen) {
    std::string ref = reference.empty() ? "" : Cat(" named ", reference);
    return MakeError(store.Name(), Cat("no image", ref, " for platform ", PlatformString(want), " (",
                                       SeenList(seen), "); pick one with the platform option"),
                     ENOENT);
  }
  Chosen& c = **chosen;
  Plan plan;
  plan.info.kind = kind;
  plan.info.platform = PlatformString(c.platform);
  plan.info.manifest_digest = c.manifest.digest;
  plan.info.reference = c.ref_name;
  for (const auto& l : c.parsed.layers) {
    if (!IsLayerType(l.media_type)) {
      return MakeError(Cat(store.Name(), ":", BlobPath(l.digest)),
                       Cat("layer of media type ", l.media_type.substr(0, 100), ", which the unpacker cannot apply"));
    }
    plan.info.layers.push_back(l.digest);
    plan.layers.push_back(LayerPlan{BlobPath(l.digest), l.digest, l.digest, l.size, ""});
  }
  return plan;
}

// "<hex>.json" or "blobs/sha256/<hex>": the name is the content's digest.
std::string DigestFromName(std::string_view member) {
  auto norm = NormalizeMemberPath(member);
  if (!norm) return "";
  std::string_view n = *norm;
  if (n.rfind("blobs/sha256/", 0) == 0) n.remove_prefix(13);
  if (n.size() > 5 && n.substr(n.size() - 5) == ".json") n.remove_suffix(5);
  if (n.size() > 4 && n.substr(n.size() - 4) == ".tar") n.remove_suffix(4);
  std::string d = Cat("sha256:", n);
  return ValidDigest(d) ? d : "";
}

Result<Plan> PlanDocker(BlobStore& store, const ImagePlatform& want, const std::string& reference) {
  auto text = store.ReadSmall("manifest.json", kMaxJson, nullptr);
  if (!text) return text.error();
  auto images = ParseDockerManifest(*text);
  if (!images) return MakeError(store.Name(), images.error().message);
  const DockerImage* img = nullptr;
  for (const auto& i : *images) {
    if (reference.empty()) {
      img = &i;
      break;
    }
    for (const auto& t : i.repo_tags) {
      if (t == reference && img == nullptr) img = &i;
    }
  }
  if (img == nullptr) return MakeError(store.Name(), Cat("manifest.json has no image tagged ", reference), ENOENT);
  std::string config_digest = DigestFromName(img->config);
  Hasher h("sha256");
  auto ctext = store.ReadSmall(img->config, kMaxJson, &h);
  if (!ctext) return ctext.error();
  std::string got = h.Final();
  if (!config_digest.empty() && got != config_digest) {
    return MakeError(Cat(store.Name(), ":", img->config), Cat("config: digest mismatch: content is ", got));
  }
  auto config = ParseImageConfig(*ctext, Cat(store.Name(), ":", img->config));
  if (!config) return config.error();
  if (!PlatformMatches(want, config->platform)) {
    return MakeError(store.Name(), Cat("no image for platform ", PlatformString(want), " (it has ",
                                       PlatformString(config->platform), "); pick one with the platform option"),
                     ENOENT);
  }
  if (config->diff_ids.size() != img->layers.size()) {
    return MakeError(Cat(store.Name(), ":", img->config),
                     Cat("rootfs.diff_ids lists ", std::to_string(config->diff_ids.size()), " layers, manifest.json ",
                         std::to_string(img->layers.size())));
  }
  Plan plan;
  plan.info.kind = ImageInputKind::kDockerArchive;
  plan.info.platform = PlatformString(config->platform);
  plan.info.manifest_digest = got;
  plan.info.reference = img->repo_tags.empty() ? "" : img->repo_tags.front();
  for (std::size_t i = 0; i < img->layers.size(); ++i) {
    const std::string& l = img->layers[i];
    if (!ValidDigest(config->diff_ids[i])) {
      return MakeError(Cat(store.Name(), ":", img->config), Cat("rootfs.diff_ids[", std::to_string(i), "] is not a digest"));
    }
    plan.info.layers.push_back(l);
    // A blob named by its digest (newer saves) must match its name; an
    // uncompressed layer.tar (older saves) its diff_id.
    plan.layers.push_back(LayerPlan{l, l, DigestFromName(l), -1, config->diff_ids[i]});
  }
  return plan;
}

bool IsCompressed(const unsigned char* p, std::size_t n) {
  return (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||                                // gzip
         (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) ||  // zstd
         (n >= 6 && p[0] == 0xfd && p[1] == '7' && p[2] == 'z' && p[3] == 'X') ||    // xz
         (n >= 3 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h');                       // bzip2
}

Result<bool> ApplyPlanned(UnpackedImage& image, int root_fd, const LibArchive& la, BlobStore& store,
                          const LayerPlan& layer, const UnpackLimits& limits, ImageInfo& info) {
  std::string alg = layer.digest.empty() ? AlgorithmOf(layer.diff_id) : AlgorithmOf(layer.digest);
  Hasher hasher(alg);
  (void)image;
  std::string head;
  std::uint64_t total = 0;
  auto counted = store.Stream(layer.member, nullptr, [&](ReadClient& c) -> Result<bool> {
    auto a = OpenReader(la, c);
    if (!a) return MakeError("", Cat("layer ", layer.shown, ": ", a.error().message), a.error().code);
    return PreCount(la, a->get(), limits, info, layer.shown);
  });
  if (!counted) return counted.error();
  auto applied = store.Stream(layer.member, &hasher, [&](ReadClient& c) -> Result<bool> {
    auto a = OpenReader(la, c);
    if (!a) return MakeError("", Cat("layer ", layer.shown, ": ", a.error().message), a.error().code);
    LayerWriter writer(root_fd, la, limits, info, layer.shown);
    auto ok = writer.Apply(a->get());
    if (!ok) {
      if (c.error) return MakeError("", Cat("layer ", layer.shown, ": ", c.error->message), c.error->code);
      return ok.error();
    }
    auto drained = Drain(c);
    if (!drained) return MakeError("", Cat("layer ", layer.shown, ": ", drained.error().message));
    total = c.total;
    head = c.head;
    return true;
  });
  if (!applied) return applied.error();
  std::string got = hasher.Final();
  if (!layer.digest.empty()) {
    if (got != layer.digest) {
      return MakeError("", Cat("layer ", layer.shown, ": digest mismatch: the blob's content is ", got,
                               "; the unpacked tree was removed"));
    }
    if (layer.size >= 0 && total != static_cast<std::uint64_t>(layer.size)) {
      return MakeError("", Cat("layer ", layer.shown, ": ", std::to_string(total), " bytes, the manifest says ",
                               std::to_string(layer.size)));
    }
    return true;
  }
  if (got == layer.diff_id) return true;
  if (IsCompressed(reinterpret_cast<const unsigned char*>(head.data()), head.size())) {
    // diff_ids are digests of the uncompressed tar; a compressed layer.tar
    // not named by its digest cannot be checked in the same pass.
    if (info.warnings.size() < kMaxWarnings) {
      info.warnings.push_back(Cat("layer ", layer.shown, ": compressed and not named by its digest: not verified"));
    }
    return true;
  }
  return MakeError("", Cat("layer ", layer.shown, ": digest mismatch: the layer's content is ", got,
                           ", rootfs.diff_ids says ", layer.diff_id, "; the unpacked tree was removed"));
}

}  // namespace

std::string_view ImageInputKindName(ImageInputKind kind) {
  switch (kind) {
    case ImageInputKind::kRootfs: return "rootfs";
    case ImageInputKind::kDockerArchive: return "docker-archive";
    case ImageInputKind::kOciLayout: return "oci-layout";
    case ImageInputKind::kOciArchive: return "oci-archive";
  }
  return "unknown";
}

Result<ImageInputKind> DetectImageInput(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, path);
  if (S_ISDIR(st.st_mode)) {
    auto dir = HostRoot::Open(path);
    if (!dir) return dir.error();
    auto layout = dir->Lstat("/oci-layout");
    if (layout && layout->type == FileType::kRegular) return ImageInputKind::kOciLayout;
    return ImageInputKind::kRootfs;
  }
  if (!S_ISREG(st.st_mode)) return MakeError(path, "neither a folder nor an image archive");
  auto la = detail::LoadLibArchive();
  if (!la) return MakeError(path, la.error().message);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return ErrnoError(errno, path);
  ReadClient c;
  c.la = *la;
  c.fd = fd.get();
  c.seekable = true;
  c.what = path;
  auto a = OpenReader(**la, c);
  if (!a) return a.error();
  bool docker = false;
  for (std::uint64_t n = 0; n < kDefaultMaxUnpackEntries; ++n) {
    struct archive_entry* e = nullptr;
    int rc = (*la)->archive_read_next_header(a->get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      if (c.error) return *c.error;
      return MakeError(path, Cat("unreadable: ", ArchiveError(**la, a->get(), "corrupt archive")));
    }
    auto name = NormalizeMemberPath(EntryName(**la, e));
    if (!name) continue;
    if (*name == "oci-layout" || *name == "index.json") return ImageInputKind::kOciArchive;
    if (*name == "manifest.json") docker = true;
  }
  if (docker) return ImageInputKind::kDockerArchive;
  return MakeError(path, "a tar archive with neither index.json (OCI) nor manifest.json (docker save)");
}

UnpackedImage::UnpackedImage(UnpackedImage&& other) noexcept
    : root_(std::exchange(other.root_, std::string())),
      owned_(std::exchange(other.owned_, false)),
      info_(std::move(other.info_)) {}

UnpackedImage& UnpackedImage::operator=(UnpackedImage&& other) noexcept {
  if (this != &other) {
    Remove();
    root_ = std::exchange(other.root_, std::string());
    owned_ = std::exchange(other.owned_, false);
    info_ = std::move(other.info_);
  }
  return *this;
}

UnpackedImage::~UnpackedImage() { Remove(); }

void UnpackedImage::Remove() noexcept {
  if (!owned_ || root_.empty()) return;
  std::size_t slash = root_.rfind('/');
  std::string dir = slash == 0 ? "/" : root_.substr(0, slash);
  UniqueFd parent(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (parent.valid()) (void)RemoveTree(parent.get(), root_.substr(slash + 1));
  owned_ = false;
}

Result<UnpackedImage> UnpackedImage::CreateEmpty(const std::string& tmp_dir) {
  std::string base = tmp_dir;
  if (base.empty()) {
    const char* env = std::getenv("TMPDIR");
    base = env != nullptr && env[0] == '/' ? env : "/tmp";
  }
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string templ = Cat(base == "/" ? "" : base, "/cvm-image-XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) return ErrnoError(errno, base);
  return UnpackedImage(std::move(templ), /*owned=*/true);
}

Result<bool> UnpackedImage::ApplyLayer(std::string_view layer_name, std::string_view tar_bytes,
                                       const UnpackLimits& limits) {
  auto la = detail::LoadLibArchive();
  if (!la) return la.error();
  UniqueFd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoError(errno, root_);
  // An in-memory source through a pipe would need a thread; a memfd is a
  // file libarchive reads like any other.
  UniqueFd mem(::memfd_create("cvm-layer", MFD_CLOEXEC));
  if (!mem.valid()) return ErrnoError(errno, "memfd");
  std::string_view rest = tar_bytes;
  while (!rest.empty()) {
    ssize_t n = ::write(mem.get(), rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "memfd");
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::lseek(mem.get(), 0, SEEK_SET) != 0) return ErrnoError(errno, "memfd");
  {
    ReadClient c;
    c.la = *la;
    c.fd = mem.get();
    c.seekable = true;
    c.what = std::string(layer_name);
    auto a = OpenReader(**la, c);
    if (!a) return MakeError("", Cat("layer ", layer_name, ": ", a.error().message), a.error().code);
    auto counted = PreCount(**la, a->get(), limits, info_, layer_name);
    if (!counted) return counted.error();
  }
  if (::lseek(mem.get(), 0, SEEK_SET) != 0) return ErrnoError(errno, "memfd");
  ReadClient c;
  c.la = *la;
  c.fd = mem.get();
  c.what = std::string(layer_name);
  auto a = OpenReader(**la, c);
  if (!a) return MakeError("", Cat("layer ", layer_name, ": ", a.error().message), a.error().code);
  LayerWriter writer(root.get(), **la, limits, info_, std::string(layer_name));
  return writer.Apply(a->get());
}

Result<UnpackedImage> UnpackImage(const std::string& path, const UnpackOptions& options) {
  auto kind = DetectImageInput(path);
  if (!kind) return kind.error();
  if (*kind == ImageInputKind::kRootfs) {
    UnpackedImage image(path, /*owned=*/false);
    image.info_.kind = ImageInputKind::kRootfs;
    return image;
  }
  auto la = detail::LoadLibArchive();
  if (!la) return la.error();
  ImagePlatform want = HostPlatform();
  if (!options.platform.empty()) {
    auto p = ParsePlatform(options.platform);
    if (!p) return p.error();
    want = *p;
  }
  std::unique_ptr<BlobStore> store;
  if (*kind == ImageInputKind::kOciLayout) {
    store = std::make_unique<DirStore>(path, **la);
  } else {
    store = std::make_unique<TarStore>(path, **la);
  }
  auto plan = *kind == ImageInputKind::kDockerArchive ? PlanDocker(*store, want, options.reference)
                                                      : PlanOci(*store, *kind, want, options.reference);
  if (!plan) return plan.error();
  auto image = UnpackedImage::CreateEmpty(options.tmp_dir);
  if (!image) return image.error();
  UniqueFd root(::open(image->root_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) return ErrnoError(errno, image->root_);
  image->info_ = std::move(plan->info);
  for (const auto& layer : plan->layers) {
    // On an error `image` goes out of scope here: the folder is removed.
    auto ok = ApplyPlanned(*image, root.get(), **la, *store, layer, options.limits, image->info_);
    if (!ok) return ok.error();
  }
  return std::move(*image);
}

}  // namespace cvm::probe
