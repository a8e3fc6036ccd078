#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>

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

}  // namespace

ChildExit run_child(const ChildSpec& spec) {
  if (spec.args.empty()) throw TaskFailure("cannot execute an empty command");
  const std::string& program = spec.args[0];

  SpawnSetup setup;
  posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());
  posix_spawn_file_actions_addopen(&setup.actions, 0, spec.stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&setup.actions, 1, spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&setup.actions, 2, spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // The worker's sockets and files are none of the program's business.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);

  // The program starts as from a shell: no blocked signals (the calling thread may block some),
  // and default dispositions (the worker may ignore SIGPIPE, which `a | head` relies on).
  sigset_t no_signals, all_signals;
  sigemptyset(&no_signals);
  sigfillset(&all_signals);
  posix_spawnattr_setsigmask(&setup.attributes, &no_signals);
  posix_spawnattr_setsigdefault(&setup.attributes, &all_signals);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  argv.reserve(spec.args.size() + 1);
  for (auto& arg : spec.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  pid_t pid = 0;
  int error = posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attributes, argv.data(), environ);
  if (error != 0) throw TaskFailure("cannot execute '" + program + "': " + errno_text(error));

  cancellation::register_program(spec.task, pid);
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
