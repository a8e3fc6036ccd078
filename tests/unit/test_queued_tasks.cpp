// QueuedTasks (engine/server/queued_tasks.hpp): a worker's recent cpu task assignments for work
// stealing, a ring that is never touched when a task leaves; its count in the worker's record,
// its entries in QueuedTaskRings.
#include <catch2/catch.hpp>

#include <vector>

#include "server/queued_tasks.hpp"

using treadle::QueuedTaskRings;
using treadle::QueuedTasks;
using treadle::TaskId;

namespace {
// What it holds, newest first.
std::vector<TaskId> newest_first(const QueuedTasks& q, const TaskId* ring) {
  std::vector<TaskId> out;
  for (std::size_t k = 0; k < q.size(); ++k) out.push_back(q.newest(ring, k));
  return out;
}
}  // namespace

TEST_CASE("queued tasks: newest first, the oldest dropped once the ring is full", "[stealing]") {
  QueuedTaskRings rings;
  rings.reserve(1);
  QueuedTasks q;
  CHECK(q.size() == 0);
  for (TaskId id = 1; id <= 5; ++id) q.push(rings.of(0), id, 4);  // keeps at least 4: a ring of 8
  CHECK(newest_first(q, rings.of(0)) == std::vector<TaskId>{5, 4, 3, 2, 1});
  for (TaskId id = 6; id <= 10; ++id) q.push(rings.of(0), id, 4);
  CHECK(newest_first(q, rings.of(0)) == std::vector<TaskId>{10, 9, 8, 7, 6, 5, 4, 3});
}

TEST_CASE("queued tasks: a worker's larger queue grows the ring, keeping its order", "[stealing]") {
  QueuedTaskRings rings;
  rings.reserve(1);
  TaskId* ring = rings.of(0);
  QueuedTasks q;
  for (TaskId id = 0; id < 20; ++id) q.push(ring, id, 8);  // a ring of 8: 12..19
  q.push(ring, 20, 12);                                      // grows to 16: the 8 held stay, oldest first
  CHECK(newest_first(q, ring) == std::vector<TaskId>{20, 19, 18, 17, 16, 15, 14, 13, 12});
  for (TaskId id = 21; id < 1000; ++id) q.push(ring, id, 12);
  REQUIRE(q.size() == 16);  // bounded: tasks that left are never removed, only overwritten
  CHECK(q.newest(ring, 0) == 999);
  CHECK(q.newest(ring, 15) == 984);
}

TEST_CASE("queued tasks: a ring asked to keep more than stealing reads holds the newest it reads",
          "[stealing]") {
  QueuedTaskRings rings;
  rings.reserve(3);
  QueuedTasks q;
  for (TaskId id = 0; id < 1000; ++id) q.push(rings.of(1), id, 300);  // keeps 512
  REQUIRE(q.size() == treadle::queued_tasks_scanned);
  for (std::size_t k = 0; k < q.size(); ++k) CHECK(q.newest(rings.of(1), k) == 999 - k);
}

TEST_CASE("queued tasks: each worker's entries are its own, and stay as workers join", "[stealing]") {
  QueuedTaskRings rings;
  rings.reserve(2);
  std::vector<QueuedTasks> per_worker(200);
  for (TaskId id = 0; id < 2000; ++id) {
    const auto w = static_cast<treadle::WorkerId>(id % 200);
    if (rings.workers() <= w) rings.reserve(w + 1);  // workers join as the scheduler reaches them
    per_worker[w].push(rings.of(w), id, 16);
  }
  for (treadle::WorkerId w = 0; w < 200; ++w) {
    REQUIRE(per_worker[w].size() == 10);
    for (std::size_t k = 0; k < 10; ++k) CHECK(per_worker[w].newest(rings.of(w), k) == 1800 + w - 200 * k);
  }
}
