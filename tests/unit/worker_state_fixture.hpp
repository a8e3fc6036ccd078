#pragma once
// Shared helpers for the worker state's unit tests: a ComputeBatch builder, a WorkerActions
// that records every decision instead of starting threads or sending messages, test task
// types, and a fixture that checks the state's books after each step. No sockets, no
// threads, no processes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/batches.hpp"
#include "common/symbols.hpp"
#include "data/plain.hpp"
#include "worker/data_store.hpp"
#include "worker/worker_state.hpp"

namespace treadle::testing {

// Test task types, one per way of running.
inline const std::string light_type = "test/light";  // inline on the loop
inline const std::string small_type = "test/small";  // inline unless its inputs are large
inline const std::string heavy_type = "test/heavy";  // on a thread
inline const std::string python_type{symbols::py_call};
inline const std::string run_type{symbols::run};    // a program: "started" once it exists

// Each test type returns its inputs' bytes joined, or its config when it has no inputs.
inline TaskRegistry test_registry() {
  auto join = [](TaskContext& ctx) -> DataPtr {
    if (ctx.config == "fail") throw TaskFailure("asked to fail");
    std::string out = ctx.inputs.empty() ? std::string(ctx.config) : std::string();
    for (auto& in : ctx.inputs) out.append(in->raw());
    return PlainData::from_string(out);
  };
  TaskRegistry r;
  r.add(light_type, join, Threading::inline_on_loop);
  r.add(small_type, join, Threading::inline_if_small);
  r.add(heavy_type, join, Threading::own_thread);
  r.add(run_type, join, Threading::own_thread);
  return r;
}

inline DataPtr bytes(const std::string& s) { return PlainData::from_string(s); }

// Builds a compute message's columns the way the server's flush() does.
class BatchBuilder {
 public:
  struct Input {
    TaskId id;
    std::string peer;  // "" : here, or being computed here
  };
  BatchBuilder& add(TaskId id, const std::string& type, std::vector<Input> inputs = {}, std::uint32_t cpus = 0,
                    const std::string& config = "") {
    auto t = std::find(b_.types.begin(), b_.types.end(), type);
    if (t == b_.types.end()) t = b_.types.insert(t, type);
    b_.ids.push_back(id);
    b_.type_of.push_back(static_cast<std::uint32_t>(t - b_.types.begin()));
    b_.cpus.push_back(cpus);
    b_.input_counts.push_back(static_cast<std::uint32_t>(inputs.size()));
    for (auto& in : inputs) {
      b_.inputs.push_back(in.id);
      if (in.peer.empty()) {
        b_.input_where.push_back(ComputeBatch::local);
        continue;
      }
      auto p = std::find(b_.peers.begin(), b_.peers.end(), in.peer);
      if (p == b_.peers.end()) p = b_.peers.insert(p, in.peer);
      b_.input_where.push_back(static_cast<std::uint32_t>(p - b_.peers.begin()));
    }
    b_.configs += config;
    b_.config_offsets.push_back(b_.configs.size());
    return *this;
  }
  BatchBuilder& outputs(TaskId id, std::uint32_t count) {
    b_.outputs.emplace_back(id, count);
    return *this;
  }
  BatchBuilder& checkpoint(TaskId id, const std::string& path) {
    b_.checkpoints.emplace_back(id, path);
    return *this;
  }
  BatchBuilder& frees(std::vector<ObjectId> objects) {
    b_.frees = std::move(objects);
    return *this;
  }
  const ComputeBatch& batch() const { return b_; }

 private:
  ComputeBatch b_;
};

// Records every action. Inline tasks really run (their outcome is what the worker would
// report); thread and executor tasks wait for the test to finish them.
class RecordingWorkerActions : public WorkerActions {
 public:
  enum class Kind {
    run_inline, run_on_thread, run_on_executor, cancel_on_thread, cancel_on_executor, fetch,
    started, finished, replicated, aliased, failed, redirected, seceded, rejoined, output_made,
  };
  struct Action {
    Kind kind;
    TaskId task;          // fetch: the first object
    std::string detail;   // fetch: the peer; failed: the message; finished: the result's bytes
    std::uint32_t lane = 0;
  };

  std::vector<Action> log;
  std::vector<std::vector<TaskId>> fetches;  // each fetch's objects
  std::size_t executor_slots = 2;             // Python tasks an executor takes before it is busy
  std::size_t on_executors = 0;
  std::unordered_map<TaskId, std::vector<TaskId>> executor_neighbours;  // cancel_on_executor's retries
  std::string checkpoint_error;

