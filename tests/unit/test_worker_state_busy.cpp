// A worker's loop must heartbeat through long work: the server counts a worker silent for 3 s
// as lost, and a big plan's batch (hundreds of thousands of tasks, frees or inline runs) on a
// loaded machine takes longer than that. The task state offers the loop a chance between steps
// (WorkerActions::still_busy); these tests check that those chances come often enough.
#include <catch2/catch.hpp>

#include "worker_state_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;

namespace {
// The most log entries (runs, reports) between two chances to heartbeat, or from the start
// or to the end.
std::size_t longest_stretch(const RecordingWorkerActions& a) {
  std::size_t longest = 0, from = 0;
  for (std::size_t at : a.busy_at) {
    longest = std::max(longest, at - from);
    from = at;
  }
  return std::max(longest, a.log.size() - from);
}
}  // namespace

TEST_CASE("worker: a batch of many tasks is taken with chances to heartbeat between slices", "[worker]") {
  WorkerStateFixture f;
  BatchBuilder b;
  for (TaskId id = 1; id <= 10000; ++id) b.add(id, heavy_type, {{1000000 + id, "tcp://peer"}});
  f.compute(b);
  CHECK(f.actions.busy_at.size() >= 9);  // every 1024 tasks at most
}

TEST_CASE("worker: the frees riding on a batch are dropped with chances to heartbeat", "[worker]") {
  WorkerStateFixture f;
  std::vector<ObjectId> frees;
  for (TaskId id = 1; id <= 10000; ++id) {
    f.store.put(id, bytes("x"));
    frees.push_back(id);
  }
  f.compute(BatchBuilder().frees(frees));
  CHECK(f.store.count() == 0);
  CHECK(f.actions.busy_at.size() >= 9);
}

TEST_CASE("worker: inline task after inline task, the loop gets a chance to heartbeat before each", "[worker]") {
  WorkerStateFixture f;
  BatchBuilder b;
  // A chain and a fan: each inline task makes the next ready, all in one run.
  b.add(1, light_type, {}, 0, "a");
  for (TaskId id = 2; id <= 2000; ++id) b.add(id, light_type, {{id - 1, ""}});
  for (TaskId id = 3000; id < 5000; ++id) b.add(id, light_type, {}, 0, "c");
  f.compute(b);
  f.actions.busy_at.clear();
  const std::size_t before = f.actions.log.size();
  f.run();
  CHECK(f.actions.count(Did::run_inline) == 4000);
  CHECK(f.actions.count(Did::finished) == 4000);
  CHECK(f.actions.busy_at.size() >= 4000);
  CHECK(f.actions.busy_at.front() <= before + 1);
  CHECK(longest_stretch(f.actions) <= 3);  // one task: its run, its report (and its outputs)
}

TEST_CASE("worker: a batch of tasks with many inputs counts their inputs between chances to heartbeat", "[worker]") {
  WorkerStateFixture f;
  BatchBuilder b;
  // 20 merges of 1,000 fetched inputs each: 20,020 steps, whatever the count of tasks.
  for (TaskId id = 1; id <= 20; ++id) {
    std::vector<BatchBuilder::Input> inputs;
    for (TaskId k = 0; k < 1000; ++k) inputs.push_back({1000000 + id * 1000 + k, "tcp://peer"});
    b.add(id, heavy_type, inputs);
  }
  f.compute(b);
  CHECK(f.actions.busy_at.size() >= 4);
}
