// Recording for traces: the scheduler's observer hooks (ready times, placement decisions and
// their reasons) and the server's TraceRecorder (ring bound, JSON of each kind, the file).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "scheduler_fixture.hpp"
#include "server/trace_recorder.hpp"

using namespace treadle;
using namespace treadle::testing;
using S = TaskState;

namespace {

struct RecordingObserver : SchedulerObserver {
  std::vector<std::pair<TaskId, std::int64_t>> ready;
  std::vector<Decision> decisions;
  void on_ready(TaskId task, std::int64_t at_us) override { ready.emplace_back(task, at_us); }
  void on_assigned(const Decision& d) override { decisions.push_back(d); }

  const Decision& of(TaskId task) const {
    for (auto it = decisions.rbegin(); it != decisions.rend(); ++it)
      if (it->task == task) return *it;
    FAIL("no decision for task " << task);
    throw std::logic_error("unreachable");
  }
  std::size_t count(TaskId task) const {
    std::size_t n = 0;
    for (auto& d : decisions) n += d.task == task;
    return n;
  }
};

struct ObservedFixture : SchedulerFixture {
  RecordingObserver observer;
  TraceRecorder recorder;
  ObservedFixture() {
    s.add_observer(&observer);
    recorder.observe(s);
  }
  // The recorder's events of one kind, as JSON.
  std::vector<json> events(const std::string& kind) const {
    std::vector<json> out;
    json recent = recorder.recent(1000000, {kind});
    for (auto& e : recent["events"]) out.push_back(e);
    return out;
  }
};

}  // namespace

TEST_CASE("trace recording: ready time, then the decision, then start: in that order", "[trace]") {
  ObservedFixture f;
  WorkerId w = f.add_worker(2);
  f.s.set_clock(1000);
  PlanBuilder p;
  auto a = p.add(const_type, {}, 0, "a");
  p.keep(p.add(const_type, {local(a)}, 0, "b: step"));
  TaskId first = f.submit(p);
  TaskId second = first + 1;
  CHECK(f.s.details(first).ready_us == 1000);
  REQUIRE(f.observer.ready.size() == 1);
  CHECK(f.observer.ready[0] == std::make_pair(first, std::int64_t{1000}));

  f.s.set_clock(1500);
  f.s.schedule();
  const Decision& d = f.observer.of(first);
  CHECK(d.worker == w);
  CHECK(d.at_us == 1500);
  CHECK(d.ready_us == 1000);
  CHECK(d.ready_us <= d.at_us);
  // The task behind it was chained on the same worker: it never queued.
  CHECK(f.observer.of(second).reason == Placement::chained);
  CHECK(f.observer.of(second).ready_us == -1);
  CHECK(f.s.details(second).ready_us == -1);

  // The worker reports: the task event carries the ready time, which comes before the start.
  f.recorder.record_task(f.s, w, first, 0, 1700, 1750, 1);
  f.finish(first);
  auto tasks = f.events("task");
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0]["ready_us"] == 1000);
  CHECK(tasks[0]["ready_us"].get<std::int64_t>() <= tasks[0]["start_us"].get<std::int64_t>());
  CHECK(tasks[0]["label"] == "a");
  CHECK(tasks[0]["type"] == const_type);
  f.recorder.record_task(f.s, w, second, 1, 1800, 1900, 1);
  auto after = f.events("task");
  REQUIRE(after.size() == 2);
  CHECK_FALSE(after[1].contains("ready_us"));  // chained: no queue time to speak of
  f.check();
}

