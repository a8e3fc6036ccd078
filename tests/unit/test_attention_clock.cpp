// The attention clock: peers' silences count only while the loop was looking at its sockets,
// so a server (or worker) that was busy or stopped for longer than the timeout reads what
// came meanwhile before it calls anyone gone, while a peer that is really silent is still
// found out after the timeout of ordinary loop turns.
#include <catch2/catch.hpp>

#include "common/attention_clock.hpp"

using namespace treadle;

namespace {
constexpr std::int64_t timeout = 3000, max_gap = 750;

// The server's rule: a peer heard at `heard` (attention clock) is lost past the timeout.
bool lost(const AttentionClock& clock, std::int64_t heard) { return clock.now() - heard > timeout; }
}  // namespace

TEST_CASE("attention clock: a loop that looks every few hundred ms keeps time with the steady clock", "[attention]") {
  AttentionClock clock(max_gap, 50000);
  for (std::int64_t t = 50250; t <= 60000; t += 250) clock.looked(t);
  CHECK(clock.now() == 10000);
}

TEST_CASE("attention clock: a peer silent over ordinary loop turns is lost after the timeout", "[attention]") {
  AttentionClock clock(max_gap, 0);
  const std::int64_t heard = clock.now();
  std::int64_t t = 0;
  while (!lost(clock, heard)) {
    t += 250;
    clock.looked(t);
  }
  CHECK(t == 3250);  // the first look past 3 s
}

TEST_CASE("attention clock: a loop stalled past the timeout blames nobody for the stall", "[attention]") {
  AttentionClock clock(max_gap, 0);
  clock.looked(250);
  const std::int64_t heard = clock.now();  // a heartbeat read at 250 ms
  const std::int64_t stall = GENERATE(3001, 10000, 600000);
  // The loop is busy (or SIGSTOPped) for `stall` ms, then looks and checks before reading.
  clock.looked(250 + stall);
  CHECK_FALSE(lost(clock, heard));
  CHECK(clock.now() - heard == max_gap);
  // The heartbeats queued meanwhile are read in this turn: the peer is heard again.
}

TEST_CASE("attention clock: a peer that stays silent after the loop's stall is lost a few turns later", "[attention]") {
  AttentionClock clock(max_gap, 0);
  const std::int64_t heard = clock.now();
  clock.looked(20000);  // a 20 s stall
  std::int64_t t = 20000;
  while (!lost(clock, heard)) {
    t += 250;
    clock.looked(t);
  }
  CHECK(t - 20000 == 2500);  // the timeout less the stall's one gap, rounded to the next look
}

TEST_CASE("attention clock: time never runs backwards", "[attention]") {
  AttentionClock clock(max_gap, 1000);
  clock.looked(900);
  CHECK(clock.now() == 0);
  clock.looked(1100);
  CHECK(clock.now() == 200);
}
