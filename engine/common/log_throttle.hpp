#pragma once
// A rate limit for warnings a peer can cause at will (malformed messages, refused handshakes):
// per source, the first few lines of each interval are written in full, the rest only counted,
// and one summary line per interval says how many were left out. So a flood of bad messages
// costs a few log lines, not one per message, and the log still says who and how many.
#include <cstdint>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>

#include "log.hpp"

namespace treadle::log {

class Throttle {
 public:
  using Clock = std::function<std::int64_t()>;          // milliseconds, monotonic
  using Sink = std::function<void(const std::string&)>;  // writes one line

  // `what` names the lines in summaries: "12 more <what> from <source> in the last 5 s".
  explicit Throttle(std::string what, int burst = 5, std::int64_t interval_ms = 5000, Clock clock = {},
                    Sink sink = {});

  // A warning from `source` (a peer, an address): written unless `source` used its burst.
  template <typename... Args>
  void warn(const std::string& source, const Args&... args) {
    if (!enabled(Level::warn)) return;
    if (!admit(source)) return;
    std::ostringstream out;
    (out << ... << args);
    sink_(out.str());
  }
  // Writes the summaries of intervals that ended; call it now and then (an idle source's
  // summary would otherwise wait for its next warning).
  void tick();

 private:
  struct Window {
    std::int64_t start_ms = 0;
    int written = 0;
    std::uint64_t left_out = 0;
  };
  bool admit(const std::string& source);
  void close(const std::string& source, Window& window, std::int64_t now);

  std::string what_;
  int burst_;
  std::int64_t interval_ms_;
  Clock clock_;
  Sink sink_;
  std::mutex mutex_;  // the authenticator warns from a thread of its own
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace treadle::log
