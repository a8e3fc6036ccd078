// Recovery: a worker is lost. Its tasks run again elsewhere, results that lived only there
// are recomputed from the plan if still needed (through released inputs: lineage), late
// reports are ignored, and nothing is ever sent to a dead worker. No sockets.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::VectorContains;
using S = TaskState;

namespace {

// Tasks are chosen by a fixed generator so a failure replays exactly.
struct Lcg {
  std::uint64_t state;
  explicit Lcg(std::uint64_t seed) : state(seed * 6364136223846793005ULL + 1442695040888963407ULL) {}
  std::uint32_t next(std::uint32_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>((state >> 33) % bound);
  }
  bool chance(std::uint32_t percent) { return next(100) < percent; }
};

}  // namespace

TEST_CASE("scheduler recovery: tasks assigned to a lost worker are placed elsewhere", "[scheduler][recovery]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(2);
  WorkerId w1 = f.add_worker(2);
  PlanBuilder p;
  for (int i = 0; i < 4; ++i) p.keep(p.add(const_type, {}, 1));
  auto head = p.add();
  p.keep(p.add(const_type, {local(head)}));  // a light chain
  TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.s.count(S::assigned) == 6);
  std::vector<TaskId> on_w0;
  for (TaskId id = base; id < base + 6; ++id)
    if (f.worker_of(id) == w0) on_w0.push_back(id);
  REQUIRE(on_w0.size() >= 2);
  f.start(on_w0.front());

  const std::size_t mark = f.actions.log.size();
  f.s.remove_worker(w0, "connection lost");
  f.check();
  CHECK_FALSE(f.s.worker(w0)->alive);
  CHECK(f.s.alive_workers() == 1);
  CHECK(f.s.worker(w0)->free_cpus == 2);
  CHECK(f.s.worker(w0)->light_tasks == 0);
  for (TaskId id : on_w0) {
    INFO(f.s.describe(id));
    CHECK(f.state(id) == (f.s.task(id).unfinished_inputs ? S::waiting : S::ready));
    CHECK_THAT(f.story(id), VectorContains(std::string("assigned->waiting: its worker was lost")) ||
                                VectorContains(std::string("running->waiting: its worker was lost")));
  }
  CHECK(f.actions.since(mark).empty());  // nothing to tell the dead worker, nor anyone else

  f.run_all();
  for (TaskId id : on_w0) {
    if (f.s.keeps(id) == 0) continue;  // the chain's head: done and released
    CHECK(f.state(id) == S::finished);
    CHECK(f.s.task(id).locations == std::vector<WorkerId>{w1});
  }
  CHECK(f.s.count(S::finished) == 5);
  f.check();
}

TEST_CASE("scheduler recovery: kept data held only by the lost worker is recomputed", "[scheduler][recovery]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  WorkerId w1 = f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "a");
  auto b = p.add(const_type, {}, 0, "b");
  p.keep(a).keep(b);
  TaskId base = f.submit(p);
  f.s.schedule();
  TaskId A = base + a, B = base + b;
  TaskId on_w0 = f.worker_of(A) == w0 ? A : B;
  TaskId on_w1 = on_w0 == A ? B : A;
  f.run_all();
  REQUIRE(f.actions.count(Kind::kept_finished, on_w0) == 1);
  // A replica keeps the second result safe.
  f.s.data_replicated(w0, on_w1);
  REQUIRE(f.s.task(on_w1).locations.size() == 2);

  f.s.remove_worker(w0, "test");
  f.check();
  CHECK(f.state(on_w0) == S::ready);
  CHECK(f.s.task(on_w0).lost_data);
  CHECK(f.state(on_w1) == S::finished);
  CHECK(f.s.task(on_w1).locations == std::vector<WorkerId>{w1});
  CHECK_THAT(f.story(on_w1), Equals(std::vector<std::string>{
                                 "waiting->ready: submitted; it has no inputs",
                                 "ready->assigned: placed on a worker",
                                 "assigned->finished: worker reported the result",
                             }));

  f.run_all();
  CHECK(f.state(on_w0) == S::finished);
  CHECK(f.s.task(on_w0).locations == std::vector<WorkerId>{w1});
  CHECK_FALSE(f.s.task(on_w0).lost_data);
  CHECK(f.actions.count(Kind::kept_finished, on_w0) == 2);  // wakes clients that waited meanwhile
  f.check();
}

