// Tasks with zero or several outputs (Rain's model) in the scheduler: consumers name
// (task, output) objects, each output is held, copied, freed and lost on its own, a lost output
// still needed runs its task again, and a plan naming an output a task has not is refused.
#include <catch2/catch.hpp>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;
using S = TaskState;

TEST_CASE("scheduler outputs: consumers of each output run, and an output nobody needs is freed", "[scheduler][outputs]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  auto pair = p.add();
  p.outputs(pair, 2);
  auto first = p.add(const_type, {local(pair, 0)});
  auto second = p.add(const_type, {local(pair, 1)});
  p.keep(first).keep(second);
  TaskId base = f.submit(p);
  const TaskId t = base + pair;
  CHECK(f.s.output_count(t) == 2);
  CHECK(f.s.output_specs(t)->labels == std::vector<std::string>{"out0", "out1"});
  f.s.schedule();
  f.finish(t, 10);
  f.check();
  CHECK(f.s.locations(object_id(t, 0)) == std::vector<WorkerId>{w});
  CHECK(f.s.locations(object_id(t, 1)) == std::vector<WorkerId>{w});
  CHECK(f.s.object_size(object_id(t, 1)) == 10);
  // The consumer of output 1 finishes: output 1 goes, output 0 stays for its consumer.
  f.s.schedule();
  f.finish(base + second);
  f.check();
  CHECK(f.actions.count(Kind::free_data, w, object_id(t, 1)) == 1);
  CHECK(f.actions.count(Kind::free_data, w, object_id(t, 0)) == 0);
  CHECK(f.state(t) == S::finished);
  f.finish(base + first);
  f.check();
  CHECK(f.actions.count(Kind::free_data, w, object_id(t, 0)) == 1);
  CHECK(f.state(t) == S::released);
}

TEST_CASE("scheduler outputs: a client keeps every output and releases them one by one", "[scheduler][outputs]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker();
  PlanBuilder p;
  auto pair = p.add();
  p.outputs(pair, 3).keep(pair);
  TaskId t = f.submit(p) + pair;
  CHECK(f.s.object_keeps(object_id(t, 2)) == 1);
  f.run_all();
  f.check();
  CHECK(f.actions.count(Kind::kept_finished, t) == 1);
  f.s.release(object_id(t, 1));
  f.check();
  CHECK(f.actions.count(Kind::free_data, w, object_id(t, 1)) == 1);
  CHECK(f.s.has_data(object_id(t, 0)));
  CHECK_FALSE(f.s.has_data(object_id(t, 1)));
  f.s.release(object_id(t, 1));  // twice: ignored
  f.check();
  // A new plan may use a kept output, not the released one.
  PlanBuilder again;
  again.keep(again.add(const_type, {object_id(t, 1)}));
  CHECK_THROWS_WITH(f.submit(again), Contains("output 1 of task") && Contains("was released"));
  PlanBuilder ok;
  ok.keep(ok.add(const_type, {object_id(t, 2)}));
  TaskId user = f.submit(ok);
  f.run_all();
  f.check();
  CHECK(f.state(user) == S::finished);
  f.s.release(object_id(t, 0));
  f.s.release(object_id(t, 2));
  f.check();
  CHECK(f.state(t) == S::released);
}

TEST_CASE("scheduler outputs: naming an output a task has not is refused with a clear message", "[scheduler][outputs]") {
  SchedulerFixture f;
  f.add_worker();
  PlanBuilder p;
  auto pair = p.add();
  p.outputs(pair, 2);
  p.keep(p.add(const_type, {local(pair, 3)}));
  CHECK_THROWS_WITH(f.submit(p), Contains("uses output 3 of task 0 of the plan, which has 2 outputs"));
  CHECK(f.s.task_count() == 0);

  PlanBuilder good;
  good.keep(good.add());  // one output
  TaskId one = f.submit(good);
  PlanBuilder bad;
  bad.keep(bad.add(const_type, {object_id(one, 1)}));
  CHECK_THROWS_WITH(f.submit(bad), Contains("uses output 1 of task " + std::to_string(one)) && Contains("which has 1 output"));
  f.check();
}

TEST_CASE("scheduler outputs: a task with no outputs runs for its future and holds nothing", "[scheduler][outputs]") {
  SchedulerFixture f;
  f.add_worker();
  PlanBuilder p;
  auto none = p.add();
  p.outputs(none, 0).keep(none);
  TaskId t = f.submit(p) + none;
  CHECK_FALSE(f.s.object_exists(t));
  f.run_all();
  f.check();
  CHECK(f.actions.count(Kind::kept_finished, t) == 1);
  f.s.release(t);
  f.check();
  CHECK(f.state(t) == S::released);
}

TEST_CASE("scheduler outputs: a lost output still needed runs its task again; surviving copies stay", "[scheduler][outputs]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker();
  WorkerId w1 = f.add_worker();
  PlanBuilder p;
  auto pair = p.add();
  p.outputs(pair, 2).keep(pair);
  TaskId t = f.submit(p) + pair;
  f.s.schedule();
  REQUIRE(f.worker_of(t) == w0);
  f.finish(t);
  // w1 fetched output 1 for some consumer and holds a copy.
  f.s.data_replicated(w1, object_id(t, 1));
  f.check();
  CHECK(f.s.locations(object_id(t, 1)) == std::vector<WorkerId>{w0, w1});
  f.s.remove_worker(w0, "killed");
  f.check();
  CHECK(f.state(t) == S::ready);
  f.s.schedule();
  // Output 0 lived only on w0 and is kept: the task runs again, on w1.
  CHECK(f.state(t) == S::assigned);
  CHECK(f.worker_of(t) == w1);
  CHECK(f.s.locations(object_id(t, 1)) == std::vector<WorkerId>{w1});
  f.finish(t);
  f.check();
  CHECK(f.s.locations(object_id(t, 0)) == std::vector<WorkerId>{w1});
  CHECK(f.actions.count(Kind::kept_finished, t) == 2);
}

TEST_CASE("scheduler outputs: losing only an output nobody needs recomputes nothing", "[scheduler][outputs]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker();
  WorkerId w1 = f.add_worker();
  PlanBuilder p;
  auto pair = p.add();
  p.outputs(pair, 2).keep(pair);
  TaskId t = f.submit(p) + pair;
  f.s.schedule();
  f.finish(t);
  f.s.data_replicated(w1, object_id(t, 0));
  f.s.release(object_id(t, 1));  // output 1 freed; output 0 on w0 and w1
  f.s.remove_worker(w0, "killed");
  f.check();
  CHECK(f.state(t) == S::finished);
  CHECK(f.s.locations(object_id(t, 0)) == std::vector<WorkerId>{w1});
}
