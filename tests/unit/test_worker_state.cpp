// The worker's task state without processes: inputs arriving in any order, cpu accounting,
// light tasks run inline, cancels, frees, failed fetches, seceded Python tasks and redirected
// results. Decisions go to a recording WorkerActions; the state's books are checked after
// every step (WorkerState::inconsistency()).
#include <catch2/catch.hpp>

#include "worker_state_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;

TEST_CASE("worker: a task runs once its inputs arrived, in whatever order they come", "[worker]") {
  WorkerStateFixture f;
  // Task 10 joins object 1 (from peer a), object 2 (from peer b) and object 1 again.
  f.compute(BatchBuilder().add(10, light_type, {{1, "tcp://a"}, {2, "tcp://b"}, {1, "tcp://a"}}));
  CHECK(f.state_of(10) == WS::waiting);
  CHECK(f.state.task(10)->missing == 2);  // an input named twice is awaited once
  REQUIRE(f.actions.fetches.size() == 2);  // one request per peer, each object asked once
  CHECK(f.actions.count(Did::fetch) == 2);
  CHECK(f.state.fetching(1));
  CHECK(f.state.fetching(2));

  const bool one_first = GENERATE(true, false);
  f.arrive(one_first ? 1 : 2, one_first ? "A" : "B");
  f.run();
  CHECK(f.state_of(10) == WS::waiting);
  CHECK(f.actions.count(Did::run_inline) == 0);
  f.arrive(one_first ? 2 : 1, one_first ? "B" : "A");
  CHECK(f.state_of(10) == WS::ready);
  f.run();
  CHECK_FALSE(f.here(10));
  CHECK(f.result(10) == "ABA");
  CHECK(f.actions.count(Did::replicated) == 2);
  CHECK(f.actions.last(Did::replicated, 2)->detail == "tcp://b");
}

TEST_CASE("worker: inputs already here or made here are not fetched", "[worker]") {
  WorkerStateFixture f;
  f.store.put(1, bytes("x"));
  // 20 is computed here first (a chain): 21 waits for it without fetching.
  f.compute(BatchBuilder().add(20, heavy_type, {{1, ""}}, 1).add(21, light_type, {{20, ""}, {1, ""}}));
  CHECK(f.actions.fetches.empty());
  CHECK(f.state_of(21) == WS::waiting);
  f.run();
  CHECK(f.state_of(20) == WS::on_thread);
  f.thread_ends(20, "y");
  CHECK(f.state_of(21) == WS::ready);
  f.run();
  CHECK(f.result(21) == "yx");
}

TEST_CASE("worker: a task needing 2 cpus on a 3-cpu worker waits while 2 are in use", "[worker]") {
  WorkerStateFixture f(3);
  f.compute(BatchBuilder().add(1, heavy_type, {}, 2).add(2, heavy_type, {}, 2).add(3, heavy_type, {}, 1));
  f.run();
  CHECK(f.state_of(1) == WS::on_thread);
  CHECK(f.state_of(2) == WS::ready);  // 2 > 1 free
  CHECK(f.state_of(3) == WS::on_thread);  // a task behind it that fits still starts
  CHECK(f.state.cpus_held() == 3);
  CHECK(f.state.free_cpus() == 0);
  CHECK(f.actions.count(Did::started) == 0);  // until a thread takes each
  f.state.thread_started(1);
  f.state.thread_started(3);
  CHECK(f.actions.count(Did::started) == 2);

  f.thread_ends(3);
  f.run();
  CHECK(f.state_of(2) == WS::ready);  // 1 free: still waits
  f.thread_ends(1);
  f.run();
  CHECK(f.state_of(2) == WS::on_thread);
  CHECK(f.state.cpus_held() == 2);
  f.thread_ends(2);
  CHECK(f.state.cpus_held() == 0);
  CHECK(f.state.task_count() == 0);
  CHECK(f.actions.count(Did::finished) == 3);
}

