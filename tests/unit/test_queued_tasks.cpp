// QueuedTasks (engine/server/queued_tasks.hpp): a worker's queued cpu tasks for work stealing.
#include <catch2/catch.hpp>

#include <vector>

#include "server/queued_tasks.hpp"

using treadle::QueuedTasks;
using treadle::TaskId;

namespace {
// The live ids, oldest first.
std::vector<TaskId> live(const QueuedTasks& q) {
  std::vector<TaskId> out;
  for (std::size_t i = q.head(); i < q.size(); ++i)
    if (q[i] != QueuedTasks::blank) out.push_back(q[i]);
  return out;
}
}  // namespace

TEST_CASE("queued tasks: leave in any order, the others keep theirs", "[stealing]") {
  QueuedTasks q;
  for (TaskId id = 1; id <= 5; ++id) q.push(id);
  q.remove(3);  // from the middle: blanked
  CHECK(live(q) == std::vector<TaskId>{1, 2, 4, 5});
  CHECK(q.size() - q.head() == 5);
  q.remove(1);  // from the front: the head moves on
  CHECK(q.head() == 1);
  q.remove(2);  // and past the blank behind it
  CHECK(q.head() == 3);
  CHECK(live(q) == std::vector<TaskId>{4, 5});
  q.remove(42);  // not there: nothing changes
  CHECK(live(q) == std::vector<TaskId>{4, 5});
  q.remove(5);
  q.remove(4);
  CHECK(q.size() == 0);  // empty: no blanks kept
}

TEST_CASE("queued tasks: blanks at the front go once they are half the list", "[stealing]") {
  QueuedTasks q;
  std::vector<TaskId> model;
  for (TaskId id = 0; id < 10000; ++id) {
    q.push(id);
    model.push_back(id);
    if (id >= 8) {  // tasks start in order, 8 stay queued
      q.remove(id - 8);
      model.erase(model.begin());
    }
    REQUIRE(q.size() <= 2 * 8 + 64 + 1);
  }
  CHECK(live(q) == model);
}
