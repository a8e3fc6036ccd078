// A cluster that shrank (fit_grace.cpp): a task only a worker that left could run waits for
// one that fits during the grace period, is placed when one joins, and fails after it; a task
// no worker that left could run either fails at once. No sockets.
#include <catch2/catch.hpp>

#include "scheduler_fixture.hpp"
#include "server/explain.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;
using S = TaskState;

TEST_CASE("scheduler fit grace: a task waits for a worker like the one that left, then fails",
          "[scheduler][recovery]") {
  SchedulerFixture f;
  f.s.set_clock(1'000'000);
  f.add_worker(1);
  WorkerId big = f.add_worker(2);
  PlanBuilder p;
  auto wide = p.add(const_type, {}, 2, "wide");
  auto wider = p.add(const_type, {}, 2, "wider");
  p.keep(wide).keep(wider);
  TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.worker_of(base + wide) == big);

  f.s.remove_worker(big, "killed");
  f.s.schedule();
  CHECK(f.state(base + wide) == S::ready);
  CHECK(f.state(base + wider) == S::ready);
  CHECK_THAT(why_not_running(f.s, base + wide), Contains("waiting for a worker with 2 cpus to join") &&
                                                     Contains("it needs 2 cpus; the largest worker has 1"));

  SECTION("a worker that fits joins: placed there") {
    f.s.set_clock(20'000'000);
    WorkerId replacement = f.add_worker(2);
    f.s.schedule();
    CHECK(f.worker_of(base + wide) == replacement);
  }
  SECTION("a worker too small joins: still waiting") {
    f.add_worker(1);
    f.s.schedule();
    CHECK(f.state(base + wide) == S::ready);
  }
  SECTION("none joins within the grace: it fails with the usual message") {
    f.s.set_clock(1'000'000 + f.s.worker_grace_us());
    f.s.schedule();
    CHECK(f.state(base + wide) == S::failed);
    REQUIRE(f.s.failure(base + wide) != nullptr);
    CHECK(f.s.failure(base + wide)->message == "no connected worker can run it: it needs 2 cpus; the largest worker has 1");
  }
  f.check();
}

TEST_CASE("scheduler fit grace: a task no worker that left could run fails at once", "[scheduler][recovery]") {
  SchedulerFixture f;
  f.add_worker(1);
  WorkerId big = f.add_worker(2);
  f.s.remove_worker(big, "killed");
  PlanBuilder p;
  auto huge = p.add(const_type, {}, 4, "huge");
  p.keep(huge);
  TaskId base = f.submit(p);
  f.s.schedule();
  CHECK(f.state(base + huge) == S::failed);
  f.check();
}
