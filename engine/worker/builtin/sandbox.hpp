#pragma once
// A fresh directory for one execution of an external program, removed when it goes away.
//
//   <work_dir>/run/<task id>-<n>/        root: the program's standard streams live here
//   <work_dir>/run/<task id>-<n>/work/   the program's working directory: mapped inputs, outputs
//
// The streams stay out of work/ so that a program listing its directory sees only its files.
#include <cstdint>
#include <filesystem>

namespace treadle::builtin {

class Sandbox {
 public:
  // Throws TaskFailure if the directory cannot be created.
  Sandbox(const std::filesystem::path& work_dir, std::uint64_t task_id);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& work() const { return work_; }

 private:
  std::filesystem::path root_;
  std::filesystem::path work_;
};

}  // namespace treadle::builtin
