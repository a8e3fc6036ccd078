#pragma once
// Time during which a process was listening, for judging a peer's silence.
//
// A peer's silence only counts while we could have heard it: a loop that was busy (a huge
// batch, a loaded machine) or stopped for seconds would otherwise read the peer's heartbeats,
// queued all along, only after it had declared the peer gone on a stale view. So the loop says
// each time it looks at its sockets, and the clock advances by the gap since the last look, but
// by at most `max_gap_ms`: a stall of any length counts as one short gap, and the peer is
// judged on the looks that follow it. A loop that looks at least every max_gap_ms (an idle
// loop wakes every few hundred ms) keeps time with the steady clock.
#include <algorithm>
#include <cstdint>

namespace treadle {

class AttentionClock {
 public:
  AttentionClock(std::int64_t max_gap_ms, std::int64_t now_ms) : max_gap_ms_(max_gap_ms), last_look_ms_(now_ms) {}

  // The loop looks at its sockets now (steady ms).
  void looked(std::int64_t now_ms) {
    attentive_ms_ += std::clamp<std::int64_t>(now_ms - last_look_ms_, 0, max_gap_ms_);
    last_look_ms_ = now_ms;
  }

  // Attentive ms since the clock was made, as of the last look: silences are differences of it.
  std::int64_t now() const { return attentive_ms_; }

 private:
  std::int64_t max_gap_ms_;
  std::int64_t last_look_ms_;
  std::int64_t attentive_ms_ = 0;
};

}  // namespace treadle
