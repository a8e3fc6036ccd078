#include "same_host_handoff.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "../common/message_fields.hpp"
#include "../data/plain.hpp"
#include "kept_files.hpp"

namespace treadle {
namespace {

std::int64_t mtime_ns(const struct stat& st) {
  return std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

std::string host_identity() {
  std::string boot_id;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot_id;
  char hostname[256] = "";
  ::gethostname(hostname, sizeof hostname - 1);
  // Without a boot id two hosts could look alike: then no host is "this host".
  if (boot_id.empty()) return {};
  return boot_id + "/" + hostname + "/" + std::to_string(::getuid());
}

bool same_host_handoff_allowed_by_environment() {
  const char* value = std::getenv("TREADLE_SAME_HOST_HANDOFF");
  return !(value && std::string(value) == "0");
}

json describe_for_handoff(ObjectId id, const DataPtr& data) {
  if (!data || data->kind() != DataKind::plain) return nullptr;
  const KeptFile* file = static_cast<const PlainData&>(*data).kept_file();
  if (!file || file->size < kept_file_min_bytes) return nullptr;
  struct stat st {};
  if (::lstat(file->path.c_str(), &st) != 0 || std::uint64_t(st.st_ino) != file->inode ||
      std::uint64_t(st.st_dev) != file->device || std::uint64_t(st.st_size) != file->size || mtime_ns(st) != file->mtime_ns)
    return nullptr;
  return {{"id", id}, {"path", file->path}, {"size", file->size}, {"dev", file->device},
          {"ino", file->inode}, {"mtime", file->mtime_ns}};
}

DataPtr adopt_handed_file(const json& described, const std::filesystem::path& work_dir) {
  std::string path = fields::text(described, "path", fields::max_path);
  if (path.empty() || path[0] != '/') throw DataError("a handed-over file must have an absolute path");
  std::uint64_t size = fields::unsigned_integer(described, "size");
  std::uint64_t device = fields::unsigned_integer(described, "dev");
  std::uint64_t inode = fields::unsigned_integer(described, "ino");
  std::int64_t mtime = fields::integer(described, "mtime");

  auto mine = new_kept_file_path(work_dir);
  if (::link(path.c_str(), mine.c_str()) != 0)  // link() does not follow a symbolic link
    throw DataError("cannot link " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::lstat(mine.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    ::unlink(mine.c_str());
    throw DataError(path + " is not a regular file");
  }
  DataPtr data = PlainData::map_kept_file(mine.string());  // removes our link if this throws
  const KeptFile& got = *static_cast<const PlainData&>(*data).kept_file();
  // Our link names the inode we mapped; it must be the one described, and ours.
  if (got.device != device || got.inode != inode || got.size != size || got.mtime_ns != mtime)
    throw DataError(path + " is not the file described (replaced or changed)");  // `data` removes our link
  if (got.owner != ::getuid()) throw DataError(path + " belongs to another user");
  return data;
}

}  // namespace treadle
