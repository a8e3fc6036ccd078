#include "log_throttle.hpp"

#include "clock.hpp"

namespace treadle::log {
namespace {
// Sources beyond this many at once share one window, so many peers cannot grow the map.
constexpr std::size_t max_sources = 256;
const std::string other_sources = "other peers";
}  // namespace

Throttle::Throttle(std::string what, int burst, std::int64_t interval_ms, Clock clock, Sink sink)
    : what_(std::move(what)),
      burst_(burst),
      interval_ms_(interval_ms),
      clock_(clock ? std::move(clock) : Clock(steady_ms)),
      sink_(sink ? std::move(sink) : Sink([](const std::string& line) { write(Level::warn, line); })) {}

bool Throttle::admit(const std::string& source) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::int64_t now = clock_();
  auto it = windows_.find(source);
  if (it == windows_.end()) {
    const std::string& key = windows_.size() < max_sources ? source : other_sources;
    it = windows_.emplace(key, Window{now, 0, 0}).first;
  } else if (now - it->second.start_ms >= interval_ms_) {
    close(it->first, it->second, now);
  }
  Window& w = it->second;
  if (w.written < burst_) {
    ++w.written;
    return true;
  }
  ++w.left_out;
  return false;
}

void Throttle::close(const std::string& source, Window& w, std::int64_t now) {
  if (w.left_out > 0) {
    double seconds = static_cast<double>(now - w.start_ms) / 1000.0;
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(1);
    out << w.left_out << " more " << what_ << " from " << source << " in the last " << seconds << " s (not shown)";
    sink_(out.str());
  }
  w = Window{now, 0, 0};
}

void Throttle::tick() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::int64_t now = clock_();
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start_ms < interval_ms_) {
      ++it;
      continue;
    }
    close(it->first, it->second, now);
    it = windows_.erase(it);  // a quiet source starts afresh
  }
}

}  // namespace treadle::log