  TaskOutcome run_inline(const TaskRegistry::Entry& entry, TaskToRun& task) override {
    record(Kind::run_inline, task.id);
    TaskContext ctx;
    ctx.id = task.id;
    ctx.type = task.type;
    ctx.config = task.config;
    ctx.inputs = std::move(task.inputs);
    TaskOutcome out;
    try {
      out.data = entry.run(ctx);
    } catch (const std::exception& e) {
      out.error = e.what();
    }
    return out;
  }
  void run_on_thread(const TaskRegistry::Entry&, TaskToRun& task) override { record(Kind::run_on_thread, task.id); }
  bool executor_idle() const override { return on_executors < executor_slots; }
  void run_on_executor(TaskToRun& task) override {
    ++on_executors;
    record(Kind::run_on_executor, task.id);
  }
  void cancel_on_thread(TaskId task) override { record(Kind::cancel_on_thread, task); }
  std::vector<ExecutorResult> cancel_on_executor(TaskId task) override {
    record(Kind::cancel_on_executor, task);
    // The executor is replaced: the task and its neighbours leave it.
    on_executors -= std::min(on_executors, 1 + executor_neighbours[task].size());
    std::vector<ExecutorResult> retry;
    for (TaskId other : executor_neighbours[task]) {
      ExecutorResult r;
      r.id = other;
      r.retry = true;
      retry.push_back(r);
    }
    return retry;
  }
  std::string write_checkpoint(const std::string&, TaskId, const DataPtr&) override { return checkpoint_error; }
  void fetch(const std::string& peer, const std::vector<TaskId>& objects) override {
    fetches.push_back(objects);
    log.push_back({Kind::fetch, objects.empty() ? 0 : objects.front(), peer});
  }
  void started(TaskId task) override { record(Kind::started, task); }
  // Recorded with the object's id and its bytes.
  void output_made(ObjectId object, const Data& data) override {
    log.push_back({Kind::output_made, object, std::string(data.raw())});
  }
  void finished(TaskId task, const Data& result, std::int64_t, std::int64_t, std::uint32_t lane) override {
    log.push_back({Kind::finished, task, std::string(result.raw()), lane});
  }
  void replicated(TaskId object, const std::string& peer, std::uint64_t, std::int64_t, std::int64_t) override {
    log.push_back({Kind::replicated, object, peer});
  }
  void aliased(TaskId task) override { record(Kind::aliased, task); }
  void failed(TaskId task, const std::string& message, const std::string&, const RunSpan*) override {
    log.push_back({Kind::failed, task, message});
  }
  void redirected(TaskId task, ExecutorResult&) override { record(Kind::redirected, task); }
  void seceded(TaskId task, bool seceded) override { record(seceded ? Kind::seceded : Kind::rejoined, task); }
  // Where in the log each chance to heartbeat came.
  std::vector<std::size_t> busy_at;
  void still_busy() override { busy_at.push_back(log.size()); }

  std::size_t count(Kind kind, TaskId task) const {
    return static_cast<std::size_t>(
        std::count_if(log.begin(), log.end(), [&](const Action& a) { return a.kind == kind && a.task == task; }));
  }
  std::size_t count(Kind kind) const {
    return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const Action& a) { return a.kind == kind; }));
  }
  const Action* last(Kind kind, TaskId task) const {
    for (auto it = log.rbegin(); it != log.rend(); ++it)
      if (it->kind == kind && it->task == task) return &*it;
    return nullptr;
  }
  // Position of the first such action in the log (log.size() if none): for "before" checks.
  std::size_t position(Kind kind, TaskId task) const {
    for (std::size_t i = 0; i < log.size(); ++i)
      if (log[i].kind == kind && log[i].task == task) return i;
    return log.size();
  }

 private:
  void record(Kind kind, TaskId task) { log.push_back({kind, task, {}}); }
};

using Did = RecordingWorkerActions::Kind;
using WS = WorkerTaskState;

// A worker's task state with `cpus` cpus, wired to recording actions.
struct WorkerStateFixture {
  explicit WorkerStateFixture(unsigned cpus = 2) : state(actions, registry, store, cpus) {}

  TaskRegistry registry = test_registry();
  // Never spills: the limit is out of reach, so the directory is never made.
  DataStore store{"/nonexistent/treadle-unit-spill", std::numeric_limits<std::uint64_t>::max()};
  RecordingWorkerActions actions;
  WorkerState state;
  std::int64_t now_us = 1000;

  void compute(const BatchBuilder& b) {
    state.compute(b.batch(), now_us);
    check();
  }
  // Delivers everything: the loop runs ready tasks after each batch of events.
  void run() {
    state.run_ready();
    check();
  }
  void arrive(TaskId object, const std::string& value = "v") {
    state.fetched(object, bytes(value), ++now_us);
    check();
  }
  void thread_ends(TaskId task, const std::string& value = "t") {
    state.thread_finished(task, TaskOutcome{bytes(value), {}, now_us, ++now_us});
    check();
  }
  void thread_fails(TaskId task, const std::string& error) {
    state.thread_finished(task, TaskOutcome{nullptr, error, now_us, ++now_us});
    check();
  }
  void executor_ends(TaskId task, const std::string& value = "p") {
    ExecutorResult r;
    r.id = task;
    r.data = bytes(value);
    if (actions.on_executors) --actions.on_executors;
    state.executor_finished(r);
    check();
  }
  void executor_result(ExecutorResult r) {
    if (actions.on_executors) --actions.on_executors;
    state.executor_finished(r);
    check();
  }
  WorkerTaskState state_of(TaskId id) const {
    const WorkerTask* t = state.task(id);
    REQUIRE(t != nullptr);
    return t->state;
  }
  bool here(TaskId id) const { return state.task(id) != nullptr; }
  std::string result(TaskId object) const {
    DataPtr d = store.find(object);
    return d ? std::string(d->raw()) : std::string("<none>");
  }

  void check() const {
    const std::string why = state.inconsistency();
    INFO(why);
    CHECK(why.empty());
  }
};

}  // namespace treadle::testing
