#pragma once
// Starting an external program with its standard streams on files, and waiting for it.
// Files rather than pipes: the worker never has to pump data, so nothing can deadlock.
#include <functional>
#include <string>
#include <vector>

#include "../../common/ids.hpp"

namespace treadle::builtin {

struct ChildSpec {
  TaskId task = 0;                // cancelling the task kills the program
  std::vector<std::string> args;  // args[0] is looked up in PATH unless it contains a '/'
  std::string cwd;
  std::string stdin_path;   // opened read-only
  std::string stdout_path;  // created or truncated
  std::string stderr_path;  // created or truncated
  std::function<void()> on_started;  // called once the program runs (exec succeeded)
};

struct ChildExit {
  bool by_signal = false;
  int number = 0;  // the exit status, or the signal that ended the program
};

// Runs the program to its end. Throws TaskFailure "cannot execute '<prog>': <reason>" when it
// cannot be started.
ChildExit run_child(const ChildSpec& spec);

}  // namespace treadle::builtin
