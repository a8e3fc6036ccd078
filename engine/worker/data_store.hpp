#pragma once
// The objects a worker holds. Plain objects above the memory limit are spilled to the work
// directory and mapped back, so a worker holds more than its RAM without copying; the spilled
// file stays while the object lives (kept_files.hpp).
#include <cstdint>
#include <filesystem>
#include <unordered_map>

#include "../common/ids.hpp"
#include "../data/data.hpp"

namespace treadle {

class DataStore {
 public:
  DataStore(std::filesystem::path spill_dir, std::uint64_t memory_limit)
      : spill_dir_(std::move(spill_dir)), memory_limit_(memory_limit) {}

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
};

}  // namespace treadle
