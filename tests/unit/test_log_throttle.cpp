// The rate limit for warnings peers can cause at will (engine/common/log_throttle.*).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/log_throttle.hpp"

using treadle::log::Throttle;

namespace {
struct Fixture {
  std::int64_t now = 1000;
  std::vector<std::string> lines;
  Throttle throttle{"malformed messages", 3, 5000, [this] { return now; },
                    [this](const std::string& line) { lines.push_back(line); }};
};
}  // namespace

TEST_CASE("throttle: the first lines of an interval are written, the rest summed up once", "[log]") {
  Fixture f;
  for (int i = 0; i < 1000; ++i) f.throttle.warn("client a", "bad message ", i);
  REQUIRE(f.lines == std::vector<std::string>{"bad message 0", "bad message 1", "bad message 2"});
  f.now += 4999;
  f.throttle.tick();
  CHECK(f.lines.size() == 3);  // the interval has not ended
  f.now += 1;
  f.throttle.tick();
  REQUIRE(f.lines.size() == 4);
  CHECK(f.lines[3] == "997 more malformed messages from client a in the last 5.0 s (not shown)");
  f.throttle.tick();
  CHECK(f.lines.size() == 4);  // said once
  f.throttle.warn("client a", "again");
  CHECK(f.lines.back() == "again");  // a new interval
}

TEST_CASE("throttle: each source has its own budget", "[log]") {
  Fixture f;
  for (int i = 0; i < 10; ++i) {
    f.throttle.warn("client a", "a");
    f.throttle.warn("worker b", "b");
  }
  CHECK(f.lines.size() == 6);
  f.now += 6000;
  f.throttle.tick();
  REQUIRE(f.lines.size() == 8);
  CHECK(f.lines[6].find("7 more malformed messages from ") == 0);
  CHECK(f.lines[7].find("7 more malformed messages from ") == 0);
}

TEST_CASE("throttle: a warning after the interval ends writes the summary first", "[log]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.throttle.warn("x", "w");
  f.now += 7000;
  f.throttle.warn("x", "late");
  REQUIRE(f.lines.size() == 5);
  CHECK(f.lines[3] == "2 more malformed messages from x in the last 7.0 s (not shown)");
  CHECK(f.lines[4] == "late");
}

TEST_CASE("throttle: a quiet interval says nothing, and many sources share a bounded table", "[log]") {
  Fixture f;
  f.throttle.warn("x", "one");
  f.now += 10000;
  f.throttle.tick();
  CHECK(f.lines.size() == 1);
  for (int i = 0; i < 10000; ++i) f.throttle.warn("peer " + std::to_string(i), "w");
  CHECK(f.lines.size() < 1000);  // beyond the table's bound, new sources share one budget
}