TEST_CASE("scheduler recovery: a lost input of unfinished tasks is recomputed", "[scheduler][recovery]") {
  SchedulerFixture f;
  f.add_worker(1);
  f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "a");
  auto c = p.add(const_type, {}, 1, "c");
  auto b = p.add(const_type, {local(a), local(c)}, 1, "b");
  p.keep(b);
  TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.worker_of(base + a) != f.worker_of(base + c));
  WorkerId lost = f.worker_of(base + a), survivor = f.worker_of(base + c);
  f.finish(base + a);
  f.start(base + c);
  REQUIRE(f.state(base + b) == S::waiting);

  f.s.remove_worker(lost, "test");
  f.check();
  CHECK(f.state(base + a) == S::ready);
  CHECK(f.state(base + c) == S::running);  // on the survivor: untouched
  CHECK(f.state(base + b) == S::waiting);
  CHECK(f.s.task(base + b).unfinished_inputs == 2);

  f.run_all();
  CHECK(f.state(base + b) == S::finished);
  CHECK(f.state(base + a) == S::released);
  CHECK(f.actions.count(Kind::free_data, survivor, base + a) == 1);
  f.check();
}

TEST_CASE("scheduler recovery: lost data is recomputed through released inputs", "[scheduler][recovery]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  auto x = p.add(const_type, {}, 0, "x");
  auto y = p.add(const_type, {local(x)}, 0, "y");
  auto z = p.add(const_type, {local(y)}, 0, "z");
  auto keep_x = p.add(const_type, {}, 0, "x2");
  auto y2 = p.add(const_type, {local(keep_x)}, 0, "y2");
  p.keep(z).keep(keep_x).keep(y2);
  TaskId base = f.submit(p);
  f.run_all();
  REQUIRE(f.state(base + x) == S::released);
  REQUIRE(f.state(base + y) == S::released);
  REQUIRE(f.state(base + z) == S::finished);
  WorkerId w1 = f.add_worker(1);
  f.s.data_replicated(w1, base + keep_x);  // x2 survives, y2 does not

  f.s.remove_worker(w0, "test");
  f.check();
  CHECK(f.state(base + z) == S::waiting);
  CHECK(f.state(base + y) == S::waiting);
  CHECK(f.state(base + x) == S::ready);
  CHECK_THAT(f.story(base + x), Equals(std::vector<std::string>{
                                    "waiting->ready: submitted; it has no inputs",
                                    "ready->assigned: placed on a worker",
                                    "assigned->finished: worker reported the result",
                                    "finished->released: nobody needs the result",
                                    "released->waiting: recomputing a result that is needed again",
                                    "waiting->ready: inputs of a recomputed task are there",
                                }));
  // The walk stops at data that still exists.
  CHECK(f.state(base + keep_x) == S::finished);
  CHECK(f.state(base + y2) == S::ready);

  f.run_all();
  CHECK(f.state(base + z) == S::finished);
  CHECK(f.state(base + y2) == S::finished);
  CHECK(f.state(base + x) == S::released);
  CHECK(f.state(base + y) == S::released);
  CHECK(f.actions.count(Kind::free_data, w1, base + x) == 1);
  CHECK(f.actions.count(Kind::free_data, w1, base + y) == 1);
  CHECK(f.actions.count(Kind::assign, w1, base + keep_x) == 0);  // not recomputed
  f.check();
}

TEST_CASE("scheduler recovery: a long lineage is recomputed without deep recursion", "[scheduler][recovery]") {
  SchedulerFixture f;
  constexpr std::uint32_t n = 100000;
  // Cpus enough that the whole chain may be sent ahead at once (light_tasks_per_cpu).
  constexpr std::uint32_t cpus = n / light_tasks_per_cpu + 1;
  WorkerId w0 = f.add_worker(cpus);
  PlanBuilder p;
  p.add();
  for (std::uint32_t i = 1; i < n; ++i) p.add(const_type, {local(i - 1)});
  p.keep(n - 1);
  TaskId base = f.submit(p);
  f.s.schedule();
  for (TaskId id = base; id < base + n; ++id) f.finish(id);
  REQUIRE(f.state(base + n - 1) == S::finished);
  REQUIRE(f.s.count(S::released) == n - 1);
  f.add_worker(cpus);
  f.s.remove_worker(w0, "test");
  CHECK(f.s.count(S::waiting) == n - 1);
  CHECK(f.s.count(S::ready) == 1);
  f.s.schedule();  // chained again, in one call
  CHECK(f.s.count(S::assigned) == n);
}

