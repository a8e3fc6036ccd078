#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "../cancellation.hpp"
#include "../task_api.hpp"
#include "task_checks.hpp"

extern char** environ;

namespace treadle::builtin {

namespace {

// RAII for the two posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// treadle-program-guard beside this program (treadle_program_guard.cpp says why), or "".
const std::string& program_guard() {
  static const std::string path = [] {
    std::error_code ec;
    std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return std::string();
    std::filesystem::path guard = exe.parent_path() / "treadle-program-guard";
    return ::access(guard.c_str(), X_OK) == 0 ? guard.string() : std::string();
  }();
  return path;
}

// A pipe both ends of which close on exec; -1s if none could be made.
struct StatusPipe {
  int fds[2] = {-1, -1};
  StatusPipe() {
    if (::pipe2(fds, O_CLOEXEC) != 0) fds[0] = fds[1] = -1;
  }
  ~StatusPipe() {
    close_write();
    if (fds[0] >= 0) ::close(fds[0]);
  }
  void close_write() {
    if (fds[1] >= 0) ::close(fds[1]);
    fds[1] = -1;
  }
  StatusPipe(const StatusPipe&) = delete;
  StatusPipe& operator=(const StatusPipe&) = delete;
};

}  // namespace

ChildExit run_child(const ChildSpec& spec) {
  if (spec.args.empty()) throw TaskFailure("cannot execute an empty command");
  const std::string& program = spec.args[0];

  SpawnSetup setup;
  posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());
  posix_spawn_file_actions_addopen(&setup.actions, 0, spec.stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&setup.actions, 1, spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&setup.actions, 2, spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // Through the guard, the program dies with the worker; the guard reports a failed exec on
  // fd 3. The worker's other sockets and files are none of the program's business.
  const std::string& guard = program_guard();
  StatusPipe exec_status;
  const bool guarded = !guard.empty() && exec_status.fds[1] >= 0;
  if (guarded) posix_spawn_file_actions_adddup2(&setup.actions, exec_status.fds[1], 3);
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, guarded ? 4 : 3);

  // The program starts as from a shell: no blocked signals (the calling thread may block some),
  // and default dispositions (the worker may ignore SIGPIPE, which `a | head` relies on).
  sigset_t no_signals, all_signals;
  sigemptyset(&no_signals);
  sigfillset(&all_signals);
  posix_spawnattr_setsigmask(&setup.attributes, &no_signals);
  posix_spawnattr_setsigdefault(&setup.attributes, &all_signals);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> guard_args;
  std::vector<char*> argv;
  argv.reserve(spec.args.size() + 4);
  if (guarded) {
    guard_args = {guard, std::to_string(::getpid()), "3"};
    for (auto& arg : guard_args) argv.push_back(const_cast<char*>(arg.c_str()));
  }
  for (auto& arg : spec.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  pid_t pid = 0;
  int error = posix_spawnp(&pid, argv[0], &setup.actions, &setup.attributes, argv.data(), environ);
  if (error != 0) throw TaskFailure("cannot execute '" + program + "': " + errno_text(error));
  if (guarded) {
    // Nothing to read once the program is running (exec closed the guard's end): its errno if not.
    exec_status.close_write();
    int exec_error = 0;
    ssize_t got;
    while ((got = ::read(exec_status.fds[0], &exec_error, sizeof exec_error)) < 0 && errno == EINTR) {
    }
    if (got == static_cast<ssize_t>(sizeof exec_error)) {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      throw TaskFailure("cannot execute '" + program + "': " + errno_text(exec_error));
    }
  }

  cancellation::register_program(spec.task, pid);
  if (spec.on_started) spec.on_started();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      cancellation::unregister_program(spec.task);
      throw TaskFailure("cannot wait for '" + program + "': " + errno_text(errno));
    }
  }
  cancellation::unregister_program(spec.task);
  if (WIFSIGNALED(status)) return ChildExit{true, WTERMSIG(status)};
  return ChildExit{false, WEXITSTATUS(status)};
}

}  // namespace treadle::builtin
