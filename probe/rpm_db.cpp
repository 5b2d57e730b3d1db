#include "probe/rpm_db.h"

#include <fcntl.h>
#include <rpm/rpmtag.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>

#include "probe/child.h"
#include "probe/detail/librpm.h"
#include "probe/scratch_dir.h"

namespace cvm::probe {
namespace {

constexpr std::string_view kDbDirs[] = {"/var/lib/rpm", "/usr/lib/sysimage/rpm"};

// The database file that names a backend, best first (a directory migrated
// to sqlite may keep old files).
struct Backend {
  std::string_view file;
  std::string_view backend;
};
constexpr Backend kBackends[] = {
    {"rpmdb.sqlite", "sqlite"}, {"Packages.db", "ndb"}, {"Packages", "bdb_ro"}};

bool EndsWith(std::string_view s, std::string_view end) {
  return s.size() >= end.size() && s.substr(s.size() - end.size()) == end;
}

// The files a backend needs. sqlite: the database and its write-ahead log
// (committed transactions not yet checkpointed), never the -shm index,
// which sqlite rebuilds. ndb: data and index. BerkeleyDB: every table file,
// without the environment (__db.*) and lock files.
bool Wanted(std::string_view backend, std::string_view name) {
  if (backend == "sqlite") return name == "rpmdb.sqlite" || name == "rpmdb.sqlite-wal";
  if (backend == "ndb") return name == "Packages.db" || name == "Index.db";
  return name.substr(0, 5) != "__db." && name.front() != '.' && !EndsWith(name, "-shm");
}

Result<bool> CopyFile(const HostRoot& root, const std::string& from, const ScratchDir& to,
                      std::string_view name, std::uint64_t& budget) {
  constexpr std::size_t kChunk = kDefaultReadCap;
  std::uint64_t off = 0;
  for (bool first = true;; first = false) {
    auto part = root.ReadRange(from, off, kChunk);
    if (!part) return part.error();
    if (part->size() > budget) {
      return MakeError(from,
                       "the rpm database is larger than the cap of " +
                           std::to_string(kRpmDbCap) + " bytes (EFBIG)",
                       EFBIG);
    }
    budget -= part->size();
    auto w = first ? to.Write(name, *part) : to.Append(name, *part);
    if (!w) return w.error();
    off += part->size();
    if (part->size() < kChunk) return true;
  }
}

struct LogCapture {
  const detail::LibRpm* rpm;
  std::string errors;
};

int Collect(rpmlogRec rec, rpmlogCallbackData data) {
  auto* cap = static_cast<LogCapture*>(data);
  if (cap->rpm->rpmlogRecPriority(rec) <= RPMLOG_WARNING) {
    std::string m = cap->rpm->rpmlogRecMessage(rec);
    while (!m.empty() && m.back() == '\n') m.pop_back();
    cap->errors += (cap->errors.empty() ? "" : "; ") + m;
  }
  return 0;  // handled: nothing printed to stderr
}

std::vector<std::string> Files(const detail::LibRpm& rpm, Header h) {
  std::vector<std::string> out;
  detail::RpmtdPtr td(rpm.rpmtdNew());
  if (!td || rpm.headerGet(h, RPMTAG_FILENAMES, td.get(), HEADERGET_EXT) != 1) return out;
  while (const char* f = rpm.rpmtdNextString(td.get())) out.emplace_back(f);
  return out;
}

Result<std::vector<Package>> Query(const std::string& dbpath, std::string_view backend,
                                   std::span<const std::string_view> names,
                                   const std::string& display) {
  // librpm keeps its configuration, macros and log callback in globals;
  // Query runs only in QueryInChild's forked child, alone in its process,
  // and only that child loads librpm (probe/detail/librpm.h).
  auto loaded = detail::LoadLibRpm();
  if (!loaded) return MakeError(display, loaded.error().message);
  const detail::LibRpm& rpm = **loaded;
  LogCapture cap{&rpm, {}};
  // librpm's messages become the error text instead of stderr lines.
  rpmlogCallback old = rpm.rpmlogSetCallback(&Collect, &cap);
  const bool configured = rpm.rpmReadConfigFiles(nullptr, nullptr) == 0;
  std::optional<Result<std::vector<Package>>> result;
  if (!configured) {
    result.emplace(MakeError(display, "librpm could not read its configuration: " + cap.errors));
  } else {
    std::string be(backend);
    rpm.rpmPushMacro(nullptr, "_dbpath", nullptr, dbpath.c_str(), RMIL_CMDLINE);
    rpm.rpmPushMacro(nullptr, "_db_backend", nullptr, be.c_str(), RMIL_CMDLINE);
    {
      detail::RpmtsPtr ts(rpm.rpmtsCreate());
      (void)rpm.rpmtsSetRootDir(ts.get(), "/");
      (void)rpm.rpmtsSetVSFlags(ts.get(), _RPMVSF_NOSIGNATURES | _RPMVSF_NODIGESTS);
      if (rpm.rpmtsOpenDB(ts.get(), O_RDONLY) != 0) {
        result.emplace(MakeError(display, "librpm could not open the database (backend " + be +
                                              "): " + cap.errors));
      } else {
        std::vector<Package> out;
        for (std::string_view name : names) {
          std::string key(name);
          detail::RpmdbIteratorPtr it(rpm.rpmtsInitIterator(ts.get(), RPMDBI_NAME, key.c_str(), 0));
          if (!it) continue;  // no such package
          while (Header h = rpm.rpmdbNextIterator(it.get())) {
            Package p;
            const char* n = rpm.headerGetString(h, RPMTAG_NAME);
            const char* a = rpm.headerGetString(h, RPMTAG_ARCH);
            detail::RpmStringPtr evr(rpm.headerGetAsString(h, RPMTAG_EVR));
            p.name = n != nullptr ? n : "";
            p.arch = a != nullptr ? a : "";
            p.version = evr ? evr.get() : "";
            p.files = Files(rpm, h);
            out.push_back(std::move(p));
          }
        }
        result.emplace(std::move(out));
      }
    }
    rpm.rpmPopMacro(nullptr, "_db_backend");
    rpm.rpmPopMacro(nullptr, "_dbpath");
  }
  rpm.rpmlogSetCallback(old, nullptr);
  if (!result->has_value()) {
    // librpm names the private copy; messages name the root's directory.
    Error e = result->error();
    std::string dir = display.substr(0, display.rfind('/'));
    for (auto at = e.message.find(dbpath); at != std::string::npos;
         at = e.message.find(dbpath, at + dir.size())) {
      e.message.replace(at, dbpath.size(), dir);
    }
    return e;
  }
  return std::move(*result);
}

// librpm runs in a child the scan can kill: the database is the host's
// input, so librpm's crash or hang must not be the agent's, and its sqlite
// backend leaks the sqlite handle of a database that does not open (seen
// under LeakSanitizer: sqlite_init -> sqlite3_table_column_metadata), which
// would grow a long-running agent by ~100 KiB a scan. The answer comes back
// as JSON.
constexpr std::chrono::seconds kQueryDeadline{20};

Result<std::vector<Package>> QueryInChild(const std::string& dbpath, std::string_view backend,
                                          std::span<const std::string_view> names,
                                          const std::string& display) {
  using nlohmann::json;
  auto run = RunChildWithDeadline(
      [&](int fd) {
        auto r = Query(dbpath, backend, names, display);
        json j;
        if (r) {
          j["packages"] = json::array();
          for (const auto& p : *r) {
            j["packages"].push_back(
                {{"name", p.name}, {"version", p.version}, {"arch", p.arch}, {"files", p.files}});
          }
        } else {
          j["error"] = {{"code", r.error().code},
                        {"path", r.error().path},
                        {"message", r.error().message}};
        }
        // A package name or version with bytes that are not UTF-8 must not
        // throw here; they come back as U+FFFD.
        WriteAll(fd, j.dump(-1, ' ', false, json::error_handler_t::replace));
      },
      kQueryDeadline);
  if (!run) return run.error();
  if (run->timed_out) {
    return MakeError(display, "librpm did not answer within 20 s", ETIMEDOUT);
  }
  json j = json::parse(run->output, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return MakeError(display, "librpm ended without an answer (it crashed on this database?)");
  }
  try {
    if (j.contains("error")) {
      const json& e = j["error"];
      Error err;
      err.code = e.at("code").get<int>();
      err.path = e.at("path").get<std::string>();
      err.message = e.at("message").get<std::string>();
      return err;
    }
    std::vector<Package> out;
    for (const json& p : j.at("packages")) {
      out.push_back(Package{p.at("name").get<std::string>(), p.at("version").get<std::string>(),
                            p.at("arch").get<std::string>(),
                            p.at("files").get<std::vector<std::string>>()});
    }
    return out;
  } catch (const json::exception& e) {
    return MakeError(display, std::string("librpm's child answered badly: ") + e.what());
  }
}

}  // namespace

Result<RpmDb> ReadRpmDb(const HostRoot& root, std::span<const std::string_view> names) {
  for (std::string_view dir : kDbDirs) {
    for (const auto& b : kBackends) {
      std::string file = std::string(dir) + "/" + std::string(b.file);
      auto st = root.Stat(file);
      if (!st) {
        int e = st.error().code;
        if (e == ENOENT || e == ENOTDIR) continue;
        return st.error();
      }
      if (st->type != FileType::kRegular) {
        return MakeError(file, "is a " + std::string(FileTypeName(st->type)) +
                                   ", not an rpm database file");
      }
      auto entries = root.ListDir(dir);
      if (!entries) return entries.error();
      auto scratch = ScratchDir::Create("cvm-preflight-rpmdb-");
      if (!scratch) return scratch.error();
      std::uint64_t budget = kRpmDbCap;
      for (const auto& e : *entries) {
        if (e.type != FileType::kRegular || !Wanted(b.backend, e.name)) continue;
        auto copied = CopyFile(root, std::string(dir) + "/" + e.name, *scratch, e.name, budget);
        if (!copied) return copied.error();
      }
      auto packages = QueryInChild(scratch->path(), b.backend, names, file);
      if (!packages) return packages.error();
      return RpmDb{std::string(dir), file, std::string(b.backend), std::move(*packages)};
    }
  }
  return MakeError("/var/lib/rpm",
                   "no rpm database (rpmdb.sqlite, Packages.db or Packages) in /var/lib/rpm "
                   "or /usr/lib/sysimage/rpm",
                   ENOENT);
}

}  // namespace cvm::probe
