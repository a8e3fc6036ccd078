// The scheduler's task state machine: every (from, to) pair of the transitions table, the
// transition log, counts by state, plan validation, holds (who keeps a result alive) and
// the failure cascade. No sockets: decisions go to a recording SchedulerActions.
#include <catch2/catch.hpp>

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

using Step = std::pair<TaskState, TaskState>;
using S = TaskState;

// A copy of the table in transitions.cpp: a new entry must come with a scenario below.
const std::set<Step> transition_table = {
    {S::waiting, S::ready},      {S::waiting, S::assigned},  {S::ready, S::assigned},
    {S::assigned, S::running},   {S::assigned, S::finished}, {S::running, S::finished},
    {S::waiting, S::failed},     {S::ready, S::failed},      {S::assigned, S::failed},
    {S::running, S::failed},     {S::finished, S::released}, {S::waiting, S::cancelled},
    {S::ready, S::cancelled},    {S::assigned, S::cancelled}, {S::running, S::cancelled},
    {S::ready, S::waiting},      {S::assigned, S::waiting},  {S::running, S::waiting},
    {S::finished, S::waiting},   {S::released, S::waiting},  {S::cancelled, S::waiting},
};

// Every step any task took, and a check that each story is a connected walk through the
// table that ends in the task's current state.
std::set<Step> steps_taken(const SchedulerFixture& f) {
  std::set<Step> steps;
  for (TaskId id = 0; id < f.s.task_count(); ++id) {
    auto story = f.s.story(id);
    TaskState at = TaskState::waiting;
    for (auto& e : story) {
      INFO("task " << id << ": " << state_name(e.from) << " -> " << state_name(e.to) << " (" << e.reason << ")");
      CHECK(e.task == id);
      CHECK(e.from == at);
      CHECK(transition_table.count({e.from, e.to}) == 1);
      CHECK(e.reason != nullptr);
      at = e.to;
      steps.insert({e.from, e.to});
    }
    CHECK(at == f.state(id));
  }
  return steps;
}

// --- scenarios, each a small story; the coverage test runs them all ------------------------

// waiting -> ready -> assigned -> running -> finished -> released, with reasons in order.
void scenario_full_life(SchedulerFixture& f) {
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  p.keep(p.add(const_type, {}, 1, "a"));
  TaskId a = f.submit(p);
  CHECK(f.state(a) == S::ready);
  CHECK(f.s.count(S::ready) == 1);
  f.check();

  f.s.schedule();
  CHECK(f.state(a) == S::assigned);
  CHECK(f.worker_of(a) == w);
  CHECK(f.actions.count(Kind::assign, w, a) == 1);
  CHECK(f.s.worker(w)->free_cpus == 1);
  f.check();

  f.start(a);
  CHECK(f.state(a) == S::running);
  f.finish(a, 10);
  CHECK(f.state(a) == S::finished);
  CHECK(f.s.result_size(a) == 10);
  CHECK(f.s.task(a).locations == std::vector<WorkerId>{w});
  CHECK(f.s.worker(w)->free_cpus == 2);
  CHECK(f.actions.count(Kind::kept_finished, a) == 1);
  CHECK(f.actions.count(Kind::free_data, a) == 0);  // kept: not freed before release()
  f.check();

  f.s.release(a);
  CHECK(f.state(a) == S::released);
  CHECK(f.actions.count(Kind::free_data, w, a) == 1);
  CHECK_THAT(f.story(a), Equals(std::vector<std::string>{
                             "waiting->ready: submitted; it has no inputs",
                             "ready->assigned: placed on a worker",
                             "assigned->running: worker started it",
                             "running->finished: worker reported the result",
                             "finished->released: nobody needs the result",
                         }));
  f.check();
}

