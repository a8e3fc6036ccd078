// ReadyQueue (engine/server/ready_queue.hpp): a sorted run for keys that come in order and a
// heap for the rest; whichever part a key went to, keys come out smallest first, as from one heap.
#include <catch2/catch.hpp>

#include <functional>
#include <queue>
#include <random>
#include <vector>

#include "server/ready_queue.hpp"

using treadle::ReadyQueue;
using treadle::TaskId;

namespace {
std::vector<TaskId> drain(ReadyQueue& q) {
  std::vector<TaskId> out;
  while (!q.empty()) {
    out.push_back(ReadyQueue::id_of(q.top_key()));
    q.pop();
  }
  return out;
}
}  // namespace

TEST_CASE("ready queue: keys out of order among keys in order come out in order", "[scheduler]") {
  ReadyQueue q;
  for (TaskId id = 10; id < 20; ++id) q.push(id, 1);  // a plan's sources: the run
  q.push(3, 1);                                        // a lower id: the heap
  q.push(15, 1);                                       // an entry twice (a stale one): both come out
  q.push(30, 2);                                       // a higher priority: first
  q.push(40, 0);                                       // a lower priority: last
  CHECK(q.size() == 14);
  CHECK(drain(q) == std::vector<TaskId>{30, 3, 10, 11, 12, 13, 14, 15, 15, 16, 17, 18, 19, 40});
  CHECK(q.size() == 0);
}

TEST_CASE("ready queue: a long run taken as fast as it is fed stays in order", "[scheduler]") {
  ReadyQueue q;
  TaskId next = 0;
  std::vector<TaskId> out;
  for (int round = 0; round < 5000; ++round) {  // past the run's compaction, several times
    for (int k = 0; k < 3; ++k) q.push(next++, 0);
    for (int k = 0; k < 2; ++k) {
      out.push_back(ReadyQueue::id_of(q.top_key()));
      q.pop();
    }
  }
  for (TaskId id : drain(q)) out.push_back(id);
  REQUIRE(out.size() == next);
  for (TaskId id = 0; id < next; ++id) CHECK(out[id] == id);
}

TEST_CASE("ready queue: random pushes and pops match one heap's order", "[scheduler]") {
  std::mt19937_64 random(15);
  for (int trial = 0; trial < 20; ++trial) {
    ReadyQueue q;
    std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<std::uint64_t>> heap;
    TaskId id = 0;
    for (int step = 0; step < 20000; ++step) {
      const auto roll = random() % 10;
      if (roll < 4) {  // in order, as a submit makes its sources ready
        const auto k = ReadyQueue::key(id++, 5);
        q.push_key(k);
        heap.push(k);
      } else if (roll < 6) {  // anything: a consumer whose inputs finished, a task given back
        const auto k = ReadyQueue::key(random() % (id + 1), static_cast<std::int32_t>(random() % 10));
        q.push_key(k);
        heap.push(k);
      } else if (!heap.empty()) {
        REQUIRE(!q.empty());
        REQUIRE(q.top_key() == heap.top());
        q.pop();
        heap.pop();
      }
      REQUIRE(q.size() == heap.size());
    }
    while (!heap.empty()) {
      REQUIRE(q.top_key() == heap.top());
      q.pop();
      heap.pop();
    }
    CHECK(q.empty());
    q.shrink();  // the server gives the buffers back once the queue is empty: it works on after
    q.push(7, 0);
    q.push(6, 1);
    CHECK(drain(q) == std::vector<TaskId>{6, 7});
  }
}
