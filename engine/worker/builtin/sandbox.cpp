#include "sandbox.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <string>

#include "../../common/log.hpp"
#include "../../data/tar_archive.hpp"
#include "../task_api.hpp"
#include "task_checks.hpp"

namespace treadle::builtin {

namespace fs = std::filesystem;

namespace {
std::atomic<std::uint64_t> next_sandbox{0};

void make_directory(const fs::path& path) {
  if (::mkdir(path.c_str(), 0755) != 0)
    throw TaskFailure("cannot create sandbox " + path.string() + ": " + errno_text(errno));
}
}  // namespace

Sandbox::Sandbox(const fs::path& work_dir, std::uint64_t task_id) {
  // Absolute, so that the paths stay right after the program changes directory.
  fs::path runs = fs::absolute(work_dir) / "run";
  std::error_code error;
  fs::create_directories(runs, error);
  if (error) throw TaskFailure("cannot create sandbox directory " + runs.string() + ": " + error.message());
  // mkdir fails on an existing name, so each sandbox is new even if another worker process
  // shares work_dir or an old one was left behind.
  for (;;) {
    fs::path candidate = runs / (std::to_string(task_id) + "-" + std::to_string(next_sandbox++));
    if (::mkdir(candidate.c_str(), 0755) == 0) {
      root_ = std::move(candidate);
      break;
    }
    if (errno != EEXIST)
      throw TaskFailure("cannot create sandbox " + candidate.string() + ": " + errno_text(errno));
  }
  work_ = root_ / "work";
  try {
    make_directory(work_);
  } catch (...) {
    fs::remove_all(root_, error);
    throw;
  }
}

Sandbox::~Sandbox() {
  std::error_code error;
  fs::remove_all(root_, error);
  if (error) {  // read-only directories (Rain's link mappings) keep their entries from a non-root worker
    tar::make_removable(root_);
    error.clear();
    fs::remove_all(root_, error);
  }
  if (error) log::warn("cannot remove sandbox ", root_.string(), ": ", error.message());
}

}  // namespace treadle::builtin
