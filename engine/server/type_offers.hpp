#pragma once
// Which workers offer each task type, kept for placement apart from the WorkerInfos:
// - a bit per worker and type, which `Scheduler::fits` reads for every candidate (the
//   WorkerInfos are scattered on the heap: at 10,000 workers reading each candidate's missed
//   the cache);
// - per type, how many placeable workers (live, not retiring) offer it, by their cpus, which
//   says whether a task had a choice of workers (Placement::only_fit: the only worker with
//   enough cpus that offers its type) without walking the workers.
#include <cstdint>
#include <map>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

class TypeOffers {
 public:
  void add_type() { types_.emplace_back(); }
  // `worker` offers `type` (for good: a worker's types are fixed when it joins).
  void offer(WorkerId worker, std::uint16_t type) {
    auto& bits = types_[type].bits;
    if (bits.size() <= worker / 64) bits.resize(worker / 64 + 1, 0);
    bits[worker / 64] |= std::uint64_t{1} << (worker % 64);
  }
  bool offers(WorkerId worker, std::uint16_t type) const {
    const auto& bits = types_[type].bits;
    return worker / 64 < bits.size() && (bits[worker / 64] >> (worker % 64) & 1);
  }
  // A worker with `cpus` became placeable (joined) or stopped being so (retiring, gone), for
  // each type it offers.
  void count(std::uint16_t type, std::uint32_t cpus, int delta) {
    auto& by_cpus = types_[type].placeable_by_cpus;
    auto it = by_cpus.emplace(cpus, 0).first;
    it->second += delta;
    if (it->second == 0) by_cpus.erase(it);
  }
  // Placeable workers offering `type` with at least `cpus` cpus, counted up to `enough`.
  std::uint32_t placeable(std::uint16_t type, std::uint32_t cpus, std::uint32_t enough) const {
    std::uint32_t n = 0;
    const auto& by_cpus = types_[type].placeable_by_cpus;
    for (auto it = by_cpus.rbegin(); it != by_cpus.rend() && it->first >= cpus && n < enough; ++it) n += it->second;
    return n;
  }

 private:
  struct Type {
    std::vector<std::uint64_t> bits;  // by worker id
    std::map<std::uint32_t, std::int32_t> placeable_by_cpus;
  };
  std::vector<Type> types_;
};

}  // namespace treadle