TEST_CASE("worker: light tasks run inline on the loop, a chain of them in one pass", "[worker]") {
  WorkerStateFixture f(1);
  // A chain: 1 <- 2 <- 3, all light; and a heavy task holding the only cpu.
  f.compute(BatchBuilder()
                .add(9, heavy_type, {}, 1)
                .add(1, light_type, {}, 0, "a")
                .add(2, light_type, {{1, ""}})
                .add(3, light_type, {{2, ""}, {1, ""}}));
  f.run();
  CHECK(f.state_of(9) == WS::on_thread);
  CHECK(f.result(3) == "aa");  // ran at once, though no cpu was free
  CHECK(f.actions.count(Did::run_inline) == 3);
  CHECK(f.actions.count(Did::started, 1) == 0);  // inline tasks do not say they started
  CHECK(f.actions.last(Did::finished, 3)->lane == lane_loop);
  CHECK(f.state.task_count() == 1);
}

TEST_CASE("worker: an inline_if_small task takes a thread when its inputs are large", "[worker]") {
  WorkerStateFixture f(1);
  f.store.put(1, bytes(std::string(2u << 20, 'x')));
  f.store.put(2, bytes("small"));
  f.compute(BatchBuilder().add(10, small_type, {{1, ""}}).add(11, small_type, {{2, ""}}));
  f.run();
  CHECK(f.state_of(10) == WS::on_thread);
  CHECK(f.result(11) == "small");
  f.thread_ends(10);
  CHECK(f.actions.last(Did::finished, 10)->lane == lane_thread);
}

TEST_CASE("worker: a thread task says it started when a thread takes it, not when queued", "[worker]") {
  WorkerStateFixture f(1);
  f.compute(BatchBuilder().add(1, heavy_type, {}, 0).add(2, heavy_type, {}, 0));
  f.run();
  CHECK(f.state_of(2) == WS::on_thread);  // light: both go to the pool at once
  CHECK(f.actions.count(Did::started) == 0);
  f.state.thread_started(1);
  CHECK(f.actions.count(Did::started, 1) == 1);
  CHECK(f.actions.count(Did::started, 2) == 0);
}

TEST_CASE("worker: a program says it started once it exists", "[worker]") {
  WorkerStateFixture f(1);
  f.compute(BatchBuilder().add(1, run_type, {}, 1));
  f.run();
  CHECK(f.state_of(1) == WS::on_thread);
  CHECK(f.actions.count(Did::started, 1) == 0);
  f.state.thread_started(1);
  CHECK(f.actions.count(Did::started, 1) == 1);
}

TEST_CASE("worker: cancelling a waiting task stops fetches nobody needs", "[worker]") {
  WorkerStateFixture f;
  f.compute(BatchBuilder().add(10, light_type, {{1, "tcp://a"}, {2, "tcp://a"}}).add(11, light_type, {{2, "tcp://a"}}));
  f.state.cancel(10);
  f.check();
  CHECK_FALSE(f.here(10));
  CHECK_FALSE(f.state.fetching(1));  // only 10 needed it
  CHECK(f.state.fetching(2));        // 11 still does
  f.arrive(1);                       // a late arrival is dropped
  CHECK_FALSE(f.store.contains(1));
  CHECK(f.actions.count(Did::replicated, 1) == 0);

  // Sent again, it fetches anew.
  f.compute(BatchBuilder().add(10, light_type, {{1, "tcp://b"}}));
  CHECK(f.actions.fetches.back() == std::vector<TaskId>{1});
  f.arrive(1, "one");
  f.run();
  CHECK(f.result(10) == "one");
}

TEST_CASE("worker: cancelling a ready task, and a stale queue entry is skipped", "[worker]") {
  WorkerStateFixture f(1);
  f.compute(BatchBuilder().add(9, heavy_type, {}, 1).add(10, heavy_type, {}, 1));
  f.run();
  CHECK(f.state_of(10) == WS::ready);
  f.state.cancel(10);
  // Sent again, now waiting for an input: its old queue entry must not start it.
  f.compute(BatchBuilder().add(10, heavy_type, {{5, "tcp://a"}}, 1));
  f.thread_ends(9);
  f.run();
  CHECK(f.state_of(10) == WS::waiting);
  CHECK(f.actions.count(Did::run_on_thread, 10) == 0);
}

