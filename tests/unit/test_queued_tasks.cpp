// QueuedTasks (engine/server/queued_tasks.hpp): a worker's recent cpu task assignments for work
// stealing, a ring that is never touched when a task leaves.
#include <catch2/catch.hpp>

#include <vector>

#include "server/queued_tasks.hpp"

using treadle::QueuedTasks;
using treadle::TaskId;

namespace {
// What it holds, newest first.
std::vector<TaskId> newest_first(const QueuedTasks& q) {
  std::vector<TaskId> out;
  for (std::size_t k = 0; k < q.size(); ++k) out.push_back(q.newest(k));
  return out;
}
}  // namespace

TEST_CASE("queued tasks: newest first, the oldest dropped once the ring is full", "[stealing]") {
  QueuedTasks q;
  CHECK(q.size() == 0);
  for (TaskId id = 1; id <= 5; ++id) q.push(id, 4);  // keeps at least 4: a ring of 8
  CHECK(newest_first(q) == std::vector<TaskId>{5, 4, 3, 2, 1});
  for (TaskId id = 6; id <= 10; ++id) q.push(id, 4);
  CHECK(newest_first(q) == std::vector<TaskId>{10, 9, 8, 7, 6, 5, 4, 3});
}

TEST_CASE("queued tasks: a worker's larger queue grows the ring, keeping its order", "[stealing]") {
  QueuedTasks q;
  for (TaskId id = 0; id < 20; ++id) q.push(id, 8);  // a ring of 8: 12..19
  q.push(20, 12);                                     // grows to 16, the 8 kept oldest first
  CHECK(newest_first(q) == std::vector<TaskId>{20, 19, 18, 17, 16, 15, 14, 13, 12});
  for (TaskId id = 21; id < 1000; ++id) q.push(id, 12);
  REQUIRE(q.size() == 16);  // bounded: tasks that left are never removed, only overwritten
  CHECK(q.newest(0) == 999);
  CHECK(q.newest(15) == 984);
}
