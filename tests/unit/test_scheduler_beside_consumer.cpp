// Constants run beside their consumer (server/beside_consumer.cpp): a fresh constant per step of
// a chain, the constants of a many-input consumer, and constants held back (parked) until their
// consumer's other input is placed, however that input's story ends. No sockets.
#include <catch2/catch.hpp>

#include <set>
#include <unordered_map>

#include "scheduler_fixture.hpp"
#include "server/explain.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;
using S = TaskState;

namespace {

const std::string merge_type{symbols::merge};
const std::string py{"test/py"};

// Where each task was first assigned, from the recorded actions.
std::unordered_map<TaskId, WorkerId> first_assignments(const RecordingActions& actions) {
  std::unordered_map<TaskId, WorkerId> out;
  for (auto& a : actions.log)
    if (a.kind == Kind::assign) out.emplace(a.task, a.worker);
  return out;
}

}  // namespace

TEST_CASE("beside consumer: a chain merging a fresh constant per step stays on one worker",
          "[scheduler][placement]") {
  // x = merge(x, const) n times (bench workload 2b): longer than a worker's light room, so it
  // goes out in slices; the constants of the next slices wait for their step's input to be
  // placed instead of all going to the other worker, where every step would fetch its one.
  SchedulerFixture f;
  WorkerId w0 = f.add_worker(1);
  WorkerId w1 = f.add_worker(1);
  const std::uint32_t steps = light_tasks_per_cpu;  // 2 * steps + 1 tasks: two slices and a bit
  PlanBuilder p;
  std::uint32_t x = p.add();
  std::vector<std::uint32_t> consts, merges;
  for (std::uint32_t i = 0; i < steps; ++i) {
    consts.push_back(p.add());
    merges.push_back(x = p.add(merge_type, {local(x), local(consts.back())}));
  }
  p.keep(x);
  const TaskId base = f.submit(p);
  f.s.schedule();
  const WorkerId first = f.worker_of(base);
  const WorkerId other = first == w0 ? w1 : w0;
  CHECK(f.s.worker(first)->light_tasks == light_tasks_per_cpu);  // one batch, up to the room
  CHECK(f.s.worker(other)->light_tasks <= 1);                      // at most the step at the edge
  CHECK_THAT(why_not_running(f.s, base + consts.back()), Contains("beside its consumer"));
  f.check();

  f.run_all();
  REQUIRE(f.state(base + x) == S::finished);
  auto where = first_assignments(f.actions);
  std::size_t moved = 0;  // constants made on another worker than the step that merges them
  for (std::uint32_t i = 0; i < steps; ++i) moved += where.at(base + consts[i]) != where.at(base + merges[i]);
  CHECK(moved <= 3);  // one per slice edge; every step when the constants went to the other worker
  f.check();
}

TEST_CASE("beside consumer: the constants of a many-input consumer fill one worker, then the next",
          "[scheduler][placement]") {
  // 10,000 constants gathered by one array_make on 32 workers (bench workload 3b): spread over
  // all, the gathering worker fetched 97% of them from 31 peers.
  SchedulerFixture f;
  for (int i = 0; i < 32; ++i) f.add_worker(1);
  const std::uint32_t n = 10000;
  PlanBuilder p;
  std::vector<std::uint64_t> inputs;
  for (std::uint32_t i = 0; i < n; ++i) inputs.push_back(local(p.add()));
  p.keep(p.add(std::string(symbols::array_make), inputs));
  const TaskId base = f.submit(p);
  f.s.schedule();
  REQUIRE(f.s.count(S::assigned) == n);
  std::set<WorkerId> used;
  for (TaskId id = base; id < base + n; ++id) used.insert(f.worker_of(id));
  CHECK(used.size() == 2);  // a worker's room (8,192), then the rest on one more
  f.run_all();
  CHECK(f.state(base + n) == S::finished);
  f.check();
}

TEST_CASE("beside consumer: a constant parked for its consumer", "[scheduler][placement]") {
  SchedulerFixture f;
  f.add_worker(1, {py});
  f.add_worker(1, {py});
  PlanBuilder first;
  first.keep(first.add(py, {}, 1));
  const TaskId a = f.submit(first);
  f.s.schedule();
  REQUIRE(f.state(a) == S::assigned);
  const WorkerId w = f.worker_of(a);
  // y waits for a; z merges y with a constant, which waits for y to be placed.
  PlanBuilder second;
  auto y = second.add(const_type, {a});
  auto c = second.add();
  auto z = second.add(merge_type, {local(y), local(c)});
  second.keep(z);
  const TaskId base = f.submit(second);
  f.s.schedule();
  CHECK(f.state(base + c) == S::ready);
  CHECK(f.s.task(base + c).parked);
  CHECK_THAT(why_not_running(f.s, base + c), Contains("beside its consumer"));
  f.check();

  SECTION("comes along when the input is placed") {
    f.start(a);
    f.finish(a);
    f.s.schedule();
    CHECK(f.worker_of(base + y) == w);
    CHECK(f.worker_of(base + c) == w);
    CHECK(f.worker_of(base + z) == w);
    f.run_all();
    CHECK(f.state(base + z) == S::finished);
    f.check();
  }
  SECTION("runs for another consumer when its own fails") {
    PlanBuilder third;
    third.keep(third.add(const_type, {base + c}));
    const TaskId d = f.submit(third);
    f.s.schedule();
    CHECK(f.state(base + c) == S::ready);  // still held back: z may yet run
    f.fail(a, "boom");
    CHECK(f.state(base + z) == S::failed);
    CHECK(f.state(base + c) == S::ready);
    CHECK_FALSE(f.s.task(base + c).parked);
    f.check();
    f.run_all();
    CHECK(f.state(d) == S::finished);
    f.check();
  }
  SECTION("is cancelled with its consumer") {
    f.s.release(base + z);
    CHECK(f.state(base + c) == S::cancelled);
    CHECK_FALSE(f.s.task(base + c).parked);
    f.check();
  }
}
