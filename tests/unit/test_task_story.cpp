// A task's story for users: the transition log's entries with the worker involved and
// placement's reason, "why is it not running now?", and the `story` reply built from them.
#include "scheduler_fixture.hpp"
#include "server/explain.hpp"
#include "server/task_story.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;
using S = TaskState;

namespace {

// "from->to @worker [placement]: reason" per entry, oldest first.
std::vector<std::string> steps(const Scheduler& s, TaskId id) {
  std::vector<std::string> out;
  for (auto& e : s.story(id)) {
    std::string line = std::string(state_name(e.from)) + "->" + state_name(e.to);
    if (e.worker != no_worker) line += " @" + s.worker(e.worker)->name;
    if (e.placement != no_placement) line += std::string(" [") + placement_name(static_cast<Placement>(e.placement)) + "]";
    out.push_back(line + ": " + e.reason);
  }
  return out;
}

}  // namespace

TEST_CASE("story: each step names its worker and placement's reason", "[story]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1, "a");
  auto b = p.add(const_type, {local(a)}, 0, "b");  // light: chained behind a on its worker
  p.keep(b);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.start(base + a);
  f.finish(base + a);
  f.finish(base + b);
  CHECK_THAT(steps(f.s, base + a), Equals(std::vector<std::string>{
                                       "waiting->ready: submitted; it has no inputs",
                                       "ready->assigned @w0 [only_worker]: placed on a worker",
                                       "assigned->running @w0: worker started it",
                                       "running->finished @w0: worker reported the result",
                                       "finished->released: nobody needs the result",
                                   }));
  CHECK_THAT(steps(f.s, base + b), Equals(std::vector<std::string>{
                                       "waiting->assigned @w0 [chained]: chained behind its inputs on the same worker",
                                       "assigned->finished @w0: worker reported the result",
                                   }));
  CHECK(f.worker_of(base + b) == no_worker);
  CHECK(w0 == 0);
  f.check();
}

TEST_CASE("story: a lost worker is named, and the run on the other one", "[story]") {
  SchedulerFixture f;
  f.add_worker(1);
  PlanBuilder p;
  p.keep(p.add(const_type, {}, 1, "x"));
  TaskId x = f.submit(p);
  f.s.schedule();
  f.start(x);
  WorkerId first = f.worker_of(x);
  f.add_worker(1);
  f.s.remove_worker(first, "no heartbeat");
  f.s.schedule();
  f.start(x);
  f.finish(x);
  const std::string other = first == 0 ? "w1" : "w0";
  const std::string lost = first == 0 ? "w0" : "w1";
  CHECK_THAT(steps(f.s, x), Equals(std::vector<std::string>{
                                "waiting->ready: submitted; it has no inputs",
                                "ready->assigned @" + lost + " [only_worker]: placed on a worker",
                                "assigned->running @" + lost + ": worker started it",
                                "running->waiting @" + lost + ": its worker was lost",
                                "waiting->ready: inputs available again",
                                "ready->assigned @" + other + " [only_worker]: placed on a worker",
                                "assigned->running @" + other + ": worker started it",
                                "running->finished @" + other + ": worker reported the result",
                            }));
  f.check();
}

TEST_CASE("story: a result lost with its worker names that worker", "[story]") {
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1, "a");
  p.keep(a);
  TaskId A = f.submit(p);
  f.s.schedule();
  f.finish(A);
  f.add_worker(1);
  f.s.remove_worker(w0, "no heartbeat");
  CHECK_THAT(steps(f.s, A), Contains(std::vector<std::string>{"finished->waiting @w0: data lost with its worker, recomputing"}));
  f.check();
}

TEST_CASE("story: entries carry the scheduler's clock", "[story]") {
  SchedulerFixture f;
  f.add_worker(1);
  f.s.set_clock(1000);
  PlanBuilder p;
  p.keep(p.add(const_type, {}, 1, "a"));
  TaskId a = f.submit(p);
  f.s.set_clock(2500);
  f.s.schedule();
  auto story = f.s.story(a);
  REQUIRE(story.size() == 2);
  CHECK(story[0].time_us == 1000);
  CHECK(story[1].time_us == 2500);
  CHECK(f.s.submitted_us(a) == 1000);
}

