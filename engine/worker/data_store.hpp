#pragma once
// The objects a worker holds. Plain objects above the memory limit are spilled to the work
// directory and mapped back, so a worker holds more than its RAM without copying; the spilled
// file stays while the object lives (kept_files.hpp). A spill is written in slices, with
// `still_busy` called between them: writing a GB object to disk must not keep the worker's loop
// from its heartbeats.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <unordered_map>

#include "../common/ids.hpp"
#include "../data/data.hpp"

namespace treadle {

class DataStore {
 public:
  DataStore(std::filesystem::path spill_dir, std::uint64_t memory_limit)
      : spill_dir_(std::move(spill_dir)), memory_limit_(memory_limit) {}

  // Called between the slices of a spill (the worker heartbeats if due).
  void set_still_busy(std::function<void()> still_busy) { still_busy_ = std::move(still_busy); }

  void put(TaskId id, DataPtr data);
  DataPtr find(TaskId id) const;
  bool contains(TaskId id) const { return objects_.count(id) != 0; }
  void erase(TaskId id);
  std::size_t count() const { return objects_.size(); }
  std::uint64_t memory_bytes() const { return memory_bytes_; }
  std::uint64_t memory_limit() const { return memory_limit_; }
  std::uint64_t spilled_bytes() const { return spilled_bytes_; }

 private:
  void spill_until_under_limit();
  std::filesystem::path spill_dir_;
  std::uint64_t memory_limit_;
  std::uint64_t memory_bytes_ = 0;
  std::uint64_t spilled_bytes_ = 0;
  std::uint64_t spills_ = 0;
  std::unordered_map<TaskId, DataPtr> objects_;
  std::function<void()> still_busy_;
};

}  // namespace treadle
