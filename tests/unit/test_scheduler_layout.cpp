// Where the scheduler's records sit in memory (bench/README.md, "The scheduler simulator"): at
// thousands of workers the records a report touches are out of the cache by the time it comes,
// so each touch should cost one cache line, not two or three.
#include <catch2/catch.hpp>

#include <cstdint>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;

namespace {
constexpr std::uintptr_t line = 64;

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// The field lies within the first cache line of the record at `record`.
template <typename Field>
bool in_first_line(const void* record, const Field& field) {
  return address(&field) >= address(record) && address(&field) + sizeof(Field) <= address(record) + line;
}
}  // namespace

TEST_CASE("layout: every task record is half a cache line, two to a line", "[scheduler][layout]") {
  static_assert(sizeof(TaskRecord) == line / 2 && alignof(TaskRecord) == line / 2, "a record is half an aligned line");
  static_assert(sizeof(TaskDetails) == line / 2 && alignof(TaskDetails) == line / 2, "so are its details");
  SchedulerFixture f;
  f.add_worker();
  for (int plan = 0; plan < 3; ++plan) {
    PlanBuilder p;
    for (int i = 0; i < 100 + plan; ++i) p.add();
    const TaskId base = f.submit(p);
    for (TaskId id = base; id < base + 100 + plan; ++id) {
      REQUIRE(address(&f.s.task(id)) % (line / 2) == 0);
      REQUIRE(address(&f.s.details(id)) % (line / 2) == 0);
    }
  }
}

TEST_CASE("layout: what reports and placement read of a worker is in its first cache line", "[scheduler][layout]") {
  SchedulerFixture f;
  for (int i = 0; i < 20; ++i) f.add_worker(4);
  for (const auto& w : f.s.workers()) {
    REQUIRE(address(w) % line == 0);
    CHECK(in_first_line(w, w->id));
    CHECK(in_first_line(w, w->cpus));
    CHECK(in_first_line(w, w->free_cpus));
    CHECK(in_first_line(w, w->queue_cpus));
    CHECK(in_first_line(w, w->task_us));
    CHECK(in_first_line(w, w->light_tasks));
    CHECK(in_first_line(w, w->running_tasks));
    CHECK(in_first_line(w, w->running_cpus));
    CHECK(in_first_line(w, w->queued_tasks));
    CHECK(in_first_line(w, w->alive));
    CHECK(in_first_line(w, w->retiring));
    CHECK(in_first_line(w, w->recent_cpu_tasks));
    CHECK(in_first_line(w, w->tasks_done));
  }
}