TEST_CASE("scheduler recovery: data nobody needs is not recomputed", "[scheduler][recovery]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  SECTION("results already released stay released") {
    PlanBuilder p;
    auto x = p.add();
    p.keep(p.add(const_type, {local(x)}));
    TaskId base = f.submit(p);
    f.run_all();
    f.s.release(base + 1);
    REQUIRE(f.s.count(S::released) == 2);
    f.add_worker(1);
    const std::size_t mark = f.actions.log.size();
    f.s.remove_worker(w0, "test");
    f.s.schedule();
    CHECK(f.s.count(S::released) == 2);
    CHECK(f.actions.since(mark).empty());
  }
  SECTION("a lost result released while it is being recomputed is cancelled") {
    PlanBuilder p;
    p.keep(p.add(const_type, {}, 0, "a"));
    TaskId a = f.submit(p);
    f.run_all();
    f.s.remove_worker(w0, "test");  // no worker left: it waits
    REQUIRE(f.state(a) == S::ready);
    f.s.release(a);
    CHECK(f.state(a) == S::cancelled);
    CHECK_THAT(f.story(a).back(), Equals("ready->cancelled: nobody needs it any more"));
    f.add_worker(1);
    f.s.schedule();
    CHECK(f.actions.count(Kind::assign, a) == 1);  // only the first run
  }
  f.check();
}

TEST_CASE("scheduler recovery: a consumer on a surviving worker whose input was lost waits again",
          "[scheduler][recovery]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder first;
  first.keep(first.add(const_type, {}, 0, "a"));
  TaskId a = f.submit(first);
  f.s.schedule();
  f.finish(a, 1 << 20);  // lives on w0 only

  WorkerId w1 = f.add_worker(2, {"test/on-w1"});
  PlanBuilder p;
  auto assigned = p.add("test/on-w1", {a}, 0, "assigned");
  auto running = p.add("test/on-w1", {a}, 1, "running");
  p.keep(assigned).keep(running);
  TaskId base = f.submit(p);
  f.s.release(a);  // from now on the consumers alone hold it
  f.s.schedule();
  REQUIRE(f.worker_of(base + assigned) == w1);
  REQUIRE(f.worker_of(base + running) == w1);
  f.start(base + running);

  f.s.remove_worker(w0, "test");
  f.check();
  for (TaskId id : {base + assigned, base + running}) {
    INFO(f.s.describe(id));
    CHECK(f.state(id) == S::waiting);
    CHECK(f.actions.count(Kind::cancel, w1, id) == 1);
  }
  CHECK_THAT(f.story(base + assigned),
             VectorContains(std::string("assigned->waiting: an input was lost with a worker")));
  CHECK_THAT(f.story(base + running), VectorContains(std::string("running->waiting: an input was lost with a worker")));
  CHECK(f.state(a) == S::ready);
  CHECK(f.s.worker(w1)->free_cpus == 2);

  f.run_all();
  CHECK(f.state(base + assigned) == S::finished);
  CHECK(f.state(base + running) == S::finished);
  CHECK(f.state(a) == S::released);
  f.check();
}

TEST_CASE("scheduler recovery: tasks chained behind a consumer that waits again wait too",
          "[scheduler][recovery]") {
  // b runs on w1 and fetches a from w0; c is chained behind b on w1. When w0 dies, b must
  // wait for a again and may be placed anywhere: c cannot stay on w1 expecting b there.
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder first;
  first.keep(first.add(const_type, {}, 0, "a"));
  TaskId a = f.submit(first);
  f.s.schedule();
  f.finish(a);
  WorkerId w1 = f.add_worker(1, {"test/b"});
  WorkerId w2 = f.add_worker(1, {"test/b"});
  PlanBuilder p;
  auto b = p.add("test/b", {a}, 0, "b");  // w0 does not offer it
  auto c = p.add(const_type, {local(b)}, 0, "c");
  p.keep(c);
  TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.worker_of(base + b) == w1);
  REQUIRE(f.worker_of(base + c) == w1);  // chained

  f.s.remove_worker(w0, "test");
  f.check();
  CHECK(f.state(base + b) == S::waiting);
  CHECK(f.state(base + c) == S::waiting);
  CHECK(f.actions.count(Kind::cancel, w1, base + b) == 1);
  CHECK(f.actions.count(Kind::cancel, w1, base + c) == 1);

  f.s.schedule();  // a is recomputed on w1 or w2, and b and c are chained behind it there
  f.check();
  CHECK(f.worker_of(base + c) == f.worker_of(a));
  f.run_all();
  CHECK(f.state(base + c) == S::finished);
  CHECK(f.s.task(base + c).locations == f.s.task(a).locations);
  (void)w2;
  f.check();
}

