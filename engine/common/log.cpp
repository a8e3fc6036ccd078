#include "log.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace treadle::log {
namespace {
Level initial_level() {
  const char* env = std::getenv("TREADLE_LOG");
  if (!env) return Level::info;
  std::string v = env;
  if (v == "debug") return Level::debug;
  if (v == "warn") return Level::warn;
  if (v == "error") return Level::error;
  return Level::info;
}
Level g_level = initial_level();
std::string g_role = "treadle";
bool g_plain = false;
std::FILE* g_out = stderr;
std::mutex g_mutex;
const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
}  // namespace

void set_level(Level level) { g_level = level; }
void set_role(std::string role) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_role = std::move(role);
}
void set_plain(bool plain) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_plain = plain;
}
void set_fd(int fd) {
  const int copy = ::dup(fd);
  std::FILE* out = copy < 0 ? nullptr : ::fdopen(copy, "w");
  if (!out) {
    if (copy >= 0) ::close(copy);
    throw std::runtime_error(std::string("cannot log to file descriptor ") + std::to_string(fd) + ": " +
                             std::strerror(errno));
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_out != stderr) std::fclose(g_out);
  g_out = out;
}
bool enabled(Level level) { return level >= g_level; }

void write(Level level, const std::string& line) {
  using namespace std::chrono;
  auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_plain) {
    const char* kind[] = {" debug", " info", "", " error"};
    std::fprintf(g_out, "treadle%s: %s\n", kind[static_cast<int>(level)], line.c_str());
    std::fflush(g_out);
    return;
  }
  if (!std::getenv("TREADLE_LOG") && g_level != Level::debug) {  // not the verbose mode: a person reads it
    const char* kind[] = {" debug", "", "", " error"};
    const char* role = g_role == "treadle" ? "" : g_role.c_str();
    std::fprintf(g_out, "treadle%s%s%s: %s\n", *role ? " " : "", role, kind[static_cast<int>(level)], line.c_str());
    std::fflush(g_out);
    return;
  }
  std::fprintf(g_out, "[%lld.%03lld %s %s] %s\n", static_cast<long long>(now / 1000),
               static_cast<long long>(now % 1000), g_role.c_str(), names[static_cast<int>(level)],
               line.c_str());
  std::fflush(g_out);
}

}  // namespace treadle::log