// A light task finishes without reporting a start; its consumer becomes ready; inputs
// nobody needs any more are freed on their holder; an unkept sink is freed at once.
void scenario_finish_frees_inputs(SchedulerFixture& f) {
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "a");
  auto b = p.add(const_type, {local(a)}, 1, "b");  // cpu tasks are not chained
  auto c = p.add(const_type, {local(a)}, 1, "c");
  p.keep(b);
  TaskId base = f.submit(p);
  TaskId A = base + a, B = base + b, C = base + c;
  CHECK(f.state(B) == S::waiting);

  f.s.schedule();
  REQUIRE(f.state(A) == S::assigned);
  CHECK(f.state(B) == S::waiting);
  f.finish(A);  // no start report
  CHECK(f.state(A) == S::finished);
  CHECK(f.state(B) == S::ready);
  CHECK(f.state(C) == S::ready);
  CHECK_THAT(f.story(B), Equals(std::vector<std::string>{"waiting->ready: inputs finished"}));
  f.check();

  f.s.schedule();
  f.finish(B);
  CHECK(f.state(A) == S::finished);  // c still needs it
  CHECK(f.actions.count(Kind::free_data, A) == 0);
  f.finish(C);
  CHECK(f.state(A) == S::released);
  CHECK(f.actions.count(Kind::free_data, w, A) == 1);
  CHECK(f.state(C) == S::released);  // not kept, nobody consumes it
  CHECK(f.actions.count(Kind::free_data, w, C) == 1);
  CHECK(f.state(B) == S::finished);  // kept
  CHECK(f.actions.count(Kind::free_data, B) == 0);
  f.check();
  f.s.release(B);
  CHECK(f.state(B) == S::released);
  CHECK(f.actions.count(Kind::free_data, w, B) == 1);
  f.check();
}

// A chain of light tasks goes to one worker in one schedule(): waiting -> assigned.
void scenario_chain(SchedulerFixture& f) {
  WorkerId w = f.add_worker(1);
  f.add_worker(1);
  PlanBuilder p;
  auto a = p.add();
  auto b = p.add(const_type, {local(a)});
  auto c = p.add(const_type, {local(b)});
  p.keep(c);
  TaskId base = f.submit(p);
  f.s.schedule();
  for (TaskId id : {base + a, base + b, base + c}) {
    CHECK(f.state(id) == S::assigned);
    CHECK(f.worker_of(id) == w);
  }
  CHECK_THAT(f.story(base + b), Equals(std::vector<std::string>{
                                    "waiting->assigned: chained behind its inputs on the same worker"}));
  CHECK(f.s.task(base + c).unfinished_inputs == 1);
  f.check();
  f.finish(base + a);
  CHECK(f.state(base + b) == S::assigned);  // stays on its worker, no second assign
  CHECK(f.actions.count(Kind::assign, base + b) == 1);
  f.finish(base + b);
  f.finish(base + c);
  CHECK(f.state(base + c) == S::finished);
  CHECK(f.s.count(S::released) == 2);
  f.check();
}

// Failures from every unfinished state.
void scenario_failures(SchedulerFixture& f) {
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1, "a");
  auto b = p.add(const_type, {local(a)}, 2, "b");  // waiting -> failed (more cpus than a: not chained)
  auto c = p.add(const_type, {}, 0, "c");
  auto d = p.add(const_type, {local(c)}, 0, "d");  // chained: assigned -> failed
  auto big = p.add(const_type, {}, 4, "big");      // ready -> failed: no worker has 4 cpus
  p.keep(b).keep(d).keep(big);
  TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.state(base + a) == S::assigned);
  REQUIRE(f.state(base + d) == S::assigned);
  CHECK(f.state(base + big) == S::failed);
  CHECK_THAT(f.s.failure(base + big)->message, Contains("4 cpus"));
  f.check();

  f.start(base + a);
  f.fail(base + a, "boom");  // running -> failed
  CHECK(f.state(base + a) == S::failed);
  CHECK(f.state(base + b) == S::failed);
  CHECK(f.actions.count(Kind::cancel, base + a) == 0);  // its worker already dropped it

  f.fail(base + c, "bang");  // assigned -> failed, without a start
  CHECK(f.state(base + c) == S::failed);
  CHECK(f.state(base + d) == S::failed);
  CHECK(f.actions.count(Kind::cancel, w, base + d) == 1);
  CHECK(f.s.worker(w)->free_cpus == 2);
  f.check();
}