TEST_CASE("worker: a task cancelled on its thread keeps its cpus until the thread ends", "[worker]") {
  WorkerStateFixture f(2);
  f.compute(BatchBuilder().add(1, heavy_type, {}, 2));
  f.run();
  f.state.cancel(1);
  f.check();
  CHECK(f.actions.count(Did::cancel_on_thread, 1) == 1);
  CHECK_FALSE(f.here(1));
  CHECK(f.state.cpus_held() == 2);  // its program is being killed

  // Sent again while the killed run still ends: it waits for the cpus.
  f.compute(BatchBuilder().add(1, heavy_type, {}, 2));
  f.run();
  CHECK(f.state_of(1) == WS::ready);
  f.thread_fails(1, "killed");  // the cancelled run: dropped, not a failure of the new one
  CHECK(f.actions.count(Did::failed, 1) == 0);
  CHECK(f.state.cpus_held() == 0);
  f.run();
  CHECK(f.state_of(1) == WS::on_thread);
  f.thread_ends(1, "fresh");
  CHECK(f.result(1) == "fresh");
  CHECK(f.state.cpus_held() == 0);
}

TEST_CASE("worker: cancelling a Python task replaces its executor; its neighbours run again", "[worker]") {
  WorkerStateFixture f(2);
  f.actions.executor_slots = 4;
  f.store.put(100, bytes("fn"));
  f.compute(BatchBuilder().add(1, python_type, {{100, ""}}, 1).add(2, python_type, {{100, ""}}, 1));
  f.run();
  REQUIRE(f.state_of(1) == WS::on_executor);
  REQUIRE(f.state_of(2) == WS::on_executor);
  CHECK(f.state.cpus_held() == 2);
  f.actions.executor_neighbours[1] = {2};
  f.state.cancel(1);
  f.check();
  CHECK_FALSE(f.here(1));
  CHECK(f.state_of(2) == WS::ready);
  CHECK(f.state.cpus_held() == 0);
  f.run();
  CHECK(f.state_of(2) == WS::on_executor);
  CHECK(f.actions.count(Did::run_on_executor, 2) == 2);
}

TEST_CASE("worker: freeing an object a task still needs fails the task, not the worker", "[worker]") {
  WorkerStateFixture f(1);
  f.store.put(1, bytes("x"));
  f.compute(BatchBuilder().add(9, heavy_type, {}, 1).add(10, heavy_type, {{1, ""}}, 1));
  f.run();
  CHECK(f.state_of(10) == WS::ready);
  f.state.free(1);
  f.thread_ends(9);
  f.run();
  CHECK_FALSE(f.here(10));
  REQUIRE(f.actions.last(Did::failed, 10));
  CHECK_THAT(f.actions.last(Did::failed, 10)->detail, Contains("input task 1 is missing"));
  CHECK(f.state.cpus_held() == 0);  // it never took the cpu it could not use
}

TEST_CASE("worker: a failed fetch fails the tasks waiting for it and drops their other fetches", "[worker]") {
  WorkerStateFixture f;
  f.compute(BatchBuilder()
                .add(10, light_type, {{1, "tcp://a"}, {2, "tcp://b"}})
                .add(11, light_type, {{1, "tcp://a"}})
                .add(12, light_type, {{3, "tcp://b"}}));
  f.state.fetched(1, nullptr, 5);  // the peer no longer had it
  f.check();
  for (TaskId id : {TaskId{10}, TaskId{11}}) {
    CHECK_FALSE(f.here(id));
    REQUIRE(f.actions.last(Did::failed, id));
    CHECK_THAT(f.actions.last(Did::failed, id)->detail, Contains("input task 1 was no longer on the worker"));
  }
  CHECK_FALSE(f.state.fetching(2));  // only 10 needed it
  CHECK(f.state_of(12) == WS::waiting);
  f.arrive(3, "z");
  f.run();
  CHECK(f.result(12) == "z");
}

TEST_CASE("worker: a seceded Python task gives its cpus back and takes them again", "[worker]") {
  WorkerStateFixture f(1);
  f.store.put(100, bytes("fn"));
  f.compute(BatchBuilder().add(1, python_type, {{100, ""}}, 1).add(2, heavy_type, {}, 1));
  f.run();
  CHECK(f.state_of(1) == WS::on_executor);
  CHECK(f.state_of(2) == WS::ready);  // the only cpu is taken
  CHECK(f.state.cpus_held() == 1);

  f.state.task_seceded(1, true);  // it waits on tasks it submitted
  f.check();
  CHECK(f.state_of(1) == WS::seceded);
  CHECK(f.actions.count(Did::seceded, 1) == 1);
  CHECK(f.state.cpus_held() == 0);
  f.state.task_seceded(1, true);  // said twice: counted once
  CHECK(f.actions.count(Did::seceded, 1) == 1);
  f.run();
  CHECK(f.state_of(2) == WS::on_thread);  // its cpu serves the awaited work

  f.state.task_seceded(1, false);  // the wait ended: it takes its cpu again, oversubscribing
  f.check();
  CHECK(f.state_of(1) == WS::on_executor);
  CHECK(f.actions.count(Did::rejoined, 1) == 1);
  CHECK(f.state.cpus_held() == 2);
  f.thread_ends(2);
  f.executor_ends(1);
  CHECK(f.state.cpus_held() == 0);
  CHECK(f.actions.count(Did::rejoined, 1) == 1);
}

