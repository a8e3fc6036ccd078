// Random event sequences against the worker's task state, its books checked after every
// step: tasks sent (again), cancelled, freed inputs, fetches that arrive late, twice or never,
// threads and executors ending in any order, secessions, aliases. At the end, with every run
// ended and everything cancelled, nothing is left and no cpu is held.
#include <cstdlib>
#include <map>
#include <random>

#include "worker_state_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;

namespace {

// The outside world as the fuzzer plays it: which runs are on threads and executors now.
class WorldActions : public RecordingWorkerActions {
 public:
  std::vector<TaskId> thread_runs;    // one entry per run, cancelled ones included
  std::vector<TaskId> executor_runs;  // what the executors hold
  std::vector<TaskId> asked;          // objects fetched and not yet answered
  std::mt19937_64* rng = nullptr;

  void run_on_thread(const TaskRegistry::Entry& e, TaskToRun& task) override {
    RecordingWorkerActions::run_on_thread(e, task);
    thread_runs.push_back(task.id);
  }
  bool executor_idle() const override { return executor_runs.size() < executor_slots; }
  void run_on_executor(TaskToRun& task) override {
    RecordingWorkerActions::run_on_executor(task);
    executor_runs.push_back(task.id);
  }
  std::vector<ExecutorResult> cancel_on_executor(TaskId task) override {
    record_only(Kind::cancel_on_executor, task);
    // Its executor is replaced: the others it had (some at random) come back to run again.
    std::vector<ExecutorResult> retry;
    std::vector<TaskId> kept;
    for (TaskId t : executor_runs) {
      if (t == task) continue;
      if ((*rng)() % 3 == 0) {
        ExecutorResult r;
        r.id = t;
        r.retry = true;
        retry.push_back(std::move(r));
      } else {
        kept.push_back(t);
      }
    }
    executor_runs = std::move(kept);
    return retry;
  }
  void fetch(const std::string& peer, const std::vector<TaskId>& objects) override {
    RecordingWorkerActions::fetch(peer, objects);
    asked.insert(asked.end(), objects.begin(), objects.end());
  }

 private:
  void record_only(Kind kind, TaskId task) { log.push_back({kind, task, {}}); }
};

class Fuzzer {
 public:
  explicit Fuzzer(std::uint64_t seed) : rng_(seed), cpus_(static_cast<unsigned>(1 + seed % 3)) {
    world_.rng = &rng_;
    world_.executor_slots = 1 + pick(3);
    store_.put(callable, bytes("fn"));  // Python tasks' first input, here from the start
  }

  std::size_t events = 0;

  void run(int steps) {
    for (int i = 0; i < steps; ++i) {
      step();
      verify();
    }
    // Every run ends, every fetch is answered, then everything left is cancelled.
    while (!world_.thread_runs.empty() || !world_.executor_runs.empty() || !world_.asked.empty()) {
      if (!world_.thread_runs.empty()) thread_ends();
      if (!world_.executor_runs.empty()) executor_ends();
      if (!world_.asked.empty()) answer_fetch();
      state_.run_ready();
      verify();
    }
    for (TaskId id = 0; id < ids; ++id) state_.cancel(id);
    verify();
    while (!world_.thread_runs.empty()) thread_ends();  // runs of tasks cancelled just now
    verify();
    CHECK(state_.task_count() == 0);
    CHECK(state_.cpus_held() == 0);
  }

  // How often each action was taken.
  void add_counts(std::map<Did, std::size_t>& counts) const {
    for (auto& a : world_.log) ++counts[a.kind];
  }

 private:
  static constexpr TaskId ids = 24;  // task ids (and objects) the events name
  static constexpr TaskId callable = ids + 1;
  std::mt19937_64 rng_;
  unsigned cpus_;
  TaskRegistry registry_ = test_registry();
  DataStore store_{"/nonexistent/treadle-unit-spill", std::numeric_limits<std::uint64_t>::max()};
  WorldActions world_;
  WorkerState state_{world_, registry_, store_, cpus_};
  std::int64_t now_ = 0;

