// Receive memory kept across objects (worker/receive_memory.hpp): reused, bounded, given back.
#include <catch2/catch.hpp>

#include <cstring>

#include "worker/receive_memory.hpp"

using namespace treadle;

namespace {
constexpr std::size_t MiB = std::size_t{1} << 20;
}

TEST_CASE("a freed buffer's pages make the next buffer, whatever its size") {
  auto memory = ReceiveMemory::create(64 * MiB, 60000);
  auto a = memory->take(10 * MiB);
  std::memset(a.bytes, 'a', 10 * MiB);
  CHECK(memory->kept_bytes() == 0);
  a = {};
  CHECK(memory->kept_bytes() == 10 * MiB);  // whole huge pages: 10 MiB is 5 of them
  auto b = memory->take(3 * MiB);         // from the kept pages; the rest stays kept
  CHECK(memory->reused_bytes() == 4 * MiB);
  CHECK(memory->kept_bytes() == 6 * MiB);
  std::memset(b.bytes, 'b', 3 * MiB);
  auto c = memory->take(20 * MiB);  // the kept 6 MiB, then fresh memory
  CHECK(memory->kept_bytes() == 0);
  CHECK(memory->reused_bytes() == 10 * MiB);
  std::memset(c.bytes, 'c', 20 * MiB);  // every page writable, moved or fresh
  CHECK(b.bytes[3 * MiB - 1] == 'b');
}

TEST_CASE("at most the limit is kept; the rest goes back at once") {
  auto memory = ReceiveMemory::create(8 * MiB, 60000);
  auto a = memory->take(6 * MiB), b = memory->take(6 * MiB);
  a = {};
  b = {};
  CHECK(memory->kept_bytes() == 8 * MiB);
  memory->keep_at_most(3 * MiB);  // memory pressure: whole huge pages, at most 3 MiB
  CHECK(memory->kept_bytes() == 2 * MiB);
  memory->keep_at_most(0);
  CHECK(memory->kept_bytes() == 0);
  auto none = ReceiveMemory::create(0, 60000);
  none->take(4 * MiB) = {};
  CHECK(none->kept_bytes() == 0);
}

TEST_CASE("kept memory nobody takes goes back after the idle time") {
  auto memory = ReceiveMemory::create(64 * MiB, 0);
  memory->take(4 * MiB) = {};
  CHECK(memory->kept_bytes() == 4 * MiB);
  memory->give_back_idle();
  CHECK(memory->kept_bytes() == 0);
  auto patient = ReceiveMemory::create(64 * MiB, 60000);
  patient->take(4 * MiB) = {};
  patient->give_back_idle();
  CHECK(patient->kept_bytes() == 4 * MiB);
}

TEST_CASE("a buffer outliving the worker's pool keeps it until the buffer goes") {
  auto memory = ReceiveMemory::create(64 * MiB, 60000);
  auto a = memory->take(4 * MiB);
  std::weak_ptr<ReceiveMemory> pool = memory;
  memory.reset();
  CHECK_FALSE(pool.expired());
  std::memset(a.bytes, 1, 4 * MiB);
  a = {};  // kept, then unmapped with the pool
  CHECK(pool.expired());
}