// Cancellation from every unfinished state.
void scenario_cancellations(SchedulerFixture& f) {
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1);
  auto b = p.add(const_type, {local(a)}, 2);  // waits for a (more cpus than a: not chained)
  auto r = p.add(const_type, {}, 1);          // will run
  p.keep(b).keep(r);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.start(base + r);
  REQUIRE(f.state(base + a) == S::assigned);
  REQUIRE(f.state(base + r) == S::running);

  PlanBuilder q;
  q.keep(q.add(const_type, {}, 1));
  TaskId ready = f.submit(q);  // ready, and no schedule() before it is released
  REQUIRE(f.state(ready) == S::ready);

  f.s.release(base + b);  // waiting -> cancelled, and a is not needed any more
  CHECK(f.state(base + b) == S::cancelled);
  CHECK(f.state(base + a) == S::cancelled);  // assigned -> cancelled
  CHECK(f.actions.count(Kind::cancel, w, base + a) == 1);
  f.s.release(base + r);  // running -> cancelled
  CHECK(f.state(base + r) == S::cancelled);
  CHECK(f.actions.count(Kind::cancel, w, base + r) == 1);
  f.s.release(ready);  // ready -> cancelled
  CHECK(f.state(ready) == S::cancelled);
  CHECK(f.actions.count(Kind::cancel, ready) == 0);  // never sent anywhere
  CHECK(f.s.worker(w)->free_cpus == 2);
  CHECK(f.s.count(S::cancelled) == 4);
  CHECK(f.s.count(S::released) == 0);  // none of them finished
  // Each is told once, so whoever waits on its end hears it (the server's watchers).
  CHECK(f.actions.cancelled_tasks == std::vector<TaskId>{base + b, base + a, base + r, ready});
  CHECK_THAT(f.story(base + b).back(), Equals("waiting->cancelled: nobody needs it any more"));
  CHECK_THAT(f.story(base + a).back(), Equals("assigned->cancelled: nobody needs it any more"));
  f.check();
  f.s.schedule();  // the stale ready entry is skipped
  CHECK(f.actions.count(Kind::assign, ready) == 0);
  f.check();
}

// Recovery steps back to waiting, from every state that has them.
void scenario_back_to_waiting(SchedulerFixture& f) {
  WorkerId w0 = f.add_worker(4);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "a");
  auto x = p.add(const_type, {}, 0, "x");
  auto y = p.add(const_type, {local(x)}, 0, "y");
  p.keep(a).keep(y);
  TaskId base = f.submit(p);
  f.run_all();
  TaskId A = base + a, X = base + x, Y = base + y;
  REQUIRE(f.state(A) == S::finished);
  REQUIRE(f.state(X) == S::released);
  REQUIRE(f.state(Y) == S::finished);

  PlanBuilder q;
  auto r1 = q.add(const_type, {}, 1);
  auto r2 = q.add(const_type, {}, 1);
  q.keep(r1).keep(r2);
  TaskId rb = f.submit(q);
  f.s.schedule();
  f.start(rb + r2);
  PlanBuilder late;
  late.keep(late.add(const_type, {A}));
  TaskId B = f.submit(late);
  REQUIRE(f.state(B) == S::ready);  // not scheduled yet

  WorkerId w1 = f.add_worker(4);
  f.s.remove_worker(w0, "test");
  f.check();
  CHECK_THAT(f.story(rb + r1), Contains(std::vector<std::string>{"assigned->waiting: its worker was lost"}));
  CHECK_THAT(f.story(rb + r2), Contains(std::vector<std::string>{"running->waiting: its worker was lost"}));
  CHECK_THAT(f.story(A), Contains(std::vector<std::string>{"finished->waiting: data lost with its worker, recomputing"}));
  CHECK_THAT(f.story(B), Contains(std::vector<std::string>{"ready->waiting: an input was lost with a worker"}));
  CHECK_THAT(f.story(X), Contains(std::vector<std::string>{"released->waiting: recomputing a result that is needed again"}));

  f.run_all();
  for (TaskId id : {A, Y, B, rb + r1, rb + r2}) {
    CHECK(f.state(id) == S::finished);
    CHECK(f.s.task(id).locations == std::vector<WorkerId>{w1});
  }
  CHECK(f.state(X) == S::released);
  f.check();
}

// A cancelled task is computed again when a lost result needs it: cancelled -> waiting.
void scenario_cancelled_then_needed(SchedulerFixture& f) {
  WorkerId w0 = f.add_worker(1);
  PlanBuilder p;
  auto x = p.add(const_type, {}, 0, "x");
  auto y = p.add(const_type, {local(x)}, 0, "y");
  p.keep(x).keep(y);
  TaskId base = f.submit(p);
  f.run_all();
  TaskId X = base + x, Y = base + y;
  WorkerId w1 = f.add_worker(2);
  PlanBuilder q;
  q.keep(q.add(const_type, {X}, 2, "u"));  // two cpus: only w1 can run it
  TaskId U = f.submit(q);
  f.run_all();
  REQUIRE(f.s.task(U).locations == std::vector<WorkerId>{w1});
  f.s.release(X);
  REQUIRE(f.state(X) == S::released);

  f.add_worker(2);
  f.s.remove_worker(w0, "test");  // y is lost and recomputed: so is x, its input
  REQUIRE(f.state(Y) == S::waiting);
  REQUIRE(f.state(X) != S::released);
  f.s.release(Y);  // y is cancelled, and with it x, which only y needed
  CHECK(f.state(Y) == S::cancelled);
  CHECK(f.state(X) == S::cancelled);
  f.check();
  f.s.remove_worker(w1, "test");  // u is lost: x is needed again
  CHECK_THAT(f.story(X),
             Contains(std::vector<std::string>{"cancelled->waiting: recomputing a result that is needed again"}));
  f.run_all();
  CHECK(f.state(U) == S::finished);
  CHECK(f.state(X) == S::released);
  f.check();
}

}  // namespace

