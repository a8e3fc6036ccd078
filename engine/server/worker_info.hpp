#pragma once
// What the scheduler knows of a connected worker.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../common/ids.hpp"
#include "queued_tasks.hpp"

namespace treadle {

// Light tasks sent ahead to a worker, per cpu. Light tasks take microseconds, so this many keep
// a worker busy through a report's round trip to the server and back; the rest wait in the
// ready queue. Without it one pass over a million ready tasks built their compute messages
// all at once (the server's peak memory) and the workers' queues held them all.
constexpr std::uint32_t light_tasks_per_cpu = 8192;

// The fields every report and placement touch come first, in the record's first cache line
// (aligned to it): at thousands of workers the records are out of the cache between two
// reports of the same worker, and the names and the type vector in front of them made each
// touch cost two or three lines (bench/README.md, "The scheduler simulator").
struct alignas(64) WorkerInfo {
  WorkerId id = 0;
  std::uint32_t cpus = 1;
  // cpus not requested by its assigned tasks; below zero when tasks wait queued on the worker.
  std::int32_t free_cpus = 1;
  // How many cpus' worth of tasks may wait queued there, so the worker never idles while a
  // report travels to the server and new work comes back: about 2 ms of work per cpu,
  // from the durations of its recent tasks.
  std::int32_t queue_cpus = 1;
  double task_us = 0;  // moving average of its cpu tasks' durations
  // When a cpu task last started or ended there (0: none yet): a queue that has not moved for
  // longer than its tasks take is held by a long one (stealing.cpp).
  std::int64_t cpu_task_moved_us = 0;
  std::uint32_t light_tasks = 0;     // light tasks assigned and not yet finished
  // May it be sent another light task? Chained ones count too: they travel in the same batches.
  bool light_room() const { return light_tasks < light_tasks_per_cpu * std::max<std::uint32_t>(cpus, 1); }
  // What runs there now and what waits there (for status; placement uses free_cpus): tasks in
  // state running, the cpus they hold (a seceded task's excepted), and tasks still assigned
  // (queued behind others, waiting for inputs or an executor).
  std::uint32_t running_tasks = 0;
  std::uint32_t running_cpus = 0;
  std::uint32_t queued_tasks = 0;
  bool alive = true;
  // Leaving on purpose (Scheduler::retire_worker): nothing new is placed here, and it stops
  // once what it holds that is still needed has been copied elsewhere.
  bool retiring = false;
  // Its recent cpu task assignments, for work stealing (queued_tasks.hpp): here, in the padding
  // before tasks_done, because every assignment of a cpu task reads this line anyway.
  QueuedTasks recent_cpu_tasks;
  std::uint64_t tasks_done = 0;
  // -- the rest is read rarely --
  std::string name;          // host:pid, for messages
  std::string data_address;  // where other workers fetch its objects (tcp://host:port)
  std::vector<bool> offers_type;     // indexed by the scheduler's type ids
  std::uint64_t handed_off_bytes = 0;  // copied here from retiring workers (spreads the copies)
};

}  // namespace treadle