TEST_CASE("story: several stories in one pass over the ring", "[story]") {
  TransitionLog log(4);
  for (TaskId t = 0; t < 6; ++t) log.record({t % 3, S::waiting, S::ready, no_placement, no_worker, "r", std::int64_t(t)});
  CHECK(log.rolled_over());
  CHECK(log.oldest_time_us() == 2);
  auto found = log.stories({0, 2, 7});
  CHECK(found.at(0).size() == 1);  // t=3 (t=0 rolled over)
  CHECK(found.at(0)[0].time_us == 3);
  REQUIRE(found.at(2).size() == 2);
  CHECK(found.at(2)[0].time_us == 2);
  CHECK(found.at(2)[1].time_us == 5);
  CHECK(found.at(7).empty());
}

// --- why is it not running now? -----------------------------------------------------------

TEST_CASE("explain: a waiting task names its unfinished inputs and where they run", "[story][explain]") {
  SchedulerFixture f;
  f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1, "slow");
  auto b = p.add(const_type, {}, 1, "other");
  auto c = p.add(const_type, {local(a), local(b)}, 1, "sum");
  p.keep(c);
  TaskId base = f.submit(p);
  f.s.schedule();
  TaskId running = f.worker_of(base + a) != no_worker ? base + a : base + b;
  f.start(running);
  std::string why = why_not_running(f.s, base + c);
  CHECK_THAT(why, StartsWith("waiting for 2 of its 2 inputs: "));
  CHECK_THAT(why, Contains(f.s.describe(running) + " running on tcp://w0:1"));
  CHECK(why_not_running(f.s, running).empty());
  f.finish(running);
  CHECK_THAT(why_not_running(f.s, base + c), StartsWith("waiting for 1 of its 2 inputs: "));
}

TEST_CASE("explain: no workers, or none large enough", "[story][explain]") {
  SchedulerFixture f;
  PlanBuilder p;
  auto a = p.add(const_type, {}, 4, "big");
  p.keep(a);
  TaskId A = f.submit(p);
  f.s.schedule();
  CHECK(f.state(A) == S::ready);
  CHECK(why_not_running(f.s, A) == "no workers are connected");

  // A 4-cpu consumer of a running task, on 1-cpu workers: it waits, and could not run anyway.
  f.add_worker(1);
  f.add_worker(1);
  PlanBuilder q;
  auto in = q.add(const_type, {}, 1, "in");
  q.keep(q.add(const_type, {local(in)}, 4, "wide"));
  TaskId qb = f.submit(q);
  f.s.schedule();  // the ready 4-cpu task fails now that workers are there
  CHECK(f.state(A) == S::failed);
  CHECK(f.s.failure(A)->message == "no connected worker can run it: it needs 4 cpus; the largest worker has 1");
  CHECK_THAT(why_not_running(f.s, qb + 1),
             Contains("; and it needs 4 cpus; the largest worker has 1"));
  CHECK(why_not_running(f.s, A).empty());
  f.check();
}

TEST_CASE("explain: a ready cpu task waits for busy workers; a queued one for its worker's cpus", "[story][explain]") {
  SchedulerFixture f;
  f.add_worker(2);
  PlanBuilder p;
  for (int i = 0; i < 400; ++i) p.keep(p.add(const_type, {}, 2, "t"));
  TaskId base = f.submit(p);
  f.s.schedule();
  std::vector<TaskId> ready, queued;
  for (TaskId id = base; id < base + 400; ++id) {
    if (f.state(id) == S::ready) ready.push_back(id);
    if (f.state(id) == S::assigned) queued.push_back(id);
  }
  REQUIRE(!ready.empty());
  REQUIRE(queued.size() >= 2);
  CHECK_THAT(why_not_running(f.s, ready.front()),
             Equals("ready, waiting for 2 free cpus: every worker that can run it is busy (the most free: tcp://w0:1, 0 of 2 free)"));
  CHECK_THAT(why_not_running(f.s, queued.back()), StartsWith("queued on tcp://w0:1, which has more cpu tasks than cpus"));
  f.check();
}

// --- the reply ------------------------------------------------------------------------------