TEST_CASE("worker: a Python task ending while seceded gives nothing back twice", "[worker]") {
  WorkerStateFixture f(1);
  f.store.put(100, bytes("fn"));
  f.compute(BatchBuilder().add(1, python_type, {{100, ""}}, 1));
  f.run();
  f.state.task_seceded(1, true);
  const bool retried = GENERATE(false, true);  // its executor died: it runs again
  ExecutorResult r;
  r.id = 1;
  if (retried) r.retry = true;
  else r.data = bytes("done");
  f.executor_result(r);
  CHECK(f.actions.count(Did::rejoined, 1) == 1);  // the server takes its cpus back
  CHECK(f.state.cpus_held() == 0);
  if (retried) {
    CHECK(f.state_of(1) == WS::ready);
    f.run();
    CHECK(f.state_of(1) == WS::on_executor);  // run again, holding its cpu anew
    CHECK(f.state.cpus_held() == 1);
  } else {
    CHECK(f.result(1) == "done");
  }
}

TEST_CASE("worker: Python tasks wait for an idle executor, not for cpus", "[worker]") {
  WorkerStateFixture f(1);
  f.actions.executor_slots = 2;
  f.store.put(100, bytes("fn"));
  f.compute(BatchBuilder()
                .add(1, python_type, {{100, ""}}, 1)
                .add(2, python_type, {{100, ""}}, 1)
                .add(3, python_type, {{100, ""}}, 1)
                .add(4, python_type, {}, 1));
  f.run();
  CHECK(f.state_of(1) == WS::on_executor);
  CHECK(f.state_of(2) == WS::on_executor);  // waits in the executor's pipe: counts already
  CHECK(f.state_of(3) == WS::ready);
  CHECK(f.state.cpus_held() == 2);
  f.executor_ends(1);
  f.run();
  CHECK(f.state_of(3) == WS::on_executor);
  f.executor_ends(2);
  f.executor_ends(3);
  f.run();
  CHECK_THAT(f.actions.last(Did::failed, 4)->detail, Contains("needs the callable"));
  CHECK(f.state.cpus_held() == 0);
}

TEST_CASE("worker: a Python task says it started when it executes, not while it waits in the pipe", "[worker]") {
  WorkerStateFixture f(1);
  f.actions.executor_slots = 2;
  f.store.put(100, bytes("fn"));
  f.compute(BatchBuilder().add(1, python_type, {{100, ""}}, 1).add(2, python_type, {{100, ""}}, 1));
  f.run();
  CHECK(f.state_of(2) == WS::on_executor);  // sent: it waits behind 1 in the executor's pipe
  CHECK(f.actions.count(Did::started) == 0);
  f.state.executor_started(1);
  CHECK(f.actions.count(Did::started, 1) == 1);
  CHECK(f.actions.count(Did::started, 2) == 0);
  f.executor_ends(1);
  f.state.executor_started(2);
  CHECK(f.actions.count(Did::started, 2) == 1);
  f.state.executor_started(1);  // late news of a task that ended: nothing
  CHECK(f.actions.count(Did::started, 1) == 1);
}

TEST_CASE("worker: a redirected task is forgotten; its result is held under an alias later", "[worker]") {
  WorkerStateFixture f(1);
  f.store.put(100, bytes("fn"));
  f.compute(BatchBuilder().add(5, python_type, {{100, ""}}, 1).add(6, light_type, {{5, ""}}));
  f.run();
  ExecutorResult r;
  r.id = 5;
  r.redirect = json{{"types", json::array()}, {"labels", json::array()}};
  f.executor_result(r);
  CHECK(f.actions.count(Did::redirected, 5) == 1);
  CHECK_FALSE(f.here(5));
  CHECK(f.state.cpus_held() == 0);
  CHECK(f.state_of(6) == WS::waiting);  // for the plan's result, under 5's name

  f.state.alias(77, 5);  // the plan's root, 77, is not here: nothing happens
  f.check();
  CHECK(f.actions.count(Did::aliased) == 0);
  f.store.put(77, bytes("root"));
  f.state.alias(77, 5);
  f.check();
  CHECK(f.actions.count(Did::aliased, 5) == 1);
  CHECK(f.result(5) == "root");
  f.run();
  CHECK(f.result(6) == "root");
}