  std::uint64_t pick(std::uint64_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  TaskId any_id() { return pick(ids); }
  template <typename T> T take(std::vector<T>& from) {
    std::size_t i = pick(from.size());
    T out = from[i];
    from.erase(from.begin() + static_cast<std::ptrdiff_t>(i));
    return out;
  }

  void verify() {
    ++events;
    const std::string why = state_.inconsistency();
    INFO(why);
    REQUIRE(why.empty());
    REQUIRE(state_.cpus_held() >= 0);
  }

  void compute() {
    BatchBuilder b;
    for (auto n = 1 + pick(4); n > 0; --n) {
      static const std::string* types[] = {&light_type, &small_type, &heavy_type, &run_type, &python_type};
      const std::string type = chance(0.03) ? std::string("nobody/has/this") : *types[pick(5)];
      std::vector<BatchBuilder::Input> inputs;
      for (auto k = pick(type == python_type ? 3 : 4); k > 0; --k)
        inputs.push_back({any_id(), chance(0.5) ? "" : "tcp://p" + std::to_string(pick(3))});
      if (type == python_type && chance(0.9)) inputs.insert(inputs.begin(), {callable, ""});  // the callable
      const TaskId id = any_id();
      b.add(id, type, inputs, static_cast<std::uint32_t>(pick(cpus_ + 2)), chance(0.1) ? "fail" : "c");
      if (chance(0.05)) b.checkpoint(id, "/somewhere");
    }
    world_.checkpoint_error = chance(0.5) ? "" : "disk full";
    state_.compute(b.batch(), ++now_);
  }

  void answer_fetch() {
    if (world_.asked.empty()) return;
    TaskId object = take(world_.asked);
    // Sometimes the peer no longer has it; sometimes the answer comes twice.
    DataPtr data = chance(0.1) ? nullptr : bytes("o" + std::to_string(object));
    if (chance(0.05)) world_.asked.push_back(object);
    state_.fetched(object, data, ++now_);
  }

  void thread_ends() {
    if (world_.thread_runs.empty()) return;
    TaskId id = take(world_.thread_runs);
    if (chance(0.2)) state_.thread_finished(id, TaskOutcome{nullptr, "boom", now_, ++now_});
    else state_.thread_finished(id, TaskOutcome{bytes("t"), {}, now_, ++now_});
  }

  void executor_ends() {
    if (world_.executor_runs.empty()) return;
    ExecutorResult r;
    r.id = take(world_.executor_runs);
    switch (pick(6)) {
      case 0: r.error = "ValueError"; break;
      case 1: r.retry = true; break;  // its executor died before it started
      case 2: r.redirect = json{{"types", json::array()}, {"labels", json::array()}}; break;
      default: r.data = bytes("p");
    }
    state_.executor_finished(r);
  }

  void step() {
    const auto roll = pick(100);
    if (roll < 20) compute();
    else if (roll < 35) answer_fetch();
    else if (roll < 47) thread_ends();
    else if (roll < 57) executor_ends();
    else if (roll < 62 && !world_.thread_runs.empty()) state_.thread_started(world_.thread_runs[pick(world_.thread_runs.size())]);
    else if (roll < 66 && !world_.executor_runs.empty())
      state_.task_seceded(world_.executor_runs[pick(world_.executor_runs.size())], chance(0.6));
    else if (roll < 70 && !world_.executor_runs.empty())  // it leaves the pipe and executes
      state_.executor_started(world_.executor_runs[pick(world_.executor_runs.size())]);
    else if (roll < 76) state_.cancel(any_id());
    else if (roll < 80) state_.free(any_id());
    else if (roll < 84) state_.alias(any_id(), any_id());
    else if (roll < 87) state_.fetched(any_id(), bytes("stray"), ++now_);  // nobody asked
    if (chance(0.5)) state_.run_ready();
  }
};

}  // namespace

TEST_CASE("worker state fuzz: random events keep the books, and everything ends", "[worker][fuzz]") {
  std::size_t events = 0;
  std::map<Did, std::size_t> counts;
  // TREADLE_FUZZ_SEED=N replays one seed.
  const char* only = std::getenv("TREADLE_FUZZ_SEED");
  const std::uint64_t first = only ? std::stoull(only) : 1, last = only ? first : 1000;
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    INFO("seed " << seed);
    Fuzzer fuzz(seed);
    fuzz.run(200);
    events += fuzz.events;
    fuzz.add_counts(counts);
  }
  // The events reached every path, each many times.
  if (!only) {
    CHECK(events > 100000);
    for (Did kind : {Did::run_inline, Did::run_on_thread, Did::run_on_executor, Did::cancel_on_thread,
                     Did::cancel_on_executor, Did::fetch, Did::started, Did::finished, Did::replicated,
                     Did::aliased, Did::failed, Did::redirected, Did::seceded, Did::rejoined}) {
      INFO("action " << static_cast<int>(kind) << " taken " << counts[kind] << " times");
      CHECK(counts[kind] > 200);
    }
  }
}