TEST_CASE("story reply: transitions, worker addresses, failure, and unknown ids", "[story][reply]") {
  SchedulerFixture f;
  f.add_worker(1);
  f.s.set_clock(500);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "a");
  auto b = p.add(const_type, {local(a)}, 1, "b");  // asks for more cpus than a: not chained
  p.keep(b);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.start(base + a);
  json waiting = task_stories(f.s, {base + b});
  CHECK(waiting[0]["state"] == "waiting");
  CHECK(waiting[0]["label"] == "b");
  CHECK(waiting[0]["submitted_us"] == 500);
  CHECK(waiting[0]["transitions"].empty());
  CHECK(waiting[0]["note"].is_null());
  CHECK_THAT(waiting[0]["why"].get<std::string>(), StartsWith("waiting for 1 of its 1 input: task"));

  f.fail(base + a, "boom");
  json stories = task_stories(f.s, {base + a, base + b});
  REQUIRE(stories.size() == 2);
  const json& first = stories[0];
  CHECK(first["id"] == base + a);
  CHECK(first["state"] == "failed");
  CHECK(first["failure"] == "boom");
  CHECK(first["why"].is_null());
  const json& last = first["transitions"].back();
  CHECK(last["from"] == "running");
  CHECK(last["to"] == "failed");
  CHECK(last["reason"] == "it failed");
  CHECK(last["worker"] == "tcp://w0:1");
  CHECK(last["placement"].is_null());
  CHECK(first["transitions"][1]["placement"] == "only_worker");
  CHECK_THAT(stories[1]["failure"].get<std::string>(), Contains("boom"));
  CHECK(stories[1]["transitions"].back()["reason"] == "an input failed");

  CHECK_THROWS_AS(task_stories(f.s, {base + 99}), StoryError);
  CHECK_THROWS_WITH(task_stories(f.s, {base, 1u << 30}), Contains("task 1073741824 does not exist"));
  CHECK(task_stories(f.s, {}).empty());
}

TEST_CASE("story reply: a freed task is released; one out of the ring says it rolled over", "[story][reply]") {
  QuietLog quiet;
  RecordingActions actions;
  Scheduler s(actions, 6);  // room for a few transitions only
  actions.scheduler = &s;
  s.add_worker("w0", "tcp://w0:1", 1, builtin_types());
  PlanBuilder p;
  p.add(const_type, {}, 1, "gone");  // not kept: released once it finished
  s.set_clock(10);
  TaskId old = s.submit(1, p.build());
  s.set_clock(20);
  s.schedule();
  s.task_finished(0, old, 1, 1);
  REQUIRE(s.task(old).state == S::released);
  CHECK(task_stories(s, {old})[0]["note"].is_null());  // all its steps are still there

  for (int i = 0; i < 3; ++i) {
    PlanBuilder q;
    q.keep(q.add(const_type, {}, 1, "later"));
    s.set_clock(100 + i);
    TaskId t = s.submit(1, q.build());
    s.schedule();
    s.task_finished(0, t, 1, 1);
  }
  s.collect_garbage();
  REQUIRE(!s.exists(old));
  json gone = task_stories(s, {old})[0];
  CHECK(gone["state"] == "released");
  CHECK(gone["transitions"].empty());
  CHECK(gone["submitted_us"].is_null());
  CHECK_THAT(gone["note"].get<std::string>(), Contains("rolled over"));
  CHECK_THAT(gone["note"].get<std::string>(), Contains("last 6 transitions"));

  // A live task whose first steps rolled over says so too.
  PlanBuilder r;
  r.keep(r.add(const_type, {}, 1, "long"));
  s.set_clock(200);
  TaskId t = s.submit(1, r.build());
  for (int i = 0; i < 3; ++i) {
    s.set_clock(300 + i);
    s.schedule();
    s.remove_worker(s.task(t).worker, "no heartbeat");
    s.add_worker("w", "tcp://w:1", 1, builtin_types());
  }
  json live = task_stories(s, {t})[0];
  CHECK(!live["transitions"].empty());
  CHECK_THAT(live["note"].get<std::string>(), Contains("earlier transitions have rolled over"));
}