TEST_CASE("worker: failures are reported, and the loop goes on", "[worker]") {
  WorkerStateFixture f(1);
  f.compute(BatchBuilder()
                .add(1, "nobody/has/this")
                .add(2, light_type, {}, 0, "fail")
                .add(3, heavy_type, {}, 1)
                .add(4, light_type, {}, 0, "ok"));
  f.run();
  CHECK_THAT(f.actions.last(Did::failed, 1)->detail, Contains("no task type 'nobody/has/this'"));
  CHECK(f.actions.last(Did::failed, 2)->detail == "asked to fail");
  CHECK(f.result(4) == "ok");
  f.thread_fails(3, "exit status 1");
  CHECK(f.actions.last(Did::failed, 3)->detail == "exit status 1");
  CHECK(f.state.cpus_held() == 0);
  CHECK(f.state.task_count() == 0);
}

TEST_CASE("worker: a result that cannot be checkpointed fails its task", "[worker]") {
  WorkerStateFixture f(1);
  f.actions.checkpoint_error = "cannot write /x: read-only";
  f.compute(BatchBuilder().add(1, light_type, {}, 0, "a").checkpoint(1, "/x").add(2, light_type, {}, 0, "b"));
  f.run();
  CHECK(f.actions.last(Did::failed, 1)->detail == "cannot write /x: read-only");
  CHECK_FALSE(f.store.contains(1));
  CHECK(f.result(2) == "b");  // no checkpoint asked: not written
}

TEST_CASE("worker: events about tasks that are gone change nothing", "[worker]") {
  WorkerStateFixture f(1);
  f.state.cancel(42);
  f.state.thread_started(42);
  f.state.thread_finished(42, TaskOutcome{bytes("x"), {}, 0, 1});
  f.state.task_seceded(42, true);
  ExecutorResult r;
  r.id = 42;
  r.data = bytes("x");
  f.state.executor_finished(r);
  f.state.fetched(42, bytes("x"), 0);
  f.state.free(42);
  f.state.alias(42, 43);
  f.run();
  CHECK(f.actions.log.empty());
  CHECK(f.state.cpus_held() == 0);
  CHECK(f.store.count() == 0);
}

TEST_CASE("worker: copies asked for by the server (replicate) are fetched once and kept for no task",
          "[worker][retiring]") {
  WorkerStateFixture f;
  f.store.put(3, bytes("held"));
  // 1 and 3 are asked for; 3 is here already; 1 is also an input of a task that arrives later.
  f.state.replicate("tcp://retiring", {1, 2, 3}, f.now_us);
  f.check();
  REQUIRE(f.actions.fetches == std::vector<std::vector<TaskId>>{{1, 2}});
  f.compute(BatchBuilder().add(10, light_type, {{1, "tcp://other"}}));
  CHECK(f.actions.fetches.size() == 1);  // on its way already: not asked twice
  f.arrive(1, "one");
  f.run();
  CHECK(f.result(10) == "one");
  CHECK(f.result(1) == "one");
  f.arrive(2, "two");  // no task waits for it: kept all the same
  CHECK(f.result(2) == "two");
  CHECK(f.actions.count(Did::replicated) == 2);
  CHECK_FALSE(f.state.fetching(1));
  CHECK_FALSE(f.state.fetching(2));

  // Freed while on its way: a late arrival is dropped.
  f.state.replicate("tcp://retiring", {4}, f.now_us);
  f.state.free(4);
  f.check();
  CHECK_FALSE(f.state.fetching(4));
  f.arrive(4, "late");
  CHECK(f.result(4) == "<none>");
  // A peer that no longer has it: nothing to keep, nothing fails.
  f.state.replicate("tcp://retiring", {5}, f.now_us);
  f.state.fetched(5, nullptr, f.now_us);
  f.check();
  CHECK(f.result(5) == "<none>");
}
