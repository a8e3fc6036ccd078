// WorkerSet (engine/server/worker_set.hpp): the 8-byte list of the workers holding an object.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "server/worker_set.hpp"

using treadle::WorkerId;
using treadle::WorkerSet;

TEST_CASE("worker set: none, one and two inline, then a block, in insertion order", "[worker_set]") {
  WorkerSet s;
  CHECK(s.empty());
  CHECK(s.size() == 0);
  CHECK(s.begin() == s.end());
  s.push_back(7);
  CHECK(s.size() == 1);
  CHECK(s.front() == 7);
  CHECK(s.heap_bytes() == 0);  // one worker costs no allocation
  s.push_back(0);
  CHECK(s == std::vector<WorkerId>{7, 0});
  CHECK(s.heap_bytes() == 0);  // nor two: a result and the copy its consumer fetched
  s.push_back(0xfffffffe);
  CHECK(s == std::vector<WorkerId>{7, 0, 0xfffffffe});
  CHECK(s.heap_bytes() > 0);
  std::vector<WorkerId> seen(s.begin(), s.end());
  CHECK(seen == std::vector<WorkerId>{7, 0, 0xfffffffe});
}

TEST_CASE("worker set: worker 0 and the largest id are kept inline", "[worker_set]") {
  for (WorkerId w : {WorkerId{0}, WorkerId{1}, WorkerId{0xfffffffe}, treadle::no_worker}) {
    WorkerSet s{w};
    CHECK(s.size() == 1);
    CHECK(s.front() == w);
    CHECK(s.heap_bytes() == 0);
  }
}

TEST_CASE("worker set: a second worker from 2^31 - 1 on takes a block", "[worker_set]") {
  const WorkerId big = (WorkerId{1} << 31) - 1;
  WorkerSet s{3, big - 1};
  CHECK(s.heap_bytes() == 0);
  CHECK(s == std::vector<WorkerId>{3, big - 1});
  WorkerSet t{big, 3};  // the first is kept whole
  CHECK(t.heap_bytes() == 0);
  CHECK(t == std::vector<WorkerId>{big, 3});
  WorkerSet u{3, big};
  CHECK(u.heap_bytes() > 0);
  CHECK(u == std::vector<WorkerId>{3, big});
  u.push_back(treadle::no_worker);
  u.erase(u.begin());  // {big, no_worker}: its second does not fit inline, the block stays
  CHECK(u == std::vector<WorkerId>{big, treadle::no_worker});
  CHECK(u.heap_bytes() > 0);
  u.erase(std::next(u.begin()));
  CHECK(u == std::vector<WorkerId>{big});
  CHECK(u.heap_bytes() == 0);
}

TEST_CASE("worker set: erase keeps the order and goes back inline at two", "[worker_set]") {
  WorkerSet s{1, 2, 3};
  auto it = std::find(s.begin(), s.end(), 2u);
  REQUIRE(it != s.end());
  s.erase(it);
  CHECK(s == std::vector<WorkerId>{1, 3});
  CHECK(s.heap_bytes() == 0);
  s.erase(std::find(s.begin(), s.end(), 1u));
  CHECK(s == std::vector<WorkerId>{3});
  CHECK(s.heap_bytes() == 0);
  s.erase(s.begin());
  CHECK(s.empty());
  CHECK(std::find(s.begin(), s.end(), 3u) == s.end());
}

TEST_CASE("worker set: clear and assign give the block back", "[worker_set]") {
  WorkerSet s{4, 5, 6, 7, 8};
  CHECK(s.size() == 5);
  s.assign(1, 9);
  CHECK(s == std::vector<WorkerId>{9});
  CHECK(s.heap_bytes() == 0);
  s.push_back(10);
  s.clear();
  CHECK(s.empty());
  CHECK(s.heap_bytes() == 0);
}

TEST_CASE("worker set: copies are deep, moves take the block", "[worker_set]") {
  WorkerSet a{1, 2, 3};
  WorkerSet b = a;
  b.push_back(4);
  CHECK(a == std::vector<WorkerId>{1, 2, 3});
  CHECK(b == std::vector<WorkerId>{1, 2, 3, 4});
  WorkerSet c = std::move(b);
  CHECK(b.empty());
  CHECK(c == std::vector<WorkerId>{1, 2, 3, 4});
  a = c;
  CHECK(a == c);
  a = WorkerSet{5};
  CHECK(a == std::vector<WorkerId>{5});
  std::vector<WorkerSet> grown(3, WorkerSet{1, 2});
  grown.resize(1000);  // reallocation moves them
  CHECK(grown[2] == std::vector<WorkerId>{1, 2});
}

TEST_CASE("worker set: behaves as a vector under random edits", "[worker_set]") {
  std::mt19937 rng(15);
  WorkerSet s;
  std::vector<WorkerId> model;
  for (int step = 0; step < 20000; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (op < 5 && model.size() < 40) {
      WorkerId w = rng() % 64;
      s.push_back(w);
      model.push_back(w);
    } else if (op < 9 && !model.empty()) {
      std::size_t i = rng() % model.size();
      auto it = s.begin();
      std::advance(it, i);
      s.erase(it);
      model.erase(model.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      s.clear();
      model.clear();
    }
    REQUIRE(s == model);
    REQUIRE(s.size() == model.size());
    REQUIRE(s.empty() == model.empty());
    REQUIRE((s.heap_bytes() == 0) == (model.size() <= 2));
  }
}