TEST_CASE("scheduler recovery: late and stray reports are ignored safely", "[scheduler][recovery]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  WorkerId w1 = f.add_worker(1);
  PlanBuilder p;
  auto x = p.add(const_type, {}, 1, "x");
  auto y = p.add(const_type, {}, 1, "y");
  p.keep(x).keep(y);
  TaskId base = f.submit(p);
  f.s.schedule();
  TaskId X = f.worker_of(base + x) == w0 ? base + x : base + y;  // on w0
  TaskId Y = X == base + x ? base + y : base + x;                // on w1
  f.s.remove_worker(w0, "test");
  REQUIRE(f.state(X) == S::ready);
  const std::size_t mark = f.actions.log.size();

  // The dead worker's last words.
  f.s.task_started(w0, X);
  f.s.task_finished(w0, X, 5, 1);
  f.s.task_failed(w0, Y, "late failure");
  f.s.data_replicated(w0, Y);
  CHECK(f.state(X) == S::ready);
  CHECK(f.state(Y) == S::assigned);
  CHECK(f.s.failure(Y) == nullptr);
  CHECK(f.actions.since(mark).empty());
  f.check();

  // An alive worker reporting a task that is not its own: it may drop the copy.
  f.finish(Y);
  f.s.schedule();
  REQUIRE(f.worker_of(X) == w1);
  WorkerId w2 = f.add_worker(1);
  f.s.task_started(w2, X);
  f.s.task_finished(w2, X, 5, 1);
  f.s.task_failed(w2, X, "not yours");
  CHECK(f.state(X) == S::assigned);
  CHECK(f.worker_of(X) == w1);
  CHECK(f.actions.count(Kind::free_data, w2, X) == 1);

  // Reports of unknown tasks, unknown workers, and a duplicate from the right worker.
  f.s.task_finished(w1, 999999, 1, 1);
  f.s.task_started(w1, 999999);
  f.s.task_failed(w1, 999999, "?");
  f.s.data_replicated(w1, 999999);
  f.s.task_finished(77, X, 1, 1);
  f.s.data_replicated(77, Y);
  f.finish(X);
  const std::size_t before_duplicate = f.actions.log.size();
  f.s.task_finished(w1, X, 1, 1);
  CHECK(f.actions.log.size() == before_duplicate);  // it holds the result: nothing to free
  CHECK(f.state(X) == S::finished);

  // Removing a worker twice, or one that never existed, changes nothing.
  f.s.remove_worker(w0, "again");
  f.s.remove_worker(77, "unknown");
  CHECK(f.s.alive_workers() == 2);
  f.check();
}

TEST_CASE("scheduler recovery: a type offered only by a lost worker", "[scheduler][recovery]") {
  SchedulerFixture f;
  WorkerId special = f.add_worker(1, {"test/special"});
  f.add_worker(1);
  PlanBuilder p;
  p.keep(p.add("test/special", {}, 0, "s"));
  TaskId s = f.submit(p);
  f.s.schedule();
  REQUIRE(f.worker_of(s) == special);
  f.s.remove_worker(special, "test");
  f.s.schedule();  // nobody can run it now: it waits for a worker offering the type (fit_grace.cpp)
  CHECK(f.state(s) == S::ready);
  f.s.set_clock(f.s.clock() + f.s.worker_grace_us());  // none joined within the grace
  f.s.schedule();
  CHECK(f.state(s) == S::failed);
  CHECK_THAT(f.s.failure(s)->message, Contains("test/special"));
  CHECK(f.actions.count(Kind::kept_failed, s) == 1);
  CHECK_THROWS_WITH(f.submit(p), Contains("test/special"));  // and new plans are refused
  f.check();
}

