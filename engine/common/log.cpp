#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

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
bool enabled(Level level) { return level >= g_level; }

void write(Level level, const std::string& line) {
  using namespace std::chrono;
  auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_plain) {
    const char* kind[] = {" debug", " info", "", " error"};
    std::fprintf(stderr, "treadle%s: %s\n", kind[static_cast<int>(level)], line.c_str());
    std::fflush(stderr);
    return;
  }
  if (!std::getenv("TREADLE_LOG") && g_level != Level::debug) {  // not the verbose mode: a person reads it
    const char* kind[] = {" debug", "", "", " error"};
    const char* role = g_role == "treadle" ? "" : g_role.c_str();
    std::fprintf(stderr, "treadle%s%s%s: %s\n", *role ? " " : "", role, kind[static_cast<int>(level)], line.c_str());
    std::fflush(stderr);
    return;
  }
  std::fprintf(stderr, "[%lld.%03lld %s %s] %s\n", static_cast<long long>(now / 1000),
               static_cast<long long>(now % 1000), g_role.c_str(), names[static_cast<int>(level)],
               line.c_str());
  std::fflush(stderr);
}

}  // namespace treadle::log
