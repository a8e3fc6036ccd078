#include "resource_sampler.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace treadle {

namespace {
// Reads a small /proc file into buf (NUL-terminated); false if it cannot be read.
bool read_small(const char* path, char* buf, std::size_t size) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::read(fd, buf, size - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}
}  // namespace

bool process_ticks(pid_t pid, bool with_children, std::uint64_t& ticks) {
  char path[64], buf[1024];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  if (!read_small(path, buf, sizeof buf)) return false;
  // Fields after the command name (which may hold spaces and parentheses): from the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p) return false;
  p += 2;  // field 3, the state
  // Fields 14-17 (1-based): utime stime cutime cstime; p is at field 3.
  for (int field = 3; field < 14 && *p; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return false;
    ++p;
  }
  char* end = nullptr;
  std::uint64_t utime = std::strtoull(p, &end, 10);
  std::uint64_t stime = std::strtoull(end, &end, 10);
  long long cutime = std::strtoll(end, &end, 10);
  long long cstime = std::strtoll(end, &end, 10);
  ticks = utime + stime;
  if (with_children) ticks += static_cast<std::uint64_t>(std::max(0LL, cutime) + std::max(0LL, cstime));
  return true;
}

std::uint64_t process_rss(pid_t pid) {
  char path[64], buf[256];
  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  if (!read_small(path, buf, sizeof buf)) return 0;
  char* end = nullptr;
  std::strtoull(buf, &end, 10);  // total size
  std::uint64_t resident = std::strtoull(end, &end, 10);
  static const long page = ::sysconf(_SC_PAGESIZE);
  return resident * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

ResourceSample ResourceSampler::sample(const std::vector<pid_t>& children, std::int64_t now_us) {
  ResourceSample out;
  std::uint64_t ticks = 0, t = 0;
  pid_t self = ::getpid();
  if (process_ticks(self, true, t)) ticks += t;
  out.rss = process_rss(self);
  for (pid_t child : children) {
    if (child <= 0) continue;
    if (process_ticks(child, false, t)) ticks += t;
    out.rss += process_rss(child);
  }
  static const long hz = ::sysconf(_SC_CLK_TCK);
  if (last_us_ > 0 && now_us > last_us_ && ticks >= last_ticks_) {
    double cpu_s = static_cast<double>(ticks - last_ticks_) / static_cast<double>(hz > 0 ? hz : 100);
    double wall_s = static_cast<double>(now_us - last_us_) / 1e6;
    out.cpu_percent = 100.0 * cpu_s / (wall_s * cpus_);
  }
  // An executor that died takes its ticks away until it is reaped: the next delta counts from here.
  last_us_ = now_us;
  last_ticks_ = ticks;
  return out;
}

}  // namespace treadle
