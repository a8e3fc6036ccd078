// Retiring: a worker leaving on purpose. Nothing new goes there, its queued tasks are placed
// again, the objects still needed that only it holds are copied to other workers before it
// stops, and its leaving then recomputes nothing. No sockets.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::VectorContains;
using S = TaskState;

namespace {
bool recomputed(const SchedulerFixture& f, TaskId id) {
  for (auto& e : f.s.story(id))
    if (std::string(e.reason).find("lost") != std::string::npos || std::string(e.reason).find("recomput") != std::string::npos)
      return true;
  return false;
}
}  // namespace

TEST_CASE("retiring: queued tasks move, needed objects are copied, and the worker leaves losing nothing",
          "[scheduler][retiring]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  auto a = p.add();                      // held by the client
  auto b = p.add();                      // held by an unfinished consumer only
  auto r = p.add(const_type, {}, 1);     // runs on w0 when it retires; kept
  auto q = p.add(const_type, {}, 1);     // queued behind r on w0
  auto c = p.add(std::string(symbols::merge), {local(b), local(q)});
  auto unneeded = p.add();               // finished, nobody holds it: not copied
  p.keep(a).keep(r).keep(c);
  TaskId base = f.submit(p);
  f.s.schedule();
  for (auto i : {a, b, r, q}) REQUIRE(f.worker_of(base + i) == w0);
  f.finish(base + a);
  f.finish(base + b);
  f.finish(base + unneeded);
  f.start(base + r);
  REQUIRE(f.state(base + q) == S::assigned);
  f.check();

  WorkerId w1 = f.add_worker(1);
  const std::size_t mark = f.actions.log.size();
  REQUIRE(f.s.retire_worker(w0));
  f.check();
  CHECK(f.s.worker(w0)->retiring);
  // The queued task is taken back from w0; the running one stays.
  CHECK(f.actions.count(Kind::cancel, w0, base + q) == 1);
  CHECK_THAT(f.story(base + q), VectorContains(std::string("assigned->waiting: its worker is retiring")));
  CHECK(f.state(base + r) == S::running);
  // What is still needed and only on w0 is copied to w1; nothing else.
  CHECK(f.actions.count(Kind::replicate, w1, base + a) == 1);
  CHECK(f.actions.count(Kind::replicate, w1, base + b) == 1);
  CHECK(f.actions.count(Kind::replicate) == 2);
  CHECK(f.s.handoffs_pending(w0) == 2);
  CHECK_FALSE(f.s.retire_done(w0));

  // Nothing new is placed on a retiring worker.
  f.s.schedule();
  CHECK(f.worker_of(base + q) == w1);
  for (auto& act : f.actions.since(mark))
    if (act.kind == Kind::assign) CHECK(act.worker != w0);

  f.s.data_replicated(w1, base + a);
  f.s.data_replicated(w1, base + b);
  CHECK_FALSE(f.s.retire_done(w0));  // r still runs there
  f.finish(base + r);                // made while retiring: copied too
  CHECK(f.actions.count(Kind::replicate, w1, base + r) == 1);
  CHECK_FALSE(f.s.retire_done(w0));
  f.s.data_replicated(w1, base + r);
  CHECK(f.s.retire_done(w0));
  f.check();

  f.s.remove_worker(w0, "stopped");
  f.check();
  for (auto i : {a, b, r}) {
    INFO(f.s.describe(base + i));
    CHECK(f.state(base + i) == S::finished);
    CHECK(f.s.task(base + i).locations == std::vector<WorkerId>{w1});
    CHECK_FALSE(recomputed(f, base + i));
  }
  f.run_all();
  CHECK(f.state(base + c) == S::finished);
  CHECK(f.s.count(S::finished) == 3);  // a, r, c (b and q released once c finished)
  f.check();
}

TEST_CASE("retiring: a copy whose target leaves is asked of another worker", "[scheduler][retiring]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  p.keep(p.add());
  TaskId x = f.submit(p);
  f.s.schedule();
  f.finish(x);
  WorkerId w1 = f.add_worker(1);
  WorkerId w2 = f.add_worker(1);
  REQUIRE(f.s.retire_worker(w0));
  CHECK(f.actions.count(Kind::replicate, w1, x) == 1);
  f.s.remove_worker(w1, "no heartbeat");
  CHECK_FALSE(f.s.retire_done(w0));
  CHECK(f.actions.count(Kind::replicate, w2, x) == 1);
  f.s.data_replicated(w2, x);
  CHECK(f.s.retire_done(w0));
  f.s.remove_worker(w0, "stopped");
  CHECK(f.state(x) == S::finished);
  CHECK_FALSE(recomputed(f, x));
  f.check();
}

TEST_CASE("retiring: copies that never arrive give up after the timeout; what is lost is recomputed",
          "[scheduler][retiring]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  p.keep(p.add());
  TaskId x = f.submit(p);
  f.s.schedule();
  f.finish(x);
  f.s.set_clock(1'000'000);
  f.add_worker(1);
  REQUIRE(f.s.retire_worker(w0));
  f.s.set_clock(20'000'000);
  CHECK_FALSE(f.s.retire_done(w0, 30'000'000));
  f.s.set_clock(32'000'000);
  CHECK(f.s.retire_done(w0, 30'000'000));
  f.s.remove_worker(w0, "stopped");
  CHECK(recomputed(f, x));
  f.run_all();
  CHECK(f.state(x) == S::finished);
  f.check();
}

TEST_CASE("retiring the only worker: its tasks wait for another worker instead of failing", "[scheduler][retiring]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1);
  auto b = p.add(const_type, {}, 1);
  p.keep(a).keep(b);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.start(base + a);  // b waits queued behind it
  REQUIRE(f.s.retire_worker(w0));
  CHECK(f.actions.count(Kind::replicate) == 0);  // nowhere to copy to
  f.s.schedule();
  CHECK(f.state(base + b) == S::ready);
  CHECK_FALSE(f.s.retire_done(w0));  // a still runs
  f.finish(base + a);
  CHECK(f.s.retire_done(w0));
  f.s.remove_worker(w0, "stopped");
  f.check();
  CHECK_FALSE(f.s.retire_worker(w0));  // gone: nothing to retire
  f.add_worker(1);
  f.run_all();
  CHECK(f.state(base + a) == S::finished);
  CHECK(f.state(base + b) == S::finished);
  f.check();
}
