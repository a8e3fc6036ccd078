// Task redirection: a task returns a plan that runs in its place (HyperLoom's redirection).
// The two ways it used to hang on more than one worker are pinned here: consumers chained
// behind the redirected task on its worker, and a consumer sent to fetch the result from a
// worker that had not yet taken it under the task's name.
#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using S = TaskState;

namespace {

const std::string py{"test/py"};

// What a worker running `id` sends back when the task returns a one-task plan.
PlanRequest returned_plan(std::uint32_t cpus = 1) {
  PlanBuilder p;
  p.keep(p.add(py, {}, cpus, "returned"));
  return p.build();
}

// Plays the workers' side of alias requests recorded since `mark`.
void hold_aliases(SchedulerFixture& f, std::size_t mark) {
  for (auto& a : f.actions.since(mark))
    if (a.kind == Kind::alias) f.s.alias_held(a.worker, a.task);
}

// A kept task x, placed, that returned a one-task plan which is now placed too; returns x.
TaskId redirected_task(SchedulerFixture& f) {
  PlanBuilder p;
  auto x = p.add(py, {}, 1, "x");
  p.keep(x);
  TaskId id = f.submit(p) + x;
  f.s.schedule();
  f.s.redirect(f.worker_of(id), id, returned_plan());
  f.s.schedule();
  return id;
}

}  // namespace

TEST_CASE("scheduler redirect: consumers chained behind a redirected task are placed again", "[scheduler][redirect]") {
  SchedulerFixture f;
  f.add_worker(1, {py});
  f.add_worker(1, {py});
  PlanBuilder p;
  auto x = p.add(py, {}, 1, "x");
  auto c = p.add(py, {local(x)}, 1, "c");   // chained behind x
  auto d = p.add(const_type, {local(c)}, 0, "d");  // chained behind c
  p.keep(d);
  TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.state(base + x) == S::assigned);
  REQUIRE(f.state(base + c) == S::assigned);
  REQUIRE(f.worker_of(base + c) == f.worker_of(base + x));
  WorkerId where = f.worker_of(base + x);
  f.start(base + x);

  const std::size_t mark = f.actions.log.size();
  f.s.redirect(where, base + x, returned_plan());
  f.check();
  CHECK(f.state(base + x) == S::redirected);
  // The chain is undone on that worker: it will not make x there.
  CHECK(f.state(base + c) == S::waiting);
  CHECK(f.state(base + d) == S::waiting);
  CHECK(f.actions.count(Kind::cancel, where, base + c) == 1);
  CHECK(f.actions.count(Kind::cancel, where, base + d) == 1);
  CHECK(f.s.worker(where)->free_cpus == 1);  // x's cpu and c's are free again

  // The returned plan runs (anywhere); x finishes only when a worker holds it under its name.
  f.s.schedule();
  TaskId root = *f.s.redirect_target(base + x);
  REQUIRE(f.state(root) == S::assigned);
  WorkerId root_worker = f.worker_of(root);
  f.finish(root);
  f.check();
  CHECK(f.state(base + x) == S::redirected);
  CHECK(f.actions.count(Kind::alias, root_worker, base + x) == 1);
  CHECK(f.state(base + c) == S::waiting);

  hold_aliases(f, mark);
  f.check();
  CHECK(f.state(base + x) == S::finished);
  CHECK(f.s.task(base + x).locations == std::vector<WorkerId>{root_worker});
  CHECK(f.state(base + c) == S::ready);

  f.run_all();
  f.check();
  CHECK(f.state(base + d) == S::finished);
}

TEST_CASE("scheduler redirect: recursive redirection on two workers always ends", "[scheduler][redirect]") {
  // fib-like: every py task returns a plan of two py tasks and a merge, down to a depth.
  for (std::uint32_t workers : {1u, 2u, 3u}) {
    SchedulerFixture f;
    for (std::uint32_t i = 0; i < workers; ++i) f.add_worker(2, {py});
    PlanBuilder p;
    auto top = p.add(py, {}, 1, "fib");
    p.keep(p.add(const_type, {local(top)}, 0, "consumer"));
    TaskId base = f.submit(p);
    std::map<TaskId, int> depth{{base + top, 0}};
    const std::size_t mark = 0;
    for (int step = 0; step < 10000; ++step) {
      f.s.schedule();
      bool moved = false;
      for (TaskId id = 0; id < f.s.task_count(); ++id) {
        if (!f.s.exists(id)) continue;
        S st = f.state(id);
        if ((st != S::assigned && st != S::running) || !f.runnable(id)) continue;
        auto level = depth.find(id);
        if (level != depth.end() && level->second < 4) {
          PlanBuilder r;
          auto a = r.add(py, {}, 1, "fib");
          auto b = r.add(py, {}, 1, "fib");
          r.keep(r.add(const_type, {local(a), local(b)}, 0, "add"));
          TaskId next = f.s.task_count();
          f.s.redirect(f.worker_of(id), id, r.build());
          depth[next + a] = level->second + 1;
          depth[next + b] = level->second + 1;
        } else {
          f.finish(id);
        }
        moved = true;
        f.check();
      }
      const std::size_t before = f.actions.log.size();
      hold_aliases(f, mark);
      f.actions.log.erase(std::remove_if(f.actions.log.begin(), f.actions.log.end(),
                                         [](const RecordingActions::Action& a) { return a.kind == Kind::alias; }),
                          f.actions.log.end());
      if (!moved && before == f.actions.log.size()) break;
    }
    INFO(workers << " workers");
    CHECK(f.state(base + 1) == S::finished);
    f.check();
  }
}

TEST_CASE("scheduler redirect: a late alias of a released or failed task is dropped", "[scheduler][redirect]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(1, {py});
  const TaskId x = redirected_task(f);
  TaskId root = *f.s.redirect_target(x);
  f.finish(root);
  REQUIRE(f.actions.count(Kind::alias, x) == 1);
  f.s.release(x);  // the client let go before the worker answered
  f.check();
  CHECK(f.state(x) == S::cancelled);
  f.s.alias_held(w, x);
  f.check();
  CHECK(f.actions.count(Kind::free_data, w, x) == 1);
  CHECK(f.state(x) == S::cancelled);
}

TEST_CASE("scheduler redirect: the alias holder dies before answering", "[scheduler][redirect]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1, {py});
  f.add_worker(1, {py});
  const TaskId x = redirected_task(f);
  TaskId root = *f.s.redirect_target(x);
  WorkerId holder = f.worker_of(root);
  f.finish(root);
  f.s.remove_worker(holder, "killed");
  f.check();
  // The root is recomputed on the other worker, which is then asked for the alias.
  const std::size_t mark = f.actions.log.size();
  f.run_all();
  WorkerId other = holder == w0 ? 1 : w0;
  CHECK(f.actions.count(Kind::alias, other, x) == 1);
  hold_aliases(f, mark);
  f.check();
  CHECK(f.state(x) == S::finished);
}
