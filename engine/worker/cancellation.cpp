#include "cancellation.hpp"

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace treadle::cancellation {
namespace {
std::mutex mutex;
std::condition_variable woken;
std::unordered_map<TaskId, pid_t> programs;
std::unordered_set<TaskId> cancelled_tasks;
bool everything = false;

bool is_cancelled(TaskId task) { return everything || cancelled_tasks.count(task) != 0; }

// A program leads a process group of its own (child_process.cpp): the programs it started go too.
void end_program(pid_t pid) {
  if (::kill(-pid, SIGKILL) != 0) ::kill(pid, SIGKILL);
}
}  // namespace

void register_program(TaskId task, pid_t pid) {
  std::lock_guard<std::mutex> lock(mutex);
  programs[task] = pid;
  if (is_cancelled(task)) end_program(pid);  // cancelled while it was starting
}

void unregister_program(TaskId task) {
  std::lock_guard<std::mutex> lock(mutex);
  programs.erase(task);
}

bool sleep_for(TaskId task, double seconds) {
  std::unique_lock<std::mutex> lock(mutex);
  return !woken.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return is_cancelled(task); });
}

bool cancelled(TaskId task) {
  std::lock_guard<std::mutex> lock(mutex);
  return is_cancelled(task);
}

void cancel(TaskId task) {
  std::lock_guard<std::mutex> lock(mutex);
  cancelled_tasks.insert(task);
  auto it = programs.find(task);
  if (it != programs.end()) end_program(it->second);
  woken.notify_all();
}

void reset() {
  std::lock_guard<std::mutex> lock(mutex);
  everything = false;
  cancelled_tasks.clear();
}

void cancel_all() {
  std::lock_guard<std::mutex> lock(mutex);
  everything = true;
  for (auto& [task, pid] : programs) end_program(pid);
  woken.notify_all();
}

void forget(TaskId task) {
  std::lock_guard<std::mutex> lock(mutex);
  cancelled_tasks.erase(task);
}

}  // namespace treadle::cancellation