TEST_CASE("scheduler states: a task's story records each step with its reason", "[scheduler][states]") {
  SchedulerFixture f;
  scenario_full_life(f);
}

TEST_CASE("scheduler states: finishing frees inputs nobody needs, kept results wait for release",
          "[scheduler][states]") {
  SchedulerFixture f;
  scenario_finish_frees_inputs(f);
}

TEST_CASE("scheduler states: a chain of light tasks is assigned from waiting", "[scheduler][states]") {
  SchedulerFixture f;
  scenario_chain(f);
}

TEST_CASE("scheduler states: failures from every unfinished state", "[scheduler][states]") {
  SchedulerFixture f;
  scenario_failures(f);
}

TEST_CASE("scheduler states: cancellation from every unfinished state", "[scheduler][states]") {
  SchedulerFixture f;
  scenario_cancellations(f);
}

TEST_CASE("scheduler states: recovery steps back to waiting", "[scheduler][states]") {
  SchedulerFixture f;
  scenario_back_to_waiting(f);
}

TEST_CASE("scheduler states: a cancelled task is computed again when a lost result needs it",
          "[scheduler][states]") {
  SchedulerFixture f;
  scenario_cancelled_then_needed(f);
}

TEST_CASE("scheduler states: every entry of the transitions table is exercised", "[scheduler][states]") {
  std::set<Step> seen;
  for (auto scenario : {scenario_full_life, scenario_finish_frees_inputs, scenario_chain, scenario_failures,
                        scenario_cancellations, scenario_back_to_waiting, scenario_cancelled_then_needed}) {
    SchedulerFixture f;
    scenario(f);
    auto steps = steps_taken(f);
    seen.insert(steps.begin(), steps.end());
  }
  for (auto& step : transition_table) {
    INFO(state_name(step.first) << " -> " << state_name(step.second));
    CHECK(seen.count(step) == 1);
  }
  CHECK(seen.size() == transition_table.size());
}

TEST_CASE("scheduler states: counts by state follow every transition", "[scheduler][states]") {
  SchedulerFixture f;
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1);
  auto b = p.add(const_type, {local(a)}, 1);
  p.keep(b);
  TaskId base = f.submit(p);
  CHECK(f.s.task_count() == 2);
  CHECK(f.s.count(S::ready) == 1);
  CHECK(f.s.count(S::waiting) == 1);
  f.s.schedule();  // no worker: nothing moves
  CHECK(f.s.count(S::ready) == 1);

  f.add_worker(1);
  f.s.schedule();
  CHECK(f.s.count(S::assigned) == 2);  // b is chained behind a, whose cpu it takes over
  CHECK(f.s.count(S::ready) == 0);
  CHECK(f.s.count(S::waiting) == 0);
  f.finish(base + a);
  CHECK(f.s.count(S::finished) == 1);
  CHECK(f.s.count(S::assigned) == 1);
  f.run_all();
  CHECK(f.s.count(S::finished) == 1);
  CHECK(f.s.count(S::released) == 1);
  std::uint64_t sum = 0;
  for (int st = 0; st < task_state_count; ++st) sum += f.s.count(static_cast<TaskState>(st));
  CHECK(sum == f.s.task_count());
  f.check();
}

// --- plan validation ------------------------------------------------------------------------