TEST_CASE("trace recording: each placement names its reason", "[trace]") {
  SECTION("locality, with the bytes there and in all") {
    ObservedFixture f;
    WorkerId w0 = f.add_worker(2), w1 = f.add_worker(2);
    PlanBuilder p;
    p.keep(p.add(const_type, {}, 0, "a"));
    p.keep(p.add(const_type, {}, 0, "b"));
    TaskId a = f.submit(p), b = a + 1;
    f.s.schedule();
    // Two light sources on two idle workers: the least loaded takes each.
    CHECK(f.observer.of(a).reason == Placement::least_loaded);
    CHECK(f.observer.of(b).reason == Placement::least_loaded);
    CHECK(f.observer.of(a).worker != f.observer.of(b).worker);
    f.finish(a, 1000);
    f.finish(b, 10);
    PlanBuilder q;
    q.keep(q.add(const_type, {a, b}));
    TaskId c = f.submit(q);
    f.s.schedule();
    const Decision& d = f.observer.of(c);
    CHECK(d.reason == Placement::locality);
    CHECK(d.worker == f.s.task(a).locations.front());
    CHECK(d.local_bytes == 1000);
    CHECK(d.input_bytes == 1010);
    CHECK(d.cause == PlacementCause::first);
    auto decisions = f.events("decision");
    REQUIRE(decisions.size() == 3);
    CHECK(decisions[2]["reason"] == "locality");
    CHECK(decisions[2]["why"] == "data locality (1000 of 1010 input bytes there)");
    CHECK(decisions[2]["task"] == c);
    (void)w0;
    (void)w1;
    f.check();
  }

  SECTION("chained behind its producer, the only worker") {
    ObservedFixture f;
    f.add_worker(1);
    PlanBuilder p;
    std::uint32_t x = p.add(const_type);
    for (int i = 0; i < 5; ++i) x = p.add(const_type, {local(x)});
    p.keep(x);
    TaskId base = f.submit(p);
    f.s.schedule();
    CHECK(f.observer.of(base).reason == Placement::only_worker);
    for (TaskId id = base + 1; id <= base + 5; ++id) {
      CHECK(f.state(id) == S::assigned);
      CHECK(f.observer.of(id).reason == Placement::chained);
    }
    CHECK(f.events("decision").back()["why"] == "chained behind its inputs on the same worker");
    f.check();
  }

  SECTION("the only worker with enough cpus") {
    ObservedFixture f;
    f.add_worker(1);
    WorkerId big = f.add_worker(4);
    PlanBuilder p;
    p.keep(p.add(const_type, {}, 4));
    TaskId t = f.submit(p);
    f.s.schedule();
    CHECK(f.worker_of(t) == big);
    CHECK(f.observer.of(t).reason == Placement::only_fit);
    CHECK_FALSE(f.observer.of(t).queued);
    f.check();
  }

  SECTION("queued when no worker has cpus free") {
    ObservedFixture f;
    f.add_worker(1);
    PlanBuilder p;
    p.keep(p.add(const_type, {}, 1));
    p.keep(p.add(const_type, {}, 1));
    TaskId t = f.submit(p);
    f.s.schedule();
    CHECK_FALSE(f.observer.of(t).queued);
    CHECK(f.observer.of(t + 1).queued);
    CHECK(f.events("decision").back()["queued"] == true);
    f.check();
  }

  SECTION("a source goes where its consumer's other input is") {
    ObservedFixture f;
    f.add_worker(1);
    f.add_worker(1);
    PlanBuilder p;
    auto a = p.add(const_type);
    auto b = p.add(const_type);
    p.keep(p.add(const_type, {local(a), local(b)}));
    TaskId base = f.submit(p);
    f.s.schedule();
    CHECK(f.observer.of(base + 1).reason == Placement::with_consumer);
    CHECK(f.observer.of(base + 1).worker == f.observer.of(base).worker);
    f.check();
  }

  SECTION("reassigned after its worker was lost, and recomputed after its result was") {
    ObservedFixture f;
    WorkerId w0 = f.add_worker(1);
    WorkerId w1 = f.add_worker(1);
    PlanBuilder p;
    p.keep(p.add(const_type, {}, 1));
    p.keep(p.add(const_type, {}, 1));
    TaskId a = f.submit(p), b = a + 1;
    f.s.schedule();
    REQUIRE(f.worker_of(a) == w0);
    REQUIRE(f.worker_of(b) == w1);
    f.finish(b);  // b's only copy is on w1, a still runs on w0
    f.s.remove_worker(w0, "test");
    f.s.remove_worker(w1, "test");
    WorkerId w2 = f.add_worker(2);
    f.s.schedule();
    CHECK(f.observer.count(a) == 2);
    CHECK(f.observer.of(a).cause == PlacementCause::worker_lost);
    CHECK(f.observer.of(a).lost_worker == w0);  // the one it ran on, not w1 (lost after)
    CHECK(f.observer.of(a).worker == w2);
    CHECK(f.observer.of(b).cause == PlacementCause::recomputed);
    CHECK(f.observer.of(b).reason == Placement::only_worker);
    auto decisions = f.events("decision");
    std::vector<std::string> whys;
    for (auto& d : decisions) whys.push_back(d["why"]);
    // The lost worker named, as the task's story names it (core/story.py).
    CHECK(std::count(whys.begin(), whys.end(), "only worker connected; placed again because worker w0 was lost") == 1);
    auto placed_again = std::find_if(decisions.begin(), decisions.end(),
                                     [&](const json& d) { return d["task"] == a && d["cause"] == "worker_lost"; });
    REQUIRE(placed_again != decisions.end());
    CHECK((*placed_again)["lost_worker"] == "w0");
    CHECK(std::count(whys.begin(), whys.end(), "only worker connected; recomputed (its result was lost)") == 1);
    f.finish(a);
    f.finish(b);
    f.check();
  }
}

