// Large objects in pieces (worker/chunked_transfer.hpp): cut, put back together, and refused
// when a peer's pieces do not fit.
#include <catch2/catch.hpp>

#include "common/protocol.hpp"
#include "data/plain.hpp"
#include "worker/chunked_transfer.hpp"

using namespace treadle;

namespace {
DataPtr pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7 + i / 4096);
  return PlainData::from_string(std::move(bytes));
}
}  // namespace

TEST_CASE("an object cut into pieces comes back whole, the last piece short") {
  DataPtr object = pattern(chunked_min_bytes + chunk_bytes / 3);
  REQUIRE(goes_in_chunks(object));
  REQUIRE_FALSE(goes_in_chunks(pattern(chunked_min_bytes - 1)));
  auto pieces = chunk_messages(7, 42, object);
  REQUIRE(pieces.size() == chunked_min_bytes / chunk_bytes + 1);
  ChunkAssembler assembler(ReceiveMemory::create(64 << 20, 60000));
  for (auto& piece : pieces) assembler.add("tcp://peer:1", piece);
  DataPtr back = assembler.take("tcp://peer:1", 42);
  CHECK(back->raw() == object->raw());
  CHECK(assembler.pending() == 0);
}

TEST_CASE("pieces that do not make their object are refused") {
  DataPtr object = pattern(chunked_min_bytes);
  auto pieces = chunk_messages(1, 5, object);
  ChunkAssembler assembler(ReceiveMemory::create(64 << 20, 60000));
  SECTION("a missing piece") {
    for (std::size_t i = 0; i + 1 < pieces.size(); ++i) assembler.add("p", pieces[i]);
    CHECK_THROWS_AS(assembler.take("p", 5), ProtocolError);
  }
  SECTION("from another peer, or never announced") {
    for (auto& piece : pieces) assembler.add("p", piece);
    CHECK_THROWS_AS(assembler.take("q", 5), ProtocolError);
    CHECK_THROWS_AS(assembler.take("p", 6), ProtocolError);
  }
  SECTION("a piece beyond the object's end") {
    pieces[1].header["at"] = object->size() - 10;
    assembler.add("p", pieces[0]);
    CHECK_THROWS_AS(assembler.add("p", pieces[1]), ProtocolError);
  }
}

TEST_CASE("an object freed gives its memory to the next, which comes back whole") {
  auto memory = ReceiveMemory::create(64 << 20, 60000);
  ChunkAssembler assembler(memory);
  DataPtr first = pattern(chunked_min_bytes + 3 * chunk_bytes);
  for (auto& piece : chunk_messages(1, 1, first)) assembler.add("p", piece);
  DataPtr got = assembler.take("p", 1);
  CHECK(got->raw() == first->raw());
  got.reset();  // freed: its pages are kept
  CHECK(memory->kept_bytes() >= first->size());
  DataPtr second = pattern(chunked_min_bytes + chunk_bytes / 2);  // smaller, other bytes
  for (auto& piece : chunk_messages(2, 2, second)) assembler.add("p", piece);
  got = assembler.take("p", 2);
  CHECK(got->raw() == second->raw());
  CHECK(memory->reused_bytes() >= second->size());
}

TEST_CASE("pieces nobody waits for any more are dropped, their memory kept") {
  auto memory = ReceiveMemory::create(64 << 20, 60000);
  ChunkAssembler assembler(memory);
  auto pieces = chunk_messages(1, 5, pattern(chunked_min_bytes));
  assembler.add("dead", pieces[0]);
  assembler.add("alive", pieces[0]);
  assembler.drop_unless([](const std::string& peer, ObjectId) { return peer == "alive"; });
  CHECK(assembler.pending() == 1);
  CHECK(memory->kept_bytes() >= chunked_min_bytes);
  CHECK_THROWS_AS(assembler.take("dead", 5), ProtocolError);
}

TEST_CASE("the rest of a dropped transfer is ignored, a new fetch of the object is not") {
  ChunkAssembler assembler(ReceiveMemory::create(64 << 20, 60000));
  DataPtr object = pattern(chunked_min_bytes + 5);
  auto first = chunk_messages(1, 5, object), again = chunk_messages(2, 5, object);
  assembler.add("p", first[0]);
  assembler.drop_unless([](const std::string&, ObjectId) { return false; });
  for (std::size_t i = 1; i < first.size(); ++i) assembler.add("p", first[i]);  // on their way when dropped
  CHECK(assembler.pending() == 0);
  SECTION("its reply is stale") {
    CHECK(assembler.dropped("p", 5, 1));
    CHECK_FALSE(assembler.dropped("p", 5, 1));  // once
  }
  for (auto& piece : again) assembler.add("p", piece);  // a peer answers in order: after the first
  CHECK_FALSE(assembler.dropped("p", 5, 2));
  CHECK(assembler.take("p", 5)->raw() == object->raw());
  CHECK(assembler.dropped("p", 5, 1) == false);  // forgotten once the new fetch began
}