TEST_CASE("scheduler plans: malformed columns are refused without changing anything", "[scheduler][plan]") {
  SchedulerFixture f;
  f.add_worker(1);
  PlanBuilder good;
  good.keep(good.add());
  f.submit(good);

  auto base_request = [] {
    PlanBuilder p;
    auto a = p.add();
    p.add(const_type, {local(a)});
    return p.build();
  };
  std::vector<std::pair<const char*, std::function<void(PlanRequest&)>>> breakages = {
      {"columns differ", [](PlanRequest& r) { r.cpus.pop_back(); }},
      {"input counts", [](PlanRequest& r) { r.input_counts[1] = 2; }},
      {"config offsets", [](PlanRequest& r) { r.config_offsets.pop_back(); }},
      {"config offsets", [](PlanRequest& r) { r.configs = "xyz"; }},
      {"config offsets decrease",
       [](PlanRequest& r) {
         r.configs = "ab";
         r.config_offsets = {0, 3, 2};
       }},
      {"label", [](PlanRequest& r) { r.label_of = {0}; }},
      {"label index", [](PlanRequest& r) { r.label_of = {0, 5}; }},
      {"kept task index", [](PlanRequest& r) { r.keep = {2}; }},
      {"type index", [](PlanRequest& r) { r.type_of[1] = 7; }},
      {"cpu request", [](PlanRequest& r) { r.cpus[0] = 70000; }},
  };
  for (auto& [what, breakage] : breakages) {
    INFO(what);
    PlanRequest r = base_request();
    breakage(r);
    CHECK_THROWS_AS(f.s.submit(1, std::move(r)), PlanError);
    CHECK(f.s.task_count() == 1);  // a refused plan leaves no trace
    f.check();
  }
  // Messages say what is wrong.
  PlanRequest r = base_request();
  r.input_counts[1] = 2;
  CHECK_THROWS_WITH(f.s.submit(1, std::move(r)), Contains("malformed plan") && Contains("input counts"));

  // The scheduler still works afterwards.
  TaskId next = f.submit(good);
  CHECK(next == 1);
  f.run_all();
  CHECK(f.state(next) == S::finished);
  f.check();
}

TEST_CASE("scheduler plans: a forward or self reference is a cycle", "[scheduler][plan]") {
  SchedulerFixture f;
  SECTION("self") {
    PlanBuilder p;
    p.add(const_type, {local(0)});
    CHECK_THROWS_WITH(f.submit(p), Contains("cycle") && Contains("order"));
  }
  SECTION("forward") {
    PlanBuilder p;
    p.add(const_type, {local(1)});
    p.add(const_type, {local(0)});
    CHECK_THROWS_AS(f.submit(p), PlanError);
    CHECK_THROWS_WITH(f.submit(p), Contains("cycle") && Contains("order"));
  }
  SECTION("a global id of this very plan") {
    PlanBuilder p;
    p.add(const_type, {TaskId{0}});
    CHECK_THROWS_WITH(f.submit(p), Contains("does not exist"));
  }
  CHECK(f.s.task_count() == 0);
  f.check();
}

TEST_CASE("scheduler plans: an unknown task type is named", "[scheduler][plan]") {
  SchedulerFixture f;
  f.add_worker(1, {"test/offered"});
  PlanBuilder p;
  p.add("test/nobody-offers-this");
  CHECK_THROWS_AS(f.submit(p), PlanError);
  CHECK_THROWS_WITH(f.submit(p), Contains("test/nobody-offers-this"));
  CHECK(f.s.task_count() == 0);

  PlanBuilder offered;
  offered.add("test/offered");
  offered.add(std::string(symbols::run));  // built-ins are known without workers
  CHECK_NOTHROW(f.submit(offered));
  f.check();
}

TEST_CASE("scheduler plans: built-in tasks are accepted before any worker connects", "[scheduler][plan]") {
  SchedulerFixture f;
  PlanBuilder p;
  p.keep(p.add());
  TaskId a = f.submit(p);
  f.s.schedule();
  CHECK(f.state(a) == S::ready);
  CHECK(f.actions.log.empty());
  f.add_worker(1);
  f.s.schedule();
  CHECK(f.state(a) == S::assigned);
  f.check();
}

TEST_CASE("scheduler plans: a released input of an earlier plan is refused", "[scheduler][plan]") {
  SchedulerFixture f;
  f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "old");
  p.keep(a);
  TaskId A = f.submit(p);
  f.run_all();
  REQUIRE(f.state(A) == S::finished);

  PlanBuilder uses;
  uses.add(const_type, {A});
  SECTION("finished and kept: fine") {
    TaskId b = f.submit(uses);
    CHECK(f.state(b) == S::ready);
    f.s.release(A);  // b still holds it
    CHECK(f.state(A) == S::finished);
    f.run_all();
    CHECK(f.state(A) == S::released);
  }
  SECTION("released: refused, naming it") {
    f.s.release(A);
    REQUIRE(f.state(A) == S::released);
    CHECK_THROWS_AS(f.submit(uses), PlanError);
    CHECK_THROWS_WITH(f.submit(uses), Contains("released") && Contains("task 0 (old)"));
    CHECK(f.s.task_count() == 1);
  }
  SECTION("cancelled before it finished: refused") {
    PlanBuilder q;
    q.keep(q.add(const_type, {}, 1));
    TaskId c = f.submit(q);
    f.s.release(c);
    REQUIRE(f.state(c) == S::cancelled);
    PlanBuilder late;
    late.add(const_type, {c});
    CHECK_THROWS_WITH(f.submit(late), Contains("was cancelled and cannot be used any more"));
  }
  f.check();
}

