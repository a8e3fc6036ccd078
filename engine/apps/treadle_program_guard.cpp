// treadle-program-guard: starts a task's program so that it dies with its worker.
//
//   treadle-program-guard WORKER_PID STATUS_FD PROGRAM [ARGS...]
//
// A SIGKILLed worker has no chance to stop the programs its `run` tasks started. Linux can
// signal a child when its parent dies (PR_SET_PDEATHSIG, kept across exec), but posix_spawn,
// which the worker uses so that starting a program never copies the worker's memory, cannot
// ask for it. So the worker spawns this program, which asks for it and becomes the program.
// If exec fails, its errno goes to STATUS_FD (closed on a successful exec) for the worker's
// error message.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// As posix_spawnp looks a program up: a name with a '/' as it is, else in each folder of $PATH;
// unlike execvp, a file that is not a program is not handed to /bin/sh. Returns errno.
int exec_program(char** argv) {
  const char* program = argv[0];
  if (std::strchr(program, '/') != nullptr) {
    ::execv(program, argv);
    return errno;
  }
  const char* path = std::getenv("PATH");
  std::string folders = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  int error = ENOENT;
  std::size_t start = 0;
  while (start <= folders.size()) {
    std::size_t end = folders.find(':', start);
    if (end == std::string::npos) end = folders.size();
    std::string folder = folders.substr(start, end - start);
    std::string candidate = (folder.empty() ? std::string(".") : folder) + "/" + program;
    ::execv(candidate.c_str(), argv);
    if (errno != ENOENT && errno != ENOTDIR) error = errno;  // e.g. EACCES: say that, not "not found"
    start = end + 1;
  }
  return error;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) return 127;
  const pid_t worker = static_cast<pid_t>(std::atol(argv[1]));
  const int status_fd = std::atoi(argv[2]);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != worker) return 127;  // the worker died before the request took effect
  ::fcntl(status_fd, F_SETFD, FD_CLOEXEC);
  int error = exec_program(argv + 3);
  if (::write(status_fd, &error, sizeof error) < 0) return 127;
  return 127;
}