TEST_CASE("scheduler recovery: random event sequences keep the books and never address the dead",
          "[scheduler][recovery][random]") {
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    INFO("seed " << seed);
    Lcg rng(seed);
    SchedulerFixture f;
    for (int i = 0; i < 3; ++i) f.add_worker(1 + rng.next(4), {"test/special"});
    f.add_worker(2);

    // A random DAG in three plans; later plans also use tasks of earlier ones.
    for (int plan = 0; plan < 3; ++plan) {
      PlanBuilder p;
      const std::uint32_t n = 40 + rng.next(60);
      for (std::uint32_t i = 0; i < n; ++i) {
        std::vector<std::uint64_t> inputs;
        const std::uint32_t k = rng.next(4);
        for (std::uint32_t j = 0; j < k; ++j) {
          if (plan > 0 && rng.chance(30)) inputs.push_back(rng.next(static_cast<std::uint32_t>(f.s.task_count())));
          else if (i > 0) inputs.push_back(local(rng.next(i)));
        }
        const std::string type = rng.chance(15) ? "test/special" : const_type;
        auto t = p.add(type, inputs, rng.chance(40) ? 1 + rng.next(2) : 0);
        if (rng.chance(25)) p.keep(t);
      }
      try {
        f.submit(p);
      } catch (const PlanError& e) {
        // A later plan may name a result that is already released (or a task cancelled), or
        // a type whose workers are all gone.
        CHECK_THAT(e.what(), Contains("released") || Contains("cancelled") || Contains("unknown task type"));
        continue;
      }
      f.check();
      for (int step = 0; step < 150; ++step) {
        const std::uint32_t event = rng.next(100);
        std::vector<TaskId> placed;
        for (TaskId id = 0; id < f.s.task_count(); ++id)
          if ((f.state(id) == S::assigned || f.state(id) == S::running) && f.runnable(id)) placed.push_back(id);
        if (event < 30) {
          f.s.schedule();
        } else if (event < 65 && !placed.empty()) {
          f.finish(placed[rng.next(static_cast<std::uint32_t>(placed.size()))], rng.next(1000));
        } else if (event < 72 && !placed.empty()) {
          f.start(placed[rng.next(static_cast<std::uint32_t>(placed.size()))]);
        } else if (event < 74 && !placed.empty()) {
          f.fail(placed[rng.next(static_cast<std::uint32_t>(placed.size()))], "random failure");
        } else if (event < 79) {
          std::vector<WorkerId> alive;
          for (auto& w : f.s.workers())
            if (w->alive) alive.push_back(w->id);
          if (!alive.empty()) f.s.remove_worker(alive[rng.next(static_cast<std::uint32_t>(alive.size()))], "random");
        } else if (event < 83) {
          f.add_worker(1 + rng.next(3), rng.chance(50) ? std::vector<std::string>{"test/special"}
                                                       : std::vector<std::string>{});
        } else if (event < 88) {
          TaskId id = rng.next(static_cast<std::uint32_t>(f.s.task_count()));
          if (f.s.keeps(id) > 0) f.s.release(id);
        } else if (event < 93) {
          TaskId id = rng.next(static_cast<std::uint32_t>(f.s.task_count()));
          WorkerId w = rng.next(static_cast<std::uint32_t>(f.s.workers().size()));
          if (f.state(id) == S::finished) f.s.data_replicated(w, id);
        } else {
          // A stray report from a worker the task is not placed on.
          TaskId id = rng.next(static_cast<std::uint32_t>(f.s.task_count()));
          WorkerId w = rng.next(static_cast<std::uint32_t>(f.s.workers().size()));
          if (f.worker_of(id) != w) f.s.task_finished(w, id, 1, 1);
        }
        f.check();
        if (!f.actions.to_dead_workers.empty() || !invariant_violation(f.s).empty()) break;
      }
    }
    // With fresh workers offering everything, every task ends: nothing is stuck.
    f.add_worker(2, {"test/special"});
    f.add_worker(2, {"test/special"});
    f.run_all();
    f.check();
    CHECK(f.s.count(S::waiting) + f.s.count(S::ready) + f.s.count(S::assigned) + f.s.count(S::running) == 0);
    for (TaskId id = 0; id < f.s.task_count(); ++id)
      if (f.s.keeps(id) > 0) CHECK((f.state(id) == S::finished || f.state(id) == S::failed));
  }
}
