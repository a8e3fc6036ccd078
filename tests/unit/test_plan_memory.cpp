// What a plan costs the server per task (issue 15: at most 150 bytes a task at a million tasks):
// the ready queue's entries, the plan's config offsets, and no label column for a plan without labels.
#include <catch2/catch.hpp>

#include "scheduler_fixture.hpp"
#include "server/ready_queue.hpp"

using namespace treadle;
using namespace treadle::testing;

namespace {
// `n` consts merged into one kept result, with its label column as the Python client sends it:
// one entry per task, all 0 when no task has a label.
PlanRequest merge_of_consts(int n, const std::string& label = "") {
  PlanBuilder p;
  std::vector<std::uint64_t> inputs;
  for (int i = 0; i < n; ++i) inputs.push_back(local(p.add(const_type, {}, 0, label)));
  p.keep(p.add("loom/data/merge", inputs));
  PlanRequest r = p.build();
  if (r.label_of.empty()) r.label_of.assign(p.size(), 0);
  return r;
}
}  // namespace

TEST_CASE("ready queue: higher priority first, then lower id, in 8 bytes an entry", "[scheduler][memory]") {
  static_assert(sizeof(ReadyQueue::key(0, 0)) == 8, "a ready entry is one 8-byte key");
  ReadyQueue q;
  q.push(7, 1);
  q.push(3, 1);
  q.push(9, 5);
  q.push(1, 0);
  q.push(task_mask, 2);  // the largest task id keeps its place
  std::vector<TaskId> order;
  while (!q.empty()) {
    order.push_back(ReadyQueue::id_of(q.top_key()));
    q.pop();
  }
  CHECK(order == std::vector<TaskId>{9, task_mask, 3, 7, 1});
  // Priorities beyond what the key ranks (chains of 16M tasks) tie, and go by id.
  CHECK(ReadyQueue::key(5, ReadyQueue::max_ranked_priority) < ReadyQueue::key(6, 1 << 30));
  CHECK(ReadyQueue::key(6, 1 << 30) < ReadyQueue::key(4, ReadyQueue::max_ranked_priority - 1));
}

TEST_CASE("plan memory: a plan without labels keeps no label column", "[scheduler][memory]") {
  SchedulerFixture f;
  f.add_worker();
  TaskId plain = f.s.submit(1, merge_of_consts(100));
  CHECK(f.s.plan_of(plain).label_of.empty());
  CHECK(f.s.label(plain).empty());
  TaskId labelled = f.s.submit(1, merge_of_consts(100, "leaf"));
  CHECK(f.s.plan_of(labelled).label_of.size() == 101);
  CHECK(f.s.label(labelled) == "leaf");
  CHECK(f.s.label(labelled + 100).empty());
  f.run_all();
  CHECK(f.state(plain + 100) == TaskState::finished);
  CHECK(f.state(labelled + 100) == TaskState::finished);
}

TEST_CASE("plan memory: a wide plan's tables cost at most 92 bytes a task", "[scheduler][memory]") {
  // 64 the record, 4 the id -> plan entry, 4 the config offset, 8 the one input each task is,
  // 4 + 4 + 4 the input and consumer offsets and the consumer; no label column.
  SchedulerFixture f;
  f.add_worker();
  const int n = 20000;
  const std::size_t before = f.s.memory_estimate();
  f.s.submit(1, merge_of_consts(n));
  const double per_task = static_cast<double>(f.s.memory_estimate() - before) / (n + 1);
  INFO("bytes per task: " << per_task);
  CHECK(per_task <= 92.5);
}