TEST_CASE("scheduler plans: a plan using a failed task of an earlier plan fails at once", "[scheduler][plan]") {
  SchedulerFixture f;
  f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1, "a");
  auto b = p.add(const_type, {local(a)}, 1, "b");
  p.keep(a).keep(b);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.fail(base + a, "boom");
  REQUIRE(f.state(base + b) == S::failed);
  const std::string runtime_message = f.s.failure(base + b)->message;
  CHECK(runtime_message == "input task 0 (a) failed: boom");

  // Uses both the origin and a dependent that failed because of it.
  PlanBuilder q;
  auto c = q.add(const_type, {base + a}, 0, "c");
  auto d = q.add(const_type, {base + b}, 0, "d");
  auto e = q.add(const_type, {local(c)}, 0, "e");
  auto ok = q.add(const_type, {}, 0, "ok");
  q.keep(c).keep(d).keep(e).keep(ok);
  const std::size_t mark = f.actions.log.size();
  TaskId qb = f.submit(q);
  for (TaskId id : {qb + c, qb + d, qb + e}) {
    INFO(f.s.describe(id));
    CHECK(f.state(id) == S::failed);
    REQUIRE(f.s.failure(id) != nullptr);
    CHECK(f.s.failure(id)->origin == base + a);
    // The same message a dependent gets at run time: the origin, named once.
    CHECK(f.s.failure(id)->message == runtime_message);
    CHECK(f.actions.count(Kind::kept_failed, id) == 1);
  }
  CHECK(f.state(qb + ok) == S::ready);
  CHECK_THAT(f.story(qb + c), Equals(std::vector<std::string>{"waiting->failed: an input failed"}));
  for (auto& action : f.actions.since(mark)) CHECK(action.kind != Kind::assign);
  f.check();
}

// --- holds and release ------------------------------------------------------------------------

TEST_CASE("scheduler release: a kept result is freed only when its last holder lets go", "[scheduler][release]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(1);
  PlanBuilder p;
  auto a = p.add();
  auto b = p.add(const_type, {local(a)}, 1);
  p.keep(a).keep(b);
  TaskId base = f.submit(p);
  f.s.keep(base + a);  // a second client future
  f.s.schedule();
  f.finish(base + a);
  REQUIRE(f.state(base + a) == S::finished);
  f.s.release(base + a);
  f.s.release(base + a);  // both futures gone, b still needs it
  CHECK(f.state(base + a) == S::finished);
  f.s.release(base + a);  // one too many: ignored
  CHECK(f.s.task(base + a).holds == 1);
  f.check();
  f.run_all();
  CHECK(f.state(base + a) == S::released);
  CHECK(f.actions.count(Kind::free_data, w, base + a) == 1);
  f.check();
}

TEST_CASE("scheduler release: cancelling a task cascades to inputs nobody else needs", "[scheduler][release]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(1);
  PlanBuilder p;
  auto shared = p.add(const_type, {}, 1, "shared");
  auto done = p.add(const_type, {}, 0, "done");
  auto mid = p.add(const_type, {local(shared), local(done)}, 1, "mid");
  auto top = p.add(const_type, {local(mid)}, 1, "top");
  auto other = p.add(const_type, {local(shared)}, 1, "other");
  p.keep(top).keep(other);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.finish(base + done);
  REQUIRE(f.state(base + shared) == S::assigned);
  REQUIRE(f.state(base + done) == S::finished);

  f.s.release(base + top);
  CHECK(f.state(base + top) == S::cancelled);
  CHECK(f.state(base + mid) == S::cancelled);
  CHECK(f.state(base + done) == S::released);  // finished input nobody needs: freed
  CHECK(f.actions.count(Kind::free_data, w, base + done) == 1);
  CHECK(f.state(base + shared) == S::assigned);  // other still needs it
  CHECK(f.actions.count(Kind::cancel, base + shared) == 0);
  f.check();

  f.s.release(base + other);
  CHECK(f.state(base + shared) == S::cancelled);
  CHECK(f.actions.count(Kind::cancel, w, base + shared) == 1);
  CHECK(f.s.count(S::cancelled) == 4);
  CHECK(f.s.count(S::released) == 1);
  f.check();
}

TEST_CASE("scheduler release: a 100k-task chain is cancelled without deep recursion", "[scheduler][release]") {
  SchedulerFixture f;
  constexpr std::uint32_t n = 100000;
  PlanBuilder p;
  p.add();
  for (std::uint32_t i = 1; i < n; ++i) p.add(const_type, {local(i - 1)});
  p.keep(n - 1);
  TaskId base = f.submit(p);
  CHECK(f.s.details(base).priority == static_cast<std::int32_t>(n));
  f.s.release(base + n - 1);
  CHECK(f.s.count(S::cancelled) == n);
  CHECK(f.s.task(base).holds == 0);
}

