#pragma once
// The two clocks every process uses: wall time in µs (trace events, comparable across the
// processes of one host) and a monotonic ms clock (timeouts, heartbeats).
#include <chrono>
#include <cstdint>

namespace treadle {

inline std::int64_t wall_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace treadle
