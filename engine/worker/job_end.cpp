#include "job_end.hpp"

#include <atomic>
#include <thread>

namespace treadle {

namespace {
std::atomic<bool> received{false};
}

void note_stop_signal() { received.store(true, std::memory_order_relaxed); }

bool stop_signal_received() { return received.load(std::memory_order_relaxed); }

bool job_ending(std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!stop_signal_received()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace treadle
