// Checked reads of message fields (engine/common/message_fields.*).
#include <catch2/catch.hpp>

#include "common/message_fields.hpp"

using namespace treadle;
using Catch::Matchers::Contains;

TEST_CASE("fields: a negative number is not read as a huge unsigned one", "[fields]") {
  json h = {{"cpus", -1}, {"n", 5}, {"big", std::uint64_t{1} << 63}};
  CHECK_THROWS_WITH(fields::unsigned_integer(h, "cpus", 1, 4096),
                    "field 'cpus' must be an integer from 1 to 4096, not -1");
  CHECK(fields::unsigned_integer(h, "n", 1, 4096) == 5);
  CHECK_THROWS_WITH(fields::unsigned_integer(h, "big", 1, 4096), Contains("'big'"));
  CHECK(fields::unsigned_integer(h, "big") == std::uint64_t{1} << 63);
  CHECK_THROWS_WITH(fields::integer(h, "big"), Contains("'big' must be an integer"));
  CHECK_THROWS_WITH(fields::unsigned_integer(h, "missing"), "field 'missing' must be an integer >= 0 (it is missing)");
}

TEST_CASE("fields: types, sizes and control characters", "[fields]") {
  json h = {{"name", "a\nb"}, {"ok", "worker 1"}, {"ids", {1, -2}}, {"list", "x"}, {"f", 1.5},
            {"inf", std::numeric_limits<double>::infinity()}, {"bin", json::binary({1, 2})}};
  CHECK_THROWS_WITH(fields::text(h, "name", 256, true), Contains("without control characters"));
  CHECK(fields::text(h, "name", 256) == "a\nb");
  CHECK(fields::text(h, "ok", 256, true) == "worker 1");
  CHECK_THROWS_WITH(fields::text(h, "ok", 3), Contains("at most 3 bytes"));
  CHECK_THROWS_WITH(fields::ids(h, "ids"), Contains("not -2"));
  CHECK_THROWS_WITH(fields::ids(h, "list"), Contains("must be a list"));
  CHECK_THROWS(fields::ids(json{{"f", {1.5}}}, "f"));
  CHECK(fields::number(h, "f", 0, 2) == 1.5);
  CHECK_THROWS(fields::number(h, "inf", 0, 1e300));
  CHECK(fields::bytes(h, "bin", 10) == std::string("\x01\x02", 2));
  CHECK_THROWS(fields::bytes(h, "bin", 1));
  CHECK(!fields::has(json{{"x", nullptr}}, "x"));
}
