// Receive memory kept across objects (worker/receive_memory.hpp): reused, bounded, given back.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

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

namespace {
// Polls until `done()` (the prefault runs on a thread of its own), at most 10 s.
template <class Done>
bool eventually(Done done) {
  for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}
}  // namespace

TEST_CASE("prefaulted memory is kept, makes the first buffers, and stays when idle") {
  auto memory = ReceiveMemory::create(256 * MiB, 0);  // anything idle goes back at once...
  memory->prefault_in_background(69 * MiB);          // ...but the prefault: whole huge pages, 68 MiB
  REQUIRE(eventually([&] { return memory->kept_bytes() == 68 * MiB; }));
  memory->give_back_idle();
  CHECK(memory->kept_bytes() == 68 * MiB);
  auto a = memory->take(10 * MiB);
  CHECK(memory->reused_bytes() == 10 * MiB);
  CHECK(memory->kept_bytes() == 58 * MiB);
  std::memset(a.bytes, 'a', 10 * MiB);
  auto b = memory->take(70 * MiB);  // the 58 kept, then fresh
  CHECK(memory->kept_bytes() == 0);
  std::memset(b.bytes, 'b', 70 * MiB);
  CHECK(a.bytes[10 * MiB - 1] == 'a');
  a = {};
  b = {};
  CHECK(memory->kept_bytes() == 80 * MiB);
  memory->give_back_idle();  // back down to what was prefaulted, not below
  CHECK(memory->kept_bytes() == 68 * MiB);
  memory->keep_at_most(0);  // memory pressure takes it all
  CHECK(memory->kept_bytes() == 0);
}

TEST_CASE("a prefault is bounded by the pool's limit and stops with the pool") {
  auto small = ReceiveMemory::create(8 * MiB, 60000);
  small->prefault_in_background(64 * MiB);
  REQUIRE(eventually([&] { return small->kept_bytes() == 8 * MiB; }));
  auto none = ReceiveMemory::create(0, 60000);
  none->prefault_in_background(64 * MiB);
  CHECK(none->kept_bytes() == 0);
  auto big = ReceiveMemory::create(std::size_t{1} << 30, 60000);
  big->prefault_in_background(std::size_t{1} << 30);
  big.reset();  // joins the thread, which stops at its next step
}

namespace {
// The kernel's flags of the mapping holding `address` (/proc/self/smaps' VmFlags: "hg" huge
// pages advised, "nh" not), or "" if none holds it.
std::string mapping_flags(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t start = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> start >> dash >> end && dash == '-' && line.find(' ') != std::string::npos &&
        line.find(':') > line.find(' '))  // a mapping's first line, not a "Key: value" one
      inside = start <= at && at < end;
    else if (inside && line.rfind("VmFlags:", 0) == 0)
      return line;
  }
  return {};
}
}  // namespace

TEST_CASE("fresh memory comes in huge pages or, where the host takes freed memory back, in 4 KiB ones") {
  auto huge = ReceiveMemory::create(64 * MiB, 60000, true);
  auto small = ReceiveMemory::create(64 * MiB, 60000, false);
  auto h = huge->take(8 * MiB), s = small->take(8 * MiB);
  std::memset(s.bytes, 's', 8 * MiB);
  CHECK(mapping_flags(h.bytes).find(" hg") != std::string::npos);
  CHECK(mapping_flags(s.bytes).find(" nh") != std::string::npos);  // asked: THP "always" would not split
  CHECK(mapping_flags(s.bytes).find(" hg") == std::string::npos);
  s = {};  // kept, and moved whole into the next buffer: still 4 KiB pages, still written
  auto again = small->take(8 * MiB);
  CHECK(small->reused_bytes() == 8 * MiB);
  CHECK(mapping_flags(again.bytes).find(" nh") != std::string::npos);
  CHECK(again.bytes[8 * MiB - 1] == 's');
}
