#include "parent_watch.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace treadle::kernel {

void watch_parent(std::function<void()> on_orphaned) {
  if (!std::getenv("JPY_PARENT_PID")) return;
  pid_t parent = ::getppid();
  if (parent <= 1) return;  // nothing to watch: already adopted
  std::thread([parent, on_orphaned = std::move(on_orphaned)] {
    while (::getppid() == parent) std::this_thread::sleep_for(std::chrono::seconds(1));
    on_orphaned();
  }).detach();
}

}  // namespace treadle::kernel
