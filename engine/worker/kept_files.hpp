#pragma once
// Objects that stay files while a worker holds them: large program outputs and spilled
// objects live under `<work dir>/objects/` (the work directory's file system, so a program's
// output is linked there, never copied) and are removed when the object is freed. Such an
// object can be handed to a worker on the same host by its path (same_host_handoff.hpp).
#include <cstddef>
#include <filesystem>

#include "../data/data.hpp"

namespace treadle {

// Below this size an object's bytes cost less to send than a file costs to keep.
constexpr std::size_t kept_file_min_bytes = 256 * 1024;

// The directory of kept files in `work_dir` (made on first use), and a fresh name there.
std::filesystem::path new_kept_file_path(const std::filesystem::path& work_dir);

// The object whose bytes are the file at `path` (which may be removed afterwards): large files
// are hard-linked into the kept files and mapped from there; small ones, or when the link
// cannot be made, are only mapped.
DataPtr map_output_file(const std::filesystem::path& path, const std::filesystem::path& work_dir);

}  // namespace treadle
