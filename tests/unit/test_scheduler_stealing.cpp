// Work stealing (server/stealing.cpp): an idle worker takes tasks queued on a busy one when
// they would start sooner there, move included; the victim says which it really removed, and
// only those move. No sockets.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using S = TaskState;

namespace {

// One busy 1-cpu worker whose tasks take `task_us`: `count` cpu tasks (reading `input`, if
// given, from the worker) are placed there, one started and one queued behind it, the rest
// ready; then a second worker joins, idle.
struct BusyAndIdle {
  SchedulerFixture f;
  WorkerId busy, idle = no_worker;
  TaskId base = 0;

  explicit BusyAndIdle(std::int64_t task_us, int count = 2, std::uint64_t input_size = 0) {
    busy = f.add_worker(1);
    PlanBuilder warm;  // a finished task teaches the scheduler how long this worker's tasks take
    warm.add(const_type, {}, 1, "warm");
    TaskId w = f.submit(warm);
    f.s.schedule();
    f.start(w);
    f.s.task_finished(busy, w, 1, 1, task_us);
    PlanBuilder p;
    std::vector<std::uint64_t> inputs;
    if (input_size) inputs.push_back(local(p.add(const_type, {}, 0, "input")));
    for (int i = 0; i < count; ++i) p.keep(p.add(const_type, inputs, 1, "map"));
    base = f.submit(p);
    f.s.schedule();
    if (input_size) {
      f.finish(base, input_size);
      base += 1;
      f.s.schedule();
    }
    f.start(base);  // the first runs; the second waits behind it
    REQUIRE(f.state(base + 1) == S::assigned);
    REQUIRE(f.worker_of(base + 1) == busy);
    idle = f.add_worker(1);
  }
  std::vector<TaskId> asked() const {
    std::vector<TaskId> out;
    for (auto& a : f.actions.log)
      if (a.kind == Kind::steal) out.push_back(a.task);
    return out;
  }
};

}  // namespace