// --- the failure cascade ---------------------------------------------------------------------

TEST_CASE("scheduler failure: dependents fail with a message naming the origin", "[scheduler][failure]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  auto in = p.add(const_type, {}, 0, "in");
  auto a = p.add(const_type, {local(in)}, 1, "source");
  auto b = p.add(const_type, {local(a)}, 1, "b");
  auto c = p.add(const_type, {local(b)}, 1, "c");
  auto d = p.add(const_type, {local(b), local(in)}, 1, "d");
  auto e = p.add(const_type, {}, 1, "e");
  p.keep(c).keep(d).keep(e);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.finish(base + in);
  f.s.schedule();
  REQUIRE(f.state(base + a) == S::assigned);
  f.start(base + a);
  f.fail(base + a, "boom");

  CHECK(f.s.failure(base + a)->message == "boom");
  CHECK(f.s.failure(base + a)->origin == base + a);
  for (auto t : {b, c, d}) {
    INFO(f.s.describe(base + t));
    CHECK(f.state(base + t) == S::failed);
    CHECK(f.s.failure(base + t)->origin == base + a);
    CHECK(f.s.failure(base + t)->message == "input task 1 (source) failed: boom");
  }
  CHECK(f.actions.count(Kind::kept_failed, base + c) == 1);
  CHECK(f.actions.count(Kind::kept_failed, base + d) == 1);
  CHECK(f.actions.count(Kind::kept_failed, base + b) == 0);  // not kept
  CHECK(f.actions.count(Kind::kept_failed, base + a) == 0);
  CHECK(f.state(base + e) != S::failed);  // unrelated
  // Nobody needs `in` any more.
  CHECK(f.state(base + in) == S::released);
  CHECK(f.actions.count(Kind::free_data, w, base + in) == 1);
  CHECK(f.s.failure(base + e) == nullptr);
  f.check();

  // A late report for a failed task changes nothing.
  f.s.task_finished(w, base + b, 1, 1);
  CHECK(f.state(base + b) == S::failed);
  f.check();
}

TEST_CASE("scheduler failure: dependents share the origin's packed exception", "[scheduler][failure]") {
  // Clients waiting on a dependent raise the exception of the task that failed.
  SchedulerFixture f;
  WorkerId w = f.add_worker(2);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1, "source");
  auto b = p.add(const_type, {local(a)}, 1, "b");
  p.keep(a).keep(b);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.start(base + a);
  auto packed = std::make_shared<const std::string>("pickled exception");
  f.s.task_failed(w, base + a, "boom", packed);
  CHECK(f.s.failure(base + a)->exception == packed);
  CHECK(f.s.failure(base + b)->exception == packed);
  // A later plan naming the failed task fails at once, with it too.
  PlanBuilder later;
  auto c = later.add(const_type, {base + a}, 1, "c");
  later.keep(c);
  TaskId base2 = f.submit(later);
  REQUIRE(f.s.failure(base2 + c) != nullptr);
  CHECK(f.s.failure(base2 + c)->exception == packed);
  CHECK(f.s.failure(base2 + c)->origin == base + a);
  f.check();
}

TEST_CASE("scheduler failure: dependents chained on a worker are cancelled there", "[scheduler][failure]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(1);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "a");
  auto b = p.add(const_type, {local(a)});
  auto c = p.add(const_type, {local(b)});
  p.keep(c);
  TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.state(base + c) == S::assigned);
  f.fail(base + a, "nope");
  CHECK(f.actions.count(Kind::cancel, w, base + a) == 0);
  CHECK(f.actions.count(Kind::cancel, w, base + b) == 1);
  CHECK(f.actions.count(Kind::cancel, w, base + c) == 1);
  CHECK(f.actions.count(Kind::kept_failed, base + c) == 1);
  CHECK(f.s.worker(w)->light_tasks == 0);
  f.check();
}

