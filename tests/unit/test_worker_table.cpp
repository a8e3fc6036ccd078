// WorkerTable (engine/server/worker_table.hpp): workers by id in chunks whose records never
// move, so a reference taken when a worker joined stays good as hundreds more join.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "server/worker_table.hpp"

using treadle::WorkerId;
using treadle::WorkerInfo;
using treadle::WorkerTable;

TEST_CASE("worker table: ids in order, lookups and walks agree, records stay put across chunks", "[scheduler]") {
  WorkerTable table;
  CHECK(table.empty());
  std::vector<WorkerInfo*> seen;
  for (WorkerId id = 0; id < 1000; ++id) {  // four chunks of 256
    WorkerInfo& w = table.add();
    CHECK(w.id == id);
    w.cpus = id + 1;
    seen.push_back(&w);
  }
  REQUIRE(table.size() == 1000);
  for (WorkerId id = 0; id < 1000; ++id) {
    CHECK(table[id] == seen[id]);  // not moved by the joins after it
    CHECK(table[id]->id == id);
    CHECK(table[id]->cpus == id + 1);
    CHECK(reinterpret_cast<std::uintptr_t>(table[id]) % 64 == 0);  // its hot fields in one line
  }
  std::vector<WorkerInfo*> walked(table.begin(), table.end());
  CHECK(walked == seen);
}

TEST_CASE("worker table: alive without the record, before and after workers leave", "[scheduler]") {
  WorkerTable table;
  for (int i = 0; i < 300; ++i) table.add();
  for (WorkerId id = 0; id < 300; ++id) CHECK(table.alive(id));
  table.mark_gone(7);
  table.mark_gone(260);
  table.mark_gone(7);  // twice: still one worker gone
  for (WorkerId id = 0; id < 300; ++id) {
    CHECK(table.alive(id) == (id != 7 && id != 260));
    CHECK(table[id]->alive == table.alive(id));  // the record's flag agrees
  }
  WorkerInfo& late = table.add();  // joins after others left
  CHECK(table.alive(late.id));
}
