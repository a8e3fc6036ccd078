#pragma once
// A tiny leveled logger to stderr, one line per call, in one of three forms:
// - for a person (the default): "treadle worker vm:12: <line>", "treadle server error: <line>",
//   as a script's or a notebook's stderr shows them beside treadle's other messages;
// - for a log file, in the verbose mode ($TREADLE_LOG set, or the debug level: --debug):
//   "[<epoch s.ms> <role> <LEVEL>] <line>", with the time and level a debugging session needs;
// - plain (set_plain: the kernel's embedded server): "treadle: <line>", no role.
#include <sstream>
#include <string>

namespace treadle::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
void set_role(std::string role);  // e.g. "server", "worker 3"
// Lines for a person rather than a log file (the kernel's embedded server, whose stderr a
// notebook frontend may show): "treadle: <line>" for a warning, "treadle error: <line>" for an
// error, no clock time nor role.
void set_plain(bool plain);
// Where the lines go: a copy of file descriptor `fd` (stderr's, 2, until set). In ipykernel,
// whose fd 2 feeds whichever cell runs, the in-process server writes to the kernel's own stderr.
void set_fd(int fd);
bool enabled(Level level);
void write(Level level, const std::string& line);

template <typename... Args>
void emit(Level level, const Args&... args) {
  if (!enabled(level)) return;
  std::ostringstream out;
  (out << ... << args);
  write(level, out.str());
}

template <typename... A> void debug(const A&... a) { emit(Level::debug, a...); }
template <typename... A> void info(const A&... a) { emit(Level::info, a...); }
template <typename... A> void warn(const A&... a) { emit(Level::warn, a...); }
template <typename... A> void error(const A&... a) { emit(Level::error, a...); }

}  // namespace treadle::log