TEST_CASE("trace recording: a cancelled task names its label and type; a lost worker its reason", "[trace]") {
  ObservedFixture f;
  WorkerId w = f.add_worker(1);
  PlanBuilder p;
  p.keep(p.add(const_type, {}, 0, "step: 7"));
  TaskId a = f.submit(p);
  f.s.schedule();
  REQUIRE(f.s.task(a).state == S::assigned);
  f.s.release(a);  // nobody wants it any more: cancelled where it was queued
  REQUIRE(f.s.task(a).state == S::cancelled);
  auto cancels = f.events("cancelled");
  REQUIRE(cancels.size() == 1);
  CHECK(cancels[0]["task"] == a);
  CHECK(cancels[0]["worker"] == w);
  CHECK(cancels[0]["running"] == false);
  CHECK(cancels[0]["label"] == "step: 7");
  CHECK(cancels[0]["type"] == const_type);

  f.recorder.record_worker(TraceEvent::Kind::worker_lost, w, "host:12 (no heartbeat)", 5000, "no heartbeat");
  f.recorder.record_worker(TraceEvent::Kind::worker_retired, w + 1, "host:13", 6000);
  auto lost = f.events("worker_lost");
  REQUIRE(lost.size() == 1);
  CHECK(lost[0]["name"] == "host:12 (no heartbeat)");
  CHECK(lost[0]["reason"] == "no heartbeat");
  CHECK_FALSE(f.events("worker_retired")[0].contains("reason"));
  f.check();
}

TEST_CASE("trace recording: a task cancelled while running says when it started", "[trace]") {
  ObservedFixture f;
  f.add_worker(2);
  PlanBuilder p;
  p.keep(p.add(const_type, {}, 1, "slow"));
  p.keep(p.add(const_type, {}, 1, "behind"));
  TaskId a = f.submit(p), b = a + 1;
  f.s.set_clock(1000);
  f.s.schedule();
  f.s.set_clock(2000);
  f.s.task_started(f.worker_of(a), a);
  REQUIRE(f.s.task(a).state == S::running);
  f.s.set_clock(2'500'000);
  f.s.release(a);  // an interrupted cell: the running task is cancelled 2.5 s after it started
  f.s.release(b);
  auto cancels = f.events("cancelled");
  REQUIRE(cancels.size() == 2);
  auto of = [&](TaskId t) { return cancels[0]["task"] == t ? cancels[0] : cancels[1]; };
  CHECK(of(a)["running"] == true);
  CHECK(of(a)["started_us"] == 2000);
  CHECK(of(a)["start_us"] == 2'500'000);
  CHECK(of(b)["running"] == false);
  CHECK_FALSE(of(b).contains("started_us"));  // sent, never started
  f.check();
}

