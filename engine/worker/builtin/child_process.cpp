#include "child_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../cancellation.hpp"
#include "../private_files.hpp"
#include "../task_api.hpp"
#include "task_checks.hpp"

extern char** environ;

namespace treadle::builtin {

namespace {

// Everything the child needs, made by the parent before the child exists: the child shares the
// worker's memory (CLONE_VM) while the worker's other threads run, so it must not allocate or
// take a lock; it only makes system calls on what is here, and leaves its errno in `error`.
struct Launch {
  std::vector<std::string> candidates;  // where to look for the program, in order
  std::vector<char*> argv;
  const char* cwd = nullptr;
  const char* stdin_path = nullptr;
  const char* stdout_path = nullptr;
  const char* stderr_path = nullptr;
  pid_t worker = 0;
  mode_t umask = 022;  // the user's, for what the program creates
  int error = 0;  // set by the child when it could not become the program
};

// As posix_spawnp looks a program up: a name with a '/' as it is, else in each folder of $PATH;
// unlike execvp, a file that is not a program is not handed to /bin/sh.
std::vector<std::string> program_candidates(const std::string& program) {
  if (program.find('/') != std::string::npos) return {program};
  const char* path = std::getenv("PATH");
  std::string folders = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> candidates;
  std::size_t start = 0;
  while (start <= folders.size()) {
    std::size_t end = folders.find(':', start);
    if (end == std::string::npos) end = folders.size();
    std::string folder = folders.substr(start, end - start);
    candidates.push_back((folder.empty() ? std::string(".") : folder) + "/" + program);
    start = end + 1;
  }
  return candidates;
}

int open_as(int fd, const char* path, int flags) {
  int opened = ::open(path, flags | O_CLOEXEC, 0644);
  if (opened < 0) return errno;
  if (::dup2(opened, fd) < 0) return errno;  // dup2 clears close-on-exec on the copy
  ::close(opened);
  return 0;
}

void close_from(int first) {
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  for (long fd = first, last = ::sysconf(_SC_OPEN_MAX); fd < last; ++fd) ::close(static_cast<int>(fd));
}

// The child, between clone and exec. The parent thread waits (CLONE_VFORK) until the exec or
// the exit, so `launch` stays alive.
int become_program(void* arg) {
  auto* launch = static_cast<Launch*>(arg);
  // The program starts as from a shell: default dispositions (the worker may ignore SIGPIPE,
  // which `a | head` relies on, and its handlers are not the program's) and no blocked signals.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  // It leads a process group of its own, which the programs it starts join: a cancel, the
  // worker's stop and the program's own end kill the whole group (cancellation.cpp, run_child).
  // The parent resumes only after the exec (CLONE_VFORK), so the group exists before any kill.
  ::setpgid(0, 0);
  // The program dies with its worker, even a SIGKILLed one (the flag survives exec). If the
  // worker died before the request took effect, nobody is left to want the program.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != launch->worker) ::_exit(127);
  int error = 0;
  if (::chdir(launch->cwd) != 0) error = errno;
  if (error == 0) error = open_as(0, launch->stdin_path, O_RDONLY);
  if (error == 0) error = open_as(1, launch->stdout_path, O_WRONLY | O_CREAT | O_TRUNC);
  if (error == 0) error = open_as(2, launch->stderr_path, O_WRONLY | O_CREAT | O_TRUNC);
  if (error == 0) {
    close_from(3);  // the worker's sockets and files are none of the program's business
    sigset_t no_signals;
    sigemptyset(&no_signals);
    ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    ::umask(launch->umask);  // its stdin, stdout and stderr files were made private above
    error = ENOENT;
    for (auto& candidate : launch->candidates) {
      ::execve(candidate.c_str(), launch->argv.data(), environ);
      if (errno != ENOENT && errno != ENOTDIR) error = errno;  // e.g. EACCES: say that, not "not found"
    }
  }
  launch->error = error;
  ::_exit(127);
}

// Starts the program without copying the worker's memory (as posix_spawn does, by clone with
// CLONE_VM | CLONE_VFORK), but in a child of our own, which can ask for the parent-death signal
// that posix_spawn cannot: no helper program, so one exec per program.
pid_t spawn(Launch& launch) {
  constexpr std::size_t stack_size = 64 * 1024;
  void* stack = ::mmap(nullptr, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -1;
  // No handler of the worker may run in the child, on the worker's memory.
  sigset_t all_signals, before;
  sigfillset(&all_signals);
  ::pthread_sigmask(SIG_SETMASK, &all_signals, &before);
  pid_t pid = ::clone(become_program, static_cast<char*>(stack) + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &launch);
  int clone_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ::munmap(stack, stack_size);
  errno = clone_error;
  return pid;
}

}  // namespace

ChildExit run_child(const ChildSpec& spec) {
  if (spec.args.empty()) throw TaskFailure("cannot execute an empty command");
  const std::string& program = spec.args[0];

  Launch launch;
  launch.candidates = program_candidates(program);
  launch.argv.reserve(spec.args.size() + 1);
  for (auto& arg : spec.args) launch.argv.push_back(const_cast<char*>(arg.c_str()));
  launch.argv.push_back(nullptr);
  launch.cwd = spec.cwd.c_str();
  launch.stdin_path = spec.stdin_path.c_str();
  launch.stdout_path = spec.stdout_path.c_str();
  launch.stderr_path = spec.stderr_path.c_str();
  launch.worker = ::getpid();
  launch.umask = private_files::user_umask();

  pid_t pid = spawn(launch);
  if (pid < 0) throw TaskFailure("cannot execute '" + program + "': " + errno_text(errno));
  if (launch.error != 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw TaskFailure("cannot execute '" + program + "': " + errno_text(launch.error));
  }

  cancellation::register_program(spec.task, pid);
  if (spec.on_started) spec.on_started();
  // Wait for its end without reaping it: while it is a zombie its pid, and so its group's id,
  // cannot name another process, so what it left running in its group (`cmd &` in a script)
  // is killed without killing a stranger. A program that left the group (setsid) is its own.
  siginfo_t ended{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &ended, WEXITED | WNOWAIT) < 0) {
    if (errno != EINTR) {
      cancellation::unregister_program(spec.task);
      throw TaskFailure("cannot wait for '" + program + "': " + errno_text(errno));
    }
  }
  cancellation::unregister_program(spec.task);
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return ChildExit{true, WTERMSIG(status)};
  return ChildExit{false, WEXITSTATUS(status)};
}

}  // namespace treadle::builtin
