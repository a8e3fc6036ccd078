#pragma once
// The workers this server lost (not those that retired or stopped on purpose), the most recent
// few, for `status` (docs/protocol.md): a notebook tells its user of a loss in the cell that
// waits, or in the next one, and names a lost worker in a task's story as `status` named it
// while it was connected. The server's log says it too, on a stderr the user may never see.
#include <cstdint>
#include <deque>
#include <string>

#include "../common/protocol.hpp"

namespace treadle {

class LostWorkers {
 public:
  static constexpr std::size_t kept = 32;

  void record(std::uint32_t id, const std::string& name, const std::string& address, const std::string& reason,
              std::int64_t time_us) {
    recent_.push_back(Loss{++count_, id, name, address, reason, time_us});
    if (recent_.size() > kept) recent_.pop_front();
  }
  // [{seq, id, name, address, reason, time_us}] oldest first; seq counts every loss of this run
  // of the server from 1, so a reader that saw up to seq N knows how many it missed.
  json to_json() const {
    json out = json::array();
    for (const Loss& l : recent_)
      out.push_back({{"seq", l.seq}, {"id", l.id}, {"name", l.name}, {"address", l.address},
                     {"reason", l.reason}, {"time_us", l.time_us}});
    return out;
  }

 private:
  struct Loss {
    std::uint64_t seq;
    std::uint32_t id;
    std::string name, address, reason;
    std::int64_t time_us;
  };
  std::uint64_t count_ = 0;
  std::deque<Loss> recent_;
};

}  // namespace treadle