TEST_CASE("stealing: an idle worker takes a task queued behind a long one", "[scheduler][stealing]") {
  BusyAndIdle b(20'000);  // 20 ms tasks: the queued one waits ~20 ms, a move costs ~1 ms
  b.f.s.schedule();
  REQUIRE(b.asked() == std::vector<TaskId>{b.base + 1});
  CHECK(b.f.actions.count(Kind::steal, b.busy, b.base + 1) == 1);
  CHECK(b.f.worker_of(b.base + 1) == b.busy);  // still the victim's until it answers
  CHECK(b.f.s.steals_pending() == 1);
  b.f.s.schedule();  // asked once, not again each pass
  CHECK(b.f.actions.count(Kind::steal) == 1);
  b.f.check();

  b.f.s.tasks_given_back(b.busy, {b.base + 1}, {});
  CHECK(b.f.s.steals_pending() == 0);
  CHECK(b.f.state(b.base + 1) == S::assigned);
  CHECK(b.f.worker_of(b.base + 1) == b.idle);
  CHECK(b.f.actions.count(Kind::assign, b.idle, b.base + 1) == 1);
  CHECK(b.f.actions.count(Kind::cancel, b.busy, b.base + 1) == 0);  // the victim removed it itself
  auto story = b.f.s.story(b.base + 1);
  REQUIRE(story.size() >= 2);
  const auto& moved = story.back();
  CHECK(moved.from == S::ready);
  CHECK(moved.to == S::assigned);
  CHECK(moved.worker == b.idle);  // the story names the thief
  CHECK(moved.placement == static_cast<std::uint8_t>(Placement::stolen));
  CHECK(story[story.size() - 2].worker == b.busy);
  b.f.check();
  b.f.start(b.base + 1);
  b.f.finish(b.base + 1);
  b.f.finish(b.base);
  CHECK(b.f.state(b.base + 1) == S::finished);
  b.f.check();
}

TEST_CASE("stealing: a task the victim started meanwhile stays there", "[scheduler][stealing]") {
  BusyAndIdle b(20'000);
  b.f.s.schedule();
  REQUIRE(b.asked() == std::vector<TaskId>{b.base + 1});
  // The first ended and the second started before the steal arrived: the victim keeps it.
  b.f.finish(b.base);
  b.f.start(b.base + 1);
  b.f.s.tasks_given_back(b.busy, {}, {b.base + 1});
  CHECK(b.f.s.steals_pending() == 0);
  CHECK(b.f.state(b.base + 1) == S::running);
  CHECK(b.f.worker_of(b.base + 1) == b.busy);
  b.f.s.schedule();
  CHECK(b.f.actions.count(Kind::steal) == 1);  // a running task is never asked for
  b.f.finish(b.base + 1);
  CHECK(b.f.state(b.base + 1) == S::finished);
  b.f.check();
}

TEST_CASE("stealing: no move when it costs more than the wait", "[scheduler][stealing]") {
  SECTION("short tasks") {
    BusyAndIdle b(300);  // 0.3 ms behind the running task: less than the move
    b.f.s.schedule();
    CHECK(b.asked().empty());
  }
  SECTION("a large input the thief would have to fetch") {
    BusyAndIdle b(20'000, 2, 100'000'000);  // 100 MB: ~100 ms to fetch, 20 ms to wait
    b.f.s.schedule();
    CHECK(b.asked().empty());
  }
  SECTION("a small input") {
    BusyAndIdle b(20'000, 2, 1000);
    b.f.s.schedule();
    CHECK(b.asked() == std::vector<TaskId>{b.base + 1});
  }
}

TEST_CASE("stealing: the newest tasks move, while the idle worker has cpus", "[scheduler][stealing]") {
  // A 1-cpu worker with three tasks queued behind a running one (a deep queue from shorter tasks
  // before, and its tasks now look longer), and a 2-cpu worker joining: the newest move first,
  // while the newcomer has a cpu or queue room, each while it starts sooner there.
  SchedulerFixture f;
  WorkerId busy = f.add_worker(1);
  for (int round = 0; round < 4; ++round) {  // short tasks deepen the queue
    PlanBuilder warm;
    warm.add(const_type, {}, 1);
    TaskId w = f.submit(warm);
    f.s.schedule();
    f.start(w);
    f.s.task_finished(busy, w, 1, 1, 200);
  }
  REQUIRE(f.s.worker(busy)->queue_cpus >= 4);
  PlanBuilder p;
  for (int i = 0; i < 5; ++i) p.keep(p.add(const_type, {}, 1, "map"));
  TaskId base = f.submit(p);
  f.s.schedule();
  for (int i = 0; i < 5; ++i) REQUIRE(f.worker_of(base + i) == busy);
  f.start(base);
  f.s.task_finished(busy, base, 1, 1, 40'000);  // now its tasks look long (moving average ~4 ms)
  f.start(base + 1);
  WorkerId idle = f.add_worker(2);
  f.s.schedule();
  std::vector<TaskId> asked;
  for (auto& a : f.actions.log)
    if (a.kind == Kind::steal) asked.push_back(a.task);
  CHECK(asked == std::vector<TaskId>{base + 4, base + 3, base + 2});
  // The victim started one of them meanwhile: that one stays.
  f.s.tasks_given_back(busy, {base + 4, base + 3}, {base + 2});
  CHECK(f.worker_of(base + 3) == idle);
  CHECK(f.worker_of(base + 4) == idle);
  CHECK(f.worker_of(base + 2) == busy);
  CHECK(f.s.steals_pending() == 0);
  f.check();
  CHECK(f.run_all() == 4);
  f.check();
}

TEST_CASE("stealing: the thief's cpus are promised while the steal is on its way", "[scheduler][stealing]") {
  // A task made ready while the victim has not answered yet goes to another idle worker: were
  // it placed on the thief, the stolen task would arrive behind it and wait there for a cpu,
  // maybe longer than it would have on the victim.
  BusyAndIdle b(20'000);
  b.f.s.schedule();
  REQUIRE(b.asked() == std::vector<TaskId>{b.base + 1});
  const WorkerId other = b.f.add_worker(1);
  PlanBuilder p;
  p.keep(p.add(const_type, {}, 1, "later"));
  const TaskId later = b.f.submit(p);
  b.f.s.schedule();
  CHECK(b.f.worker_of(later) == other);
  CHECK(b.f.actions.count(Kind::steal) == 1);  // nothing more worth moving for it
  b.f.check();
  b.f.s.tasks_given_back(b.busy, {b.base + 1}, {});
  CHECK(b.f.worker_of(b.base + 1) == b.idle);
  CHECK(b.f.s.worker(b.idle)->free_cpus == 0);  // it starts at once there
  b.f.check();
  CHECK(b.f.run_all() == 3);
  b.f.check();
}

TEST_CASE("stealing: the victim lost during a steal", "[scheduler][stealing]") {
  BusyAndIdle b(20'000);
  b.f.s.schedule();
  REQUIRE(b.f.s.steals_pending() == 1);
  b.f.s.remove_worker(b.busy, "lost");
  CHECK(b.f.s.steals_pending() == 0);
  b.f.check();
  b.f.s.tasks_given_back(b.busy, {b.base + 1}, {});  // a late answer from the dead: ignored
  b.f.s.schedule();
  b.f.check();
  CHECK(b.f.run_all() == 2);
  CHECK(b.f.state(b.base) == S::finished);
  CHECK(b.f.state(b.base + 1) == S::finished);
  CHECK(b.f.s.task(b.base + 1).locations.front() == b.idle);
  b.f.check();
}

TEST_CASE("stealing: the thief lost during a steal", "[scheduler][stealing]") {
  BusyAndIdle b(20'000);
  b.f.s.schedule();
  REQUIRE(b.f.s.steals_pending() == 1);
  b.f.s.remove_worker(b.idle, "lost");
  CHECK(b.f.s.steals_pending() == 0);
  b.f.s.tasks_given_back(b.busy, {b.base + 1}, {});  // given back all the same: placement decides
  CHECK(b.f.state(b.base + 1) == S::ready);
  b.f.check();
  b.f.s.schedule();
  CHECK(b.f.state(b.base + 1) == S::assigned);
  CHECK(b.f.worker_of(b.base + 1) == b.busy);
  CHECK(b.f.run_all() == 2);
  b.f.check();
}

TEST_CASE("stealing: a task cancelled or moved meanwhile is left alone", "[scheduler][stealing]") {
  BusyAndIdle b(20'000);
  b.f.s.schedule();
  REQUIRE(b.f.s.steals_pending() == 1);
  b.f.s.release(b.base + 1);  // its client no longer wants it: cancelled on the victim
  CHECK(b.f.state(b.base + 1) == S::cancelled);
  b.f.s.tasks_given_back(b.busy, {b.base + 1}, {});
  CHECK(b.f.state(b.base + 1) == S::cancelled);
  CHECK(b.f.s.steals_pending() == 0);
  // An answer naming tasks it was not asked for, or not its own: nothing moves wrongly.
  b.f.s.tasks_given_back(b.idle, {b.base}, {b.base});
  CHECK(b.f.state(b.base) == S::running);
  CHECK(b.f.worker_of(b.base) == b.busy);
  b.f.s.tasks_given_back(b.busy, {b.base + 100}, {});
  b.f.check();
}

TEST_CASE("stealing: a task the victim dropped without being asked is placed again", "[scheduler][stealing]") {
  // Only a broken worker does this, but the task must not be lost: it no longer has it.
  BusyAndIdle b(300);
  b.f.s.tasks_given_back(b.busy, {b.base + 1}, {});
  CHECK(b.f.state(b.base + 1) == S::ready);
  b.f.check();
  CHECK(b.f.run_all() == 2);
  b.f.check();
}
