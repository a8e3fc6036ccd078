#pragma once
// A worker's work directory (spilled objects, the folders of `run` tasks), and the clean-up of
// the directories that killed workers left behind.
//
// A live worker holds an flock on `<its directory>/lock` (released by the kernel however the
// worker ends). When a worker starts it removes the directories of its root that follow the
// naming (`<prefix><pid>`) and whose lock is free — so a killed worker's directory goes, a
// live one's stays, and a reused pid is not taken for the dead worker: its lock is free.
#include <filesystem>
#include <string>

namespace treadle {

class WorkDir {
 public:
  // Makes and locks `root/<prefix><own pid>`, then removes the dead workers' directories there.
  WorkDir(const std::filesystem::path& root, const std::string& prefix);
  ~WorkDir();  // removes the directory
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int lock_fd_ = -1;
};

// Removes the directories `root/<prefix><pid>` of workers that are gone; returns how many.
// Exposed for tests; WorkDir calls it.
int remove_dead_work_dirs(const std::filesystem::path& root, const std::string& prefix);

}  // namespace treadle
