// Freeing plans nobody can need again (engine/server/garbage.cpp).
#include <catch2/catch.hpp>

#include <chrono>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;

namespace {
// A plan of `n` consts merged into one kept result.
PlanBuilder merge_of_consts(int n) {
  PlanBuilder p;
  std::vector<std::uint64_t> inputs;
  for (int i = 0; i < n; ++i) inputs.push_back(local(p.add()));
  p.keep(p.add("loom/data/merge", inputs));
  return p;
}
}  // namespace

TEST_CASE("garbage: a finished plan whose results were released is freed", "[scheduler][garbage]") {
  SchedulerFixture f;
  f.add_worker();
  TaskId base = f.submit(merge_of_consts(100));
  f.run_all();
  TaskId root = base + 100;
  REQUIRE(f.state(root) == TaskState::finished);
  std::size_t before = f.s.memory_estimate();
  f.s.collect_garbage();
  CHECK(f.s.exists(root));  // a client still holds it
  f.s.release(root);
  f.s.collect_garbage();
  CHECK_FALSE(f.s.exists(root));
  CHECK_FALSE(f.s.exists(base));
  CHECK(f.s.live_plans() == 0);
  CHECK(f.s.memory_estimate() < before / 4);
  // Ids go on; new plans work.
  TaskId next = f.submit(merge_of_consts(3));
  CHECK(next == base + 101);
  f.run_all();
  CHECK(f.state(next + 3) == TaskState::finished);
}

TEST_CASE("garbage: a freed plan's cancelled tasks still say cancelled, its finished ones released",
          "[scheduler][garbage]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  auto done = p.add(const_type, {}, 1);
  auto running = p.add(const_type, {}, 1);
  auto queued = p.add(const_type, {}, 1);
  auto after = p.add(const_type, {local(running), local(queued)}, 1);  // waits for both
  p.keep(done).keep(after);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.finish(base + done);
  f.s.schedule();
  f.start(base + running);
  REQUIRE(f.state(base + running) == TaskState::running);
  f.s.release(base + after);  // cancels it and both of its inputs
  f.s.release(base + done);
  for (auto t : {after, running, queued}) CHECK(f.state(base + t) == TaskState::cancelled);
  CHECK(f.state(base + done) == TaskState::released);
  CHECK(f.actions.count(Kind::cancel, w, base + running) == 1);
  f.s.collect_garbage();
  REQUIRE_FALSE(f.s.exists(base));
  for (auto t : {after, running, queued}) CHECK(f.s.state_of(base + t) == TaskState::cancelled);
  CHECK(f.s.state_of(base + done) == TaskState::released);
  // Ids of later plans are live again, and their plans freed in turn tell the same.
  PlanBuilder q;
  q.keep(q.add());
  TaskId next = f.submit(q);
  f.run_all();
  CHECK(f.s.state_of(next) == TaskState::finished);
  f.s.release(next);
  f.s.collect_garbage();
  CHECK(f.s.state_of(next) == TaskState::released);
  CHECK(f.s.state_of(base + queued) == TaskState::cancelled);
}

TEST_CASE("garbage: released tasks stay while a later result could need them for recomputation",
          "[scheduler][garbage]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker();
  f.add_worker();
  PlanBuilder first;
  first.keep(first.add());
  TaskId a = f.submit(first);
  f.run_all();
  PlanBuilder second;
  second.keep(second.add("loom/data/merge", {a}));
  TaskId b = f.submit(second);
  f.run_all();
  f.s.release(a);  // a is released: only b's lineage refers to it now
  REQUIRE(f.state(a) == TaskState::released);
  f.s.collect_garbage();
  REQUIRE(f.s.exists(a));
  // b is lost with its worker: it is recomputed from a, which is recomputed too.
  WorkerId holder = f.s.task(b).locations.front();
  f.s.remove_worker(holder, "test");
  (void)w0;
  f.run_all();
  CHECK(f.state(b) == TaskState::finished);
  f.s.release(b);
  f.s.collect_garbage();
  CHECK_FALSE(f.s.exists(a));
  CHECK_FALSE(f.s.exists(b));
}

TEST_CASE("garbage: a failed plan goes once nobody holds its futures; live inputs lose it as consumer",
          "[scheduler][garbage]") {
  SchedulerFixture f;
  f.add_worker();
  PlanBuilder first;
  first.keep(first.add());
  TaskId shared = f.submit(first);
  f.run_all();
  PlanBuilder second;
  second.keep(second.add("loom/data/merge", {shared}));
  TaskId failing = f.submit(second);
  f.s.schedule();
  f.fail(failing, "boom");
  REQUIRE(f.state(failing) == TaskState::failed);
  f.s.collect_garbage();
  CHECK(f.s.exists(failing));  // the client has not seen the failure yet
  f.s.release(failing);
  f.s.collect_garbage();
  CHECK_FALSE(f.s.exists(failing));
  CHECK(f.s.exists(shared));
  // The kept input still works as an input, and its consumer walk skips the freed task.
  PlanBuilder third;
  third.keep(third.add("loom/data/merge", {shared}));
  TaskId again = f.submit(third);
  f.run_all();
  CHECK(f.state(again) == TaskState::finished);
  f.s.release(shared);
  f.s.release(again);
  f.s.collect_garbage();
  CHECK(f.s.live_plans() == 0);
}

TEST_CASE("garbage: freeing many plans of calls of one kept function takes one pass per plan",
          "[scheduler][garbage]") {
  // The native API's shape: every call takes the function's object, a task of the first plan
  // that the client keeps, so its consumer list holds every call of every live plan. Freeing a
  // plan walked that list once per call of the plan (seconds for 20 plans of 10,000 calls).
  SchedulerFixture f;
  f.add_worker();
  PlanBuilder first;
  first.keep(first.add());
  const TaskId function = f.submit(first);
  constexpr int plans = 20, calls = 10000;
  std::vector<TaskId> bases;
  for (int p = 0; p < plans; ++p) {
    PlanBuilder plan;
    for (int i = 0; i < calls; ++i) plan.keep(plan.add("loom/data/merge", {function}));
    bases.push_back(f.submit(plan));
  }
  for (TaskId base : bases)
    for (int i = 0; i < calls; ++i) f.s.release(base + i);  // cancelled: nobody needs them
  const auto start = std::chrono::steady_clock::now();
  CHECK(f.s.collect_garbage() == std::size_t{plans} * calls);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seconds < 2.0);  // a few ms; the walk per call took 10 s and more
  CHECK(f.s.live_plans() == 1);
  CHECK(f.s.exists(function));
  f.check();
  // The function's consumers are gone with their plans: a new call still runs.
  PlanBuilder again;
  again.keep(again.add("loom/data/merge", {function}));
  const TaskId call = f.submit(again);
  f.run_all();
  CHECK(f.state(call) == TaskState::finished);
}
