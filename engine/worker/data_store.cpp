#include "data_store.hpp"

#include <algorithm>
#include <fstream>
#include <vector>

#include "../common/log.hpp"
#include "../data/plain.hpp"

namespace treadle {
namespace {
constexpr std::size_t spill_slice = 8u << 20;  // written between two still_busy calls

// Bytes held in anonymous memory by this object (not by a file mapping).
std::uint64_t memory_of(const DataPtr& d) {
  if (d->kind() != DataKind::plain) return 0;
  return static_cast<const PlainData&>(*d).in_memory() ? d->size() : 0;
}
}  // namespace

void DataStore::put(TaskId id, DataPtr data) {
  erase(id);
  memory_bytes_ += memory_of(data);
  objects_.emplace(id, std::move(data));
  if (memory_bytes_ > memory_limit_) spill_until_under_limit();
}

DataPtr DataStore::find(TaskId id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second;
}

void DataStore::erase(TaskId id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  memory_bytes_ -= memory_of(it->second);
  objects_.erase(it);
}

void DataStore::spill_until_under_limit() {
  std::vector<std::pair<std::uint64_t, TaskId>> candidates;
  for (auto& [id, d] : objects_)
    if (auto bytes = memory_of(d); bytes >= 4096) candidates.emplace_back(bytes, id);
  std::sort(candidates.rbegin(), candidates.rend());
  std::filesystem::create_directories(spill_dir_);
  for (auto& [bytes, id] : candidates) {
    if (memory_bytes_ <= memory_limit_ / 2) break;
    // A fresh name: an earlier object of this id may still live in its kept file.
    auto path = spill_dir_ / (std::to_string(id) + "-" + std::to_string(++spills_));
    auto raw = objects_[id]->raw();
    std::ofstream out(path, std::ios::binary);
    for (std::size_t at = 0; at < raw.size() && out; at += spill_slice) {
      if (at && still_busy_) still_busy_();
      out.write(raw.data() + at, static_cast<std::streamsize>(std::min(spill_slice, raw.size() - at)));
    }
    out.close();
    if (!out) {
      log::warn("cannot spill object ", id, " to ", path.string());
      continue;
    }
    // The file stays while the object lives (a worker on this host may take it by its path)
    // and goes when the object is freed.
    objects_[id] = PlainData::map_kept_file(path.string());
    memory_bytes_ -= bytes;
    spilled_bytes_ += bytes;
  }
}

}  // namespace treadle
