#pragma once
// A worker's queued cpu tasks, in the order they were assigned there: work stealing takes the
// newest (stealing.cpp). A task leaves the list when it leaves `assigned` (it started, ended,
// moved or was cancelled), while its record is in the cache: dropping gone entries in a later
// sweep that read each task's state missed the cache once per task at 10,000 workers
// (bench/README.md, "The scheduler simulator"). Tasks leave in about the order they came, so
// one is found near the front, and its slot is blanked rather than the others moved up: the
// blanks at the front are skipped, and dropped once they are half the list.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

class QueuedTasks {
 public:
  static constexpr TaskId blank = ~TaskId{0};

  void push(TaskId id) { ids_.push_back(id); }
  void remove(TaskId id) {
    auto it = std::find(ids_.begin() + static_cast<std::ptrdiff_t>(head_), ids_.end(), id);
    if (it == ids_.end()) return;
    *it = blank;
    while (head_ < ids_.size() && ids_[head_] == blank) ++head_;
    if (head_ == ids_.size()) {
      clear();
    } else if (head_ >= 64 && 2 * head_ >= ids_.size()) {
      ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    ids_.clear();
    head_ = 0;
  }
  // Its slots are [head(), size()), oldest first; a slot is a task's id or `blank`.
  std::size_t head() const { return head_; }
  std::size_t size() const { return ids_.size(); }
  TaskId operator[](std::size_t slot) const { return ids_[slot]; }

 private:
  std::vector<TaskId> ids_;
  std::size_t head_ = 0;  // every slot before it is blank
};

}  // namespace treadle
