// TaskTable (engine/server/task_table.hpp): a task of the newest plan is found without its
// id -> plan entry; the others, and the newest once it is freed, through that entry.
#include <catch2/catch.hpp>

#include <memory>

#include "server/task_table.hpp"

using treadle::Plan;
using treadle::TaskTable;

namespace {
std::uint32_t add_plan(TaskTable& table, std::uint32_t size) {
  auto plan = std::make_unique<Plan>();
  plan->base = table.next_id();
  plan->size = size;
  const std::uint32_t index = table.add(std::move(plan));
  // Each record and its details name the plan, so a lookup that takes the wrong plan shows.
  for (std::uint32_t local = 0; local < size; ++local) {
    table.plans()[index]->records[local].holds = index;
    table.plans()[index]->details[local].keeps = index;
  }
  return index;
}
}  // namespace

TEST_CASE("task table: tasks of the newest plan and of older ones", "[tasks]") {
  TaskTable table;
  CHECK_FALSE(table.live(0));
  const auto first = add_plan(table, 3);   // ids 0..2
  const auto second = add_plan(table, 4);  // ids 3..6, the newest
  for (treadle::TaskId id = 0; id < 7; ++id) {
    REQUIRE(table.live(id));
    const auto plan = id < 3 ? first : second;
    CHECK(table.plan_index(id) == plan);
    CHECK(table[id].holds == plan);
    CHECK(table.details(id).keeps == plan);
    CHECK(&table[id] == &table.plans()[plan]->records[id - (id < 3 ? 0 : 3)]);
    CHECK(&table.details(id) == &table.plans()[plan]->details[id - (id < 3 ? 0 : 3)]);
  }
  CHECK_FALSE(table.live(7));

  table.drop(second);  // the newest freed: its ids are not live, the older plan's are
  CHECK_FALSE(table.live(3));
  CHECK_FALSE(table.live(6));
  CHECK(table.live(2));
  CHECK(table.plan_index(2) == first);
  CHECK(table[2].holds == first);
  CHECK(table.details(2).keeps == first);

  const auto third = add_plan(table, 2);  // ids 7..8
  CHECK(table.live(7));
  CHECK(table.live(8));
  CHECK_FALSE(table.live(9));
  CHECK_FALSE(table.live(5));
  CHECK(table.plan_index(8) == third);
  CHECK(table[8].holds == third);
  CHECK(table.details(8).keeps == third);
  CHECK(table.plan_index(0) == first);
  CHECK(table[0].holds == first);
  CHECK(table.details(0).keeps == first);

  table.drop(first);  // an older plan freed: the newest stays
  CHECK_FALSE(table.live(0));
  CHECK(table.live(7));
  add_plan(table, 0);  // an empty plan: no id is its own, the others stay as they were
  CHECK(table.live(8));
  CHECK(table.plan_index(8) == third);
  CHECK(table[8].holds == third);
  CHECK(table.details(8).keeps == third);
  CHECK_FALSE(table.live(9));
}