TEST_CASE("scheduler failure: a 100k-task chain fails without deep recursion", "[scheduler][failure]") {
  SchedulerFixture f;
  constexpr std::uint32_t n = 100000;
  WorkerId w = f.add_worker(n / light_tasks_per_cpu + 1);  // room for the whole chain at once
  PlanBuilder p;
  p.add();
  for (std::uint32_t i = 1; i < n; ++i) p.add(const_type, {local(i - 1)});
  p.keep(n - 1);
  TaskId base = f.submit(p);
  f.s.schedule();  // the whole chain is chained onto the worker
  REQUIRE(f.s.count(S::assigned) == n);
  f.fail(base, "first link broke");
  CHECK(f.s.count(S::failed) == n);
  CHECK(f.actions.count(Kind::cancel) == n - 1);
  CHECK(f.s.failure(base + n - 1)->origin == base);
  CHECK(f.s.worker(w)->light_tasks == 0);
}

TEST_CASE("scheduler: each worker counts what runs there now and what waits queued", "[scheduler]") {
  SchedulerFixture f;
  WorkerId w = f.add_worker(1);
  PlanBuilder p;
  TaskId first = 0;
  for (int i = 0; i < 3; ++i) p.keep(p.add(const_type, {}, 1));
  first = f.submit(p);
  f.s.schedule();
  const WorkerInfo& info = *f.s.worker(w);
  // Sent ahead of its cpu: placement counts them all against it, status only what started.
  CHECK(info.running_tasks == 0);
  CHECK(info.queued_tasks == f.s.count(S::assigned));
  CHECK(info.queued_tasks >= 2);
  f.start(first);
  CHECK((info.running_tasks == 1 && info.running_cpus == 1));
  CHECK(info.queued_tasks == f.s.count(S::assigned));
  f.s.task_seceded(w, first, true);  // waits on tasks it submitted: its cpu is free
  CHECK((info.running_tasks == 1 && info.running_cpus == 0));
  f.s.task_seceded(w, first, false);
  CHECK(info.running_cpus == 1);
  f.check();
  f.finish(first);
  CHECK((info.running_tasks == 0 && info.running_cpus == 0));
  f.check();
  f.s.remove_worker(w, "lost");  // what ran and waited there goes back: nothing is left counted
  CHECK((info.running_tasks == 0 && info.queued_tasks == 0));
  f.check();
}

// A record keeps a result's size in 4 bytes (TaskRecord::small_size) and its length apart
// (TaskDetails); sizes from 4 GiB - 1 up and lengths are read back exactly.
TEST_CASE("scheduler states: results of 4 GiB and more, and lengths, are kept exactly", "[scheduler][states]") {
  SchedulerFixture f;
  const WorkerId w = f.add_worker(4);
  PlanBuilder p;
  std::vector<TaskId> locals;
  for (int i = 0; i < 4; ++i) locals.push_back(p.add(const_type, {}, 1));
  for (TaskId l : locals) p.keep(l);
  const TaskId base = f.submit(p);
  f.s.schedule();
  const std::uint64_t sizes[] = {10, (std::uint64_t{1} << 32) - 2, (std::uint64_t{1} << 32) - 1, std::uint64_t{5} << 30};
  const std::uint64_t lengths[] = {0, 7, 0, std::uint64_t{1} << 40};
  for (int i = 0; i < 4; ++i) {
    f.s.task_started(w, base + i);
    f.s.task_finished(w, base + i, sizes[i], lengths[i]);
  }
  for (int i = 0; i < 4; ++i) {
    CHECK(f.state(base + i) == S::finished);
    CHECK(f.s.result_size(base + i) == sizes[i]);
    CHECK(f.s.object_size(base + i) == sizes[i]);
    CHECK(f.s.result_length(base + i) == lengths[i]);
  }
  f.check();
}

// A future released while a consumer still needs its task: the task runs on, and its end is
// told all the same (a wait or watch from before the release hears it, the server's watchers).
TEST_CASE("scheduler: the end of a task released while its consumer needs it is told", "[scheduler]") {
  SchedulerFixture f;
  f.add_worker(2);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 1, "a");
  auto b = p.add(const_type, {local(a)}, 1, "b");
  auto c = p.add(const_type, {}, 1, "c");
  auto d = p.add(const_type, {local(c)}, 1, "d");
  p.keep(a).keep(b).keep(c).keep(d);
  TaskId base = f.submit(p);
  f.s.schedule();
  f.start(base + a);
  f.start(base + c);
  f.s.release(base + a);
  f.s.release(base + c);
  CHECK(f.state(base + a) == S::running);  // b needs it
  f.finish(base + a);
  f.fail(base + c, "boom");
  using End = std::pair<TaskId, TaskState>;
  CHECK(f.actions.unkept_ends == std::vector<End>{{base + a, S::finished}, {base + c, S::failed}});
  CHECK(f.actions.count(Kind::kept_finished, base + a) == 0);
  CHECK(f.actions.count(Kind::kept_failed, base + d) == 1);  // d is still kept
  f.check();
}
