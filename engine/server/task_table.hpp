#pragma once
// Where the scheduler keeps tasks: records live in their plan, so a plan nobody can need
// again is freed whole (Scheduler::collect_garbage). Task ids stay dense and are never
// reused; after a plan is freed only the 4-byte id -> plan entry of its tasks remains, its top
// bit set for a task that was cancelled (so `states` still tells it from one that finished).
//
// A task of the newest plan is found without that entry: a big submission's tasks are most of
// those in flight, and at 10,000 simulated workers the entry missed the cache at each report of
// a task's start and end, ~1 miss per task (bench/README.md, "The scheduler simulator").
#include <cstdint>
#include <memory>
#include <vector>

#include "plan.hpp"

namespace treadle {

class TaskTable {
 public:
  TaskRecord& operator[](TaskId id) {
    Plan& p = plan(id);
    return p.records[id - p.base];
  }
  const TaskRecord& operator[](TaskId id) const {
    const Plan& p = plan(id);
    return p.records[id - p.base];
  }
  TaskDetails& details(TaskId id) {
    Plan& p = plan(id);
    return p.details[id - p.base];
  }
  const TaskDetails& details(TaskId id) const {
    const Plan& p = plan(id);
    return p.details[id - p.base];
  }
  // The plan of a live task, and its index in plans().
  Plan& plan(TaskId id) { return id >= newest_base_ ? *newest_ : *plans_[plan_of_[id]]; }
  const Plan& plan(TaskId id) const { return id >= newest_base_ ? *newest_ : *plans_[plan_of_[id]]; }
  std::uint32_t plan_index(TaskId id) const { return id >= newest_base_ ? newest_index_ : plan_of_[id]; }
  // The id the next task will get (= tasks ever submitted).
  TaskId next_id() const { return plan_of_.size(); }
  bool live(TaskId id) const {
    if (id >= newest_base_) return id < plan_of_.size();  // the newest plan is live (drop moves newest_base_ past it)
    return plans_[plan_of_[id] & plan_mask] != nullptr;
  }
  // A task of a freed plan (id < next_id()) that was cancelled, not finished or failed.
  bool freed_cancelled(TaskId id) const { return (plan_of_[id] & cancelled_bit) != 0; }

  // Adds a plan (its base and size set) and makes room for its records.
  std::uint32_t add(std::unique_ptr<Plan> plan) {
    auto index = static_cast<std::uint32_t>(plans_.size());
    plan->records.resize(plan->size);
    plan->details.resize(plan->size);
    plan_of_.insert(plan_of_.end(), plan->size, index);
    newest_ = plan.get();
    newest_base_ = plan->base;
    newest_index_ = index;
    plans_.push_back(std::move(plan));
    return index;
  }
  void drop(std::uint32_t plan) {
    const Plan& p = *plans_[plan];
    for (std::uint32_t local = 0; local < p.size; ++local)
      if (p.records[local].state == TaskState::cancelled) plan_of_[p.base + local] |= cancelled_bit;
    if (plans_[plan].get() == newest_) {
      newest_ = nullptr;
      newest_base_ = plan_of_.size();  // past every id given out: no task takes the shortcut
    }
    plans_[plan].reset();
  }
  std::vector<std::unique_ptr<Plan>>& plans() { return plans_; }
  const std::vector<std::unique_ptr<Plan>>& plans() const { return plans_; }
  std::size_t index_bytes() const { return plan_of_.capacity() * sizeof(std::uint32_t) + plans_.capacity() * 8; }

 private:
  // Only set once the plan is freed, so live tasks index plans_ without masking.
  static constexpr std::uint32_t cancelled_bit = 1u << 31;
  static constexpr std::uint32_t plan_mask = cancelled_bit - 1;
  std::vector<std::unique_ptr<Plan>> plans_;
  std::vector<std::uint32_t> plan_of_;
  // The newest plan while it is live, and its first id; ids from newest_base_ on are its tasks.
  Plan* newest_ = nullptr;
  TaskId newest_base_ = 0;
  std::uint32_t newest_index_ = 0;
};

}  // namespace treadle
