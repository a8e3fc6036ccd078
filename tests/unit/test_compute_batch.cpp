// The compute batch on the wire: its columns, the frees riding on it, and a batch reused after
// encode (the server builds every worker's batch in one). The worker drops the frees before it
// takes the batch's tasks.
#include <catch2/catch.hpp>

#include "worker_state_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;

TEST_CASE("compute batch: frees travel with the tasks and come back as sent", "[batches]") {
  ComputeBatch b = BatchBuilder().add(7, light_type, {{3, "tcp://a"}}, 0, "cfg").frees({3 | (1ull << 40), 4}).batch();
  Message m = ComputeBatch(b).encode();
  ComputeBatch back = ComputeBatch::decode(m);
  CHECK(back.ids == std::vector<TaskId>{7});
  CHECK(back.inputs == std::vector<TaskId>{3});
  CHECK(back.peers == std::vector<std::string>{"tcp://a"});
  CHECK(back.configs == "cfg");
  CHECK(back.frees == std::vector<ObjectId>{3 | (1ull << 40), 4});
}

TEST_CASE("compute batch: cleared after encode, it builds the next batch in the memory it has", "[batches]") {
  ComputeBatch b = BatchBuilder().add(7, light_type, {{3, "tcp://a"}}, 0, "cfg").frees({4}).batch();
  const auto* ids = b.ids.data();
  Message first = std::move(b).encode();
  b.clear();
  CHECK(b.empty());
  CHECK(b.types.empty());
  CHECK(b.peers.empty());
  CHECK(b.frees.empty());
  CHECK(b.config_offsets == std::vector<std::uint64_t>{0});
  CHECK(b.ids.data() == ids);  // a small column was copied into its frame, not handed over
  b.ids.push_back(8);
  b.type_of.push_back(0);
  b.types.push_back(light_type);
  b.cpus.push_back(0);
  b.input_counts.push_back(0);
  b.config_offsets.push_back(0);
  Message second = std::move(b).encode();
  ComputeBatch back = ComputeBatch::decode(second);
  CHECK(back.ids == std::vector<TaskId>{8});
  CHECK(back.inputs.empty());
  CHECK(back.frees.empty());
  CHECK(ComputeBatch::decode(first).ids == std::vector<TaskId>{7});
}

TEST_CASE("compute batch: a message without the frees column is refused", "[batches]") {
  Message m = ComputeBatch(BatchBuilder().add(7, light_type).batch()).encode();
  m.frames.pop_back();
  CHECK_THROWS_AS(ComputeBatch::decode(m), ProtocolError);
}

TEST_CASE("worker: the frees of a batch are dropped before its tasks are taken", "[worker]") {
  WorkerStateFixture f;
  f.store.put(1, bytes("old"));
  f.store.put(2, bytes("kept"));
  // 1 was freed here (decided before this batch), and task 10 needs it from a peer now: it is
  // fetched, not taken from the copy being freed.
  f.compute(BatchBuilder().add(10, light_type, {{1, "tcp://a"}, {2, ""}}).frees({1}));
  CHECK_FALSE(f.store.contains(1));
  CHECK(f.state.fetching(1));
  CHECK(f.state_of(10) == WS::waiting);
  f.arrive(1, "new");
  f.run();
  CHECK(f.result(10) == "newkept");
}
