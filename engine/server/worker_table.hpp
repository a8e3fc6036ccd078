#pragma once
// The scheduler's workers by id, in fixed chunks of records that never move.
//
// A report finds its worker's record by id. As a vector of unique_ptr, that was two dependent
// loads: the pointer (in an 8-byte-per-worker array, 80 kB at 10,000 workers) and then the
// record; at 10,000 simulated workers the pointer missed the last-level cache about 0.3 times
// per task at a task's end (bench/README.md, "The scheduler simulator"). Here the record's
// address is computed from a chunk pointer in an array of a few dozen entries, which stays in
// the cache. Records never move (a worker is never removed, only marked gone), so references
// stay valid as workers join.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "worker_info.hpp"

namespace treadle {

class WorkerTable {
 public:
  // The record of worker `id` (< size()), as a pointer, the way the unique_ptrs were used.
  WorkerInfo* operator[](WorkerId id) const { return &chunks_[id >> chunk_bits][id & chunk_mask]; }
  // Whether worker `id` (< size()) is connected, without reading its record: a released
  // result's holders are asked this, and at 10,000 simulated workers their records were out
  // of the cache by then, ~1 miss per task on a tree (bench/README.md, "The tree at 10,000
  // workers"). While no worker has left, no memory is read at all (a byte per worker read
  // always was one more line where the record was cached anyway); after, one byte per
  // worker, kept equal to WorkerInfo::alive by mark_gone.
  bool alive(WorkerId id) const { return gone_ == 0 || alive_[id] != 0; }
  // The worker left: its record stays, marked.
  void mark_gone(WorkerId id) {
    if (!alive_[id]) return;
    (*this)[id]->alive = false;
    alive_[id] = 0;
    ++gone_;
  }
  std::size_t size() const { return all_.size(); }
  bool empty() const { return all_.empty(); }
  // A new record, its id the next one.
  WorkerInfo& add() {
    const auto id = static_cast<WorkerId>(all_.size());
    if ((id & chunk_mask) == 0) chunks_.push_back(std::make_unique<WorkerInfo[]>(chunk_size));
    WorkerInfo* w = &chunks_.back()[id & chunk_mask];
    w->id = id;
    all_.push_back(w);
    alive_.push_back(w->alive ? 1 : 0);
    return *w;
  }
  // Every worker in id order, as pointers (gone ones included: check `alive`).
  std::vector<WorkerInfo*>::const_iterator begin() const { return all_.begin(); }
  std::vector<WorkerInfo*>::const_iterator end() const { return all_.end(); }

 private:
  static constexpr unsigned chunk_bits = 8;  // 256 workers, 48 kB, per chunk
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
  static constexpr WorkerId chunk_mask = chunk_size - 1;
  std::vector<std::unique_ptr<WorkerInfo[]>> chunks_;
  std::vector<WorkerInfo*> all_;  // for walks over the workers (status, recovery), not for lookups
  std::vector<std::uint8_t> alive_;  // by id: WorkerInfo::alive, apart from the records
  std::size_t gone_ = 0;             // workers marked gone
};

}  // namespace treadle
