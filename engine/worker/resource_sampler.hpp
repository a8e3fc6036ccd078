#pragma once
// A worker's cpu and memory use, sampled from /proc for its heartbeats (docs/tracing.md).
#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace treadle {

struct ResourceSample {
  double cpu_percent = 0;  // of the worker's cpus since the previous sample
  std::uint64_t rss = 0;   // bytes resident: the worker and the given child processes
};

class ResourceSampler {
 public:
  explicit ResourceSampler(unsigned cpus) : cpus_(cpus ? cpus : 1) {}
  // cpu: the ticks of this process, its children that ended (programs, replaced executors),
  // and the live `children` (its Python executors), since the last call.
  ResourceSample sample(const std::vector<pid_t>& children, std::int64_t now_us);

 private:
  unsigned cpus_;
  std::int64_t last_us_ = 0;
  std::uint64_t last_ticks_ = 0;
};

// /proc/<pid>/stat: utime + stime (+ cutime + cstime when `with_children`), in clock ticks;
// false if the process is gone.
bool process_ticks(pid_t pid, bool with_children, std::uint64_t& ticks);
// /proc/<pid>/statm: resident bytes (0 if the process is gone).
std::uint64_t process_rss(pid_t pid);

}  // namespace treadle
