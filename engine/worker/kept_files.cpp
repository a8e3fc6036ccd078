#include "kept_files.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

#include "../data/plain.hpp"

namespace treadle {
namespace fs = std::filesystem;

fs::path new_kept_file_path(const fs::path& work_dir) {
  static std::atomic<std::uint64_t> next{0};
  fs::path dir = work_dir / "objects";
  std::error_code ignored;
  fs::create_directory(dir, ignored);
  return dir / std::to_string(++next);
}

DataPtr map_output_file(const fs::path& path, const fs::path& work_dir) {
  std::error_code error;
  auto size = fs::file_size(path, error);
  if (error || size < kept_file_min_bytes) return PlainData::map_file(path.string());
  fs::path kept = new_kept_file_path(work_dir);
  if (::link(path.c_str(), kept.c_str()) != 0) return PlainData::map_file(path.string());
  return PlainData::map_kept_file(kept.string());
}

}  // namespace treadle
