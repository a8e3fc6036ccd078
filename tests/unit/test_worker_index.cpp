// WorkerIndex (engine/server/worker_index.hpp): the light order, brought up to date when read,
// must be the order a full sort gives after any sequence of changes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "server/worker_index.hpp"

using treadle::WorkerId;
using treadle::WorkerIndex;
using treadle::WorkerInfo;

namespace {

// Every live worker in the index's light order (a `fits` that refuses all visits them all).
std::vector<WorkerId> light_order(const WorkerIndex& index) {
  std::vector<WorkerId> seen;
  index.least_busy(0, 0, [&](WorkerId id) {
    seen.push_back(id);
    return false;
  });
  return seen;
}

// The same order by a full sort: fewest light tasks per cpu, then lowest id.
std::vector<WorkerId> sorted_order(const std::vector<std::unique_ptr<WorkerInfo>>& workers) {
  std::vector<WorkerId> ids;
  for (auto& w : workers)
    if (w->alive) ids.push_back(w->id);
  std::sort(ids.begin(), ids.end(), [&](WorkerId a, WorkerId b) {
    const std::uint64_t x = std::uint64_t{workers[a]->light_tasks} * workers[b]->cpus;
    const std::uint64_t y = std::uint64_t{workers[b]->light_tasks} * workers[a]->cpus;
    return x != y ? x < y : a < b;
  });
  return ids;
}

}  // namespace

TEST_CASE("worker index: the light order matches a full sort after random changes", "[worker_index]") {
  std::mt19937 random(15);
  for (int round = 0; round < 20; ++round) {
    WorkerIndex index;
    std::vector<std::unique_ptr<WorkerInfo>> workers;
    const int count = 1 + int(random() % 40);
    for (int i = 0; i < count; ++i) {
      auto w = std::make_unique<WorkerInfo>();
      w->id = WorkerId(i);
      w->cpus = 1 + random() % 4;
      w->free_cpus = std::int32_t(w->cpus);
      workers.push_back(std::move(w));
      index.insert(*workers.back());
    }
    for (int turn = 0; turn < 200; ++turn) {
      // Several changes between reads, as a report of many finished tasks makes; some of them
      // undo each other, some workers leave.
      const int changes = 1 + int(random() % 12);
      for (int c = 0; c < changes; ++c) {
        WorkerInfo& w = *workers[random() % workers.size()];
        if (!w.alive) continue;
        const WorkerIndex::Load before = WorkerIndex::load_of(w);
        switch (random() % 4) {
          case 0: ++w.light_tasks; break;
          case 1: w.light_tasks -= w.light_tasks > 0; break;
          case 2: w.light_tasks += 1 + random() % 5; break;
          case 3: w.free_cpus += random() % 2 ? 1 : -1; break;
        }
        index.update(before, w);
        if (random() % 100 == 0 && workers.size() > 1) {
          index.erase(w);
          w.alive = false;
        }
      }
      REQUIRE(light_order(index) == sorted_order(workers));
    }
  }
}

TEST_CASE("worker index: the least busy worker for light tasks after changes undone before a read", "[worker_index]") {
  WorkerIndex index;
  std::vector<std::unique_ptr<WorkerInfo>> workers;
  for (WorkerId i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<WorkerInfo>());
    workers.back()->id = i;
    index.insert(*workers.back());
  }
  auto change = [&](WorkerId id, int delta) {
    WorkerInfo& w = *workers[id];
    const WorkerIndex::Load before = WorkerIndex::load_of(w);
    w.light_tasks += delta;
    index.update(before, w);
  };
  change(0, +1);
  change(0, -1);  // back where it was before anyone read the order
  change(1, +2);
  CHECK(index.least_busy(0, 0, [](WorkerId) { return true; }) == 0);
  CHECK(light_order(index) == std::vector<WorkerId>{0, 2, 1});
  index.erase(*workers[0]);
  workers[0]->alive = false;
  change(2, +3);  // now busier than worker 1
  CHECK(light_order(index) == std::vector<WorkerId>{1, 2});
}
