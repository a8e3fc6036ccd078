#pragma once
// Handling a batch of worker reports with the memory each one touches asked for a few reports
// ahead. A report reads its task's record, the task's row of its plan's columns, its worker's
// record and queue; at thousands of workers the tasks in flight outgrow the cache, so each of
// these misses, and handled one after another every miss waited for the one before: at 10,000
// simulated workers a task cost about twice what it cost at 1,000 with the same instructions,
// the difference in such misses (bench/README.md, "The scheduler simulator"). Asked for early,
// they overlap instead. Only hints: a stale guess costs a wasted line, never a wrong result.
#include <cstddef>

#include "scheduler.hpp"

namespace treadle {

// Each step needs the lines the step before asked for, so the steps go `prefetch_spacing`
// reports apart (a report takes far longer to handle than a miss to arrive).
inline void Scheduler::prefetch_report(const ReportKey& report, int step) const {
  const WorkerId worker = report.worker;
  const TaskId id = report.task;
  switch (step) {
    case 0:  // what needs no other line: the id -> plan entry, the worker's records
      tasks_.prefetch_entry(id);
      if (worker < workers_.size()) {
        __builtin_prefetch(workers_[worker].get());
        load_index_.prefetch(worker);
        if (worker < queued_cpu_tasks_.size()) __builtin_prefetch(&queued_cpu_tasks_[worker]);
      }
      return;
    case 1: {  // the record (its entry is there now), the worker's queue, an end's plan rows
      const TaskRecord* t = tasks_.prefetch_record(id);
      if (worker < queued_cpu_tasks_.size()) queued_cpu_tasks_[worker].prefetch();
      if (!t || !report.ends) return;
      const Plan& p = *tasks_.plans()[t->plan];
      const auto local = static_cast<std::uint32_t>(id - p.base);
      __builtin_prefetch(&p.input_offsets[local]);
      __builtin_prefetch(&p.consumer_offsets[local]);
      return;
    }
    default: {  // an end: the lists of its inputs and consumers (2), then their records (3)
      if (!report.ends) return;
      const TaskRecord* t = tasks_.prefetch_record(id);
      if (!t || t->inputs_overridden) return;
      const Plan& p = *tasks_.plans()[t->plan];
      const auto local = static_cast<std::uint32_t>(id - p.base);
      if (step == 2) {
        __builtin_prefetch(p.inputs_begin(local));
        __builtin_prefetch(p.consumers_begin(local));
        return;
      }
      if (p.consumers_begin(local) != p.consumers_end(local)) tasks_.prefetch_record(p.base + *p.consumers_begin(local));
      int inputs = 0;  // a reduce's end drops its inputs' holds
      for (auto in = p.inputs_begin(local); in != p.inputs_end(local) && inputs < 8; ++in, ++inputs)
        tasks_.prefetch_record(task_of(*in));
    }
  }
}

// Calls handle(i) for i in [0, n), in order; report(i) names report i (a Scheduler::ReportKey),
// whose memory is asked for in Scheduler::prefetch_steps steps, `prefetch_spacing` reports apart.
inline constexpr std::size_t prefetch_spacing = 2;

template <typename Report, typename Handle>
void handle_prefetched(const Scheduler& scheduler, std::size_t n, Report&& report, Handle&& handle) {
  constexpr std::size_t steps = Scheduler::prefetch_steps;
  // The first reports: each step in turn, so the later steps find the earlier ones' lines.
  for (std::size_t step = 0; step < steps; ++step)
    for (std::size_t i = 0; i < n && i < (steps - step) * prefetch_spacing; ++i)
      scheduler.prefetch_report(report(i), static_cast<int>(step));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t step = 0; step < steps; ++step) {
      const std::size_t ahead = i + (steps - step) * prefetch_spacing;
      if (ahead < n) scheduler.prefetch_report(report(ahead), static_cast<int>(step));
    }
    handle(i);
  }
}

}  // namespace treadle