TEST_CASE("trace recording: the ring keeps the most recent events within its bound", "[trace]") {
  TraceRecorder r(10);
  for (TaskId i = 0; i < 25; ++i) r.record_transfer(1, 0, i, 100 + i, 200 + i, i);
  r.record_worker(TraceEvent::Kind::worker_joined, 3, "host:1", 999);
  CHECK(r.size() == 10);
  CHECK(r.capacity() == 10);
  CHECK(r.recorded() == 26);
  json all = r.recent(100);
  REQUIRE(all["events"].size() == 10);
  CHECK(all["events"][0]["object"] == 16);  // oldest kept first
  CHECK(all["events"][8]["object"] == 24);
  CHECK(all["events"][9]["kind"] == "worker_joined");
  CHECK(all["events"][9]["name"] == "host:1");
  json last = r.recent(3, {"transfer"});
  REQUIRE(last["events"].size() == 3);
  CHECK(last["events"][0]["object"] == 22);
  CHECK(last["events"][2]["object"] == 24);
  CHECK(r.recent(5, {"sample"})["events"].empty());
}

TEST_CASE("trace recording: samples, and the complete record in a file", "[trace]") {
  auto dir = std::filesystem::temp_directory_path() / ("treadle-trace-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  TraceRecorder r(4);
  r.write_to(dir.string());
  WorkerSample s;
  s.at_us = 5000;
  s.cpu_percent = 87.25;
  s.rss = 123456789;
  s.store = 4096;
  s.spilled = 7;
  r.record_sample(2, s);
  Decision d;
  d.task = 9;
  d.worker = 2;
  d.reason = Placement::least_loaded;
  d.at_us = 6000;
  d.ready_us = 5500;
  r.on_assigned(d);
  for (TaskId i = 0; i < 10; ++i) r.record_transfer(1, 0, i, 1, 2, 3);
  r.flush();
  json sample = r.as_json([&] {
    TraceEvent e;
    e.kind = TraceEvent::Kind::sample;
    e.worker = 2;
    e.other = 873;
    e.size = 123456789;
    e.total = 4096;
    e.start_us = e.end_us = 5000;
    return e;
  }());
  CHECK(sample["cpu"] == Approx(87.3));
  CHECK(sample["rss"] == 123456789);

  std::ifstream in(dir / "server.trace.jsonl");
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  REQUIRE(lines.size() == 12);  // the file is complete, though the ring holds 4
  CHECK(lines[0]["kind"] == "sample");
  CHECK(lines[0]["worker"] == 2);
  CHECK(lines[0]["cpu"] == Approx(87.3));
  CHECK(lines[0]["rss"] == 123456789);
  CHECK(lines[0]["store"] == 4096);
  CHECK(lines[0]["spilled"] == 7);
  CHECK(lines[0]["start_us"] == 5000);
  CHECK(lines[1]["kind"] == "decision");
  CHECK(lines[1]["reason"] == "least_loaded");
  CHECK(lines[1]["cause"] == "first");
  CHECK(lines[1]["ready_us"] == 5500);
  CHECK(lines[1]["start_us"] == 6000);
  CHECK(r.size() == 4);
  r.write_to("");
  std::filesystem::remove_all(dir);
}

TEST_CASE("trace recording: a failure's headline is the exception's line, once", "[trace]") {
  CHECK(failure_headline("Traceback (most recent call last):\n  File \"a.py\", line 4, in bad\n"
                         "ValueError: hit zero\n(on worker vm:1)") == "ValueError: hit zero");
  // A task that raised again what the task it waited on raised: its str() names that task.
  CHECK(failure_headline("Traceback (most recent call last):\n  File \"a.py\", line 5, in bad\n"
                         "ValueError: Task id=6 (bad) failed: ValueError: hit zero\n(on worker vm:1, task 8)\n"
                         "(on worker vm:2, task 6)\n(on worker vm:1)") == "ValueError: hit zero");
  CHECK(failure_headline("Traceback (most recent call last):\n  File \"a.py\", line 5, in bad\n"
                         "ValueError: Task id=6 failed: ValueError: Task id=8 failed: ValueError: hit zero") ==
        "ValueError: hit zero");
  // Another type's message that happens to name a task stays as it is.
  CHECK(failure_headline("TaskError: Task id=6 failed: ValueError: x") == "TaskError: Task id=6 failed: ValueError: x");
  CHECK(failure_headline("program exited with status 1") == "program exited with status 1");
}
