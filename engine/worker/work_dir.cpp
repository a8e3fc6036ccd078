#include "work_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "../common/log.hpp"

namespace treadle {
namespace fs = std::filesystem;

namespace {
constexpr const char* lock_name = "lock";

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// When process `pid` started, in seconds since the epoch (0 if unknown).
double process_start(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  auto close = line.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) {
      std::ifstream boot("/proc/stat");
      std::string key;
      double btime = 0;
      while (boot >> key)
        if (key == "btime" && boot >> btime) break;
      return btime + std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
  return 0;
}

// The pid in a name `<prefix><digits>`, or 0 when the name does not follow it.
pid_t pid_in(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return 0;
  long pid = 0;
  for (std::size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || pid > 1'000'000'000) return 0;
    pid = pid * 10 + (name[i] - '0');
  }
  return static_cast<pid_t>(pid);
}

// A directory whose worker is gone. Its lock is free then; but a worker that is starting has
// made its directory and not locked it yet: its pid is alive and started before the lock file
// (a reused pid started after the dead worker made it).
bool dead(const fs::path& dir, pid_t pid) {
  int fd = ::open((dir / lock_name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return !process_alive(pid);  // no lock yet (or made by an older version)
  bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  struct stat st {};
  bool stated = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!free) return false;
  if (!process_alive(pid)) return true;
  double start = process_start(pid);
  return stated && start > 0 && start > static_cast<double>(st.st_mtime) + 1;
}
}  // namespace

int remove_dead_work_dirs(const fs::path& root, const std::string& prefix) {
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    pid_t pid = pid_in(it->path().filename().string(), prefix);
    if (pid <= 0 || pid == ::getpid() || !it->is_directory(ec) || it->is_symlink(ec)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || st.st_uid != ::geteuid()) continue;  // another user's /tmp
    if (!dead(it->path(), pid)) continue;
    std::error_code gone;
    fs::remove_all(it->path(), gone);
    if (gone) {
      log::warn("cannot remove ", it->path().string(), ", left by a worker that is gone: ", gone.message());
      continue;
    }
    log::info("removed ", it->path().string(), ", left by a worker that is gone");
    ++removed;
  }
  return removed;
}

WorkDir::WorkDir(const fs::path& root, const std::string& prefix)
    : path_(root / (prefix + std::to_string(::getpid()))) {
  fs::create_directories(root);
  // A directory of our name is a dead worker's that had our pid (unless a process of another
  // pid namespace holds its lock): start afresh.
  if (fs::exists(path_)) {
    int fd = ::open((path_ / lock_name).c_str(), O_RDONLY | O_CLOEXEC);
    bool held = fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    if (fd >= 0) ::close(fd);
    if (held) throw std::runtime_error("the work directory " + path_.string() + " is in use by another process");
    fs::remove_all(path_);
  }
  fs::create_directories(path_);
  lock_fd_ = ::open((path_ / lock_name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string why = std::strerror(errno);
    if (lock_fd_ >= 0) ::close(lock_fd_);
    throw std::runtime_error("cannot lock the work directory " + path_.string() + ": " + why);
  }
  remove_dead_work_dirs(root, prefix);
}

WorkDir::~WorkDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

}  // namespace treadle
