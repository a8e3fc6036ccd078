#pragma once
// Handling a batch of worker reports with the memory each one touches asked for a few reports
// ahead. A report reads its task's record, the task's row of its plan's columns, its worker's
// record and queue; at thousands of workers the tasks in flight outgrow the cache, so each of
// these misses, and handled one after another every miss waited for the one before: at 10,000
// simulated workers a task cost about twice what it cost at 1,000, all of it in such misses
// (bench/README.md, "The scheduler simulator"). Asked for early, they overlap instead.
#include <cstddef>

#include "scheduler.hpp"

namespace treadle {

// Calls handle(i) for i in [0, n), in order. report(i) names report i's worker and task
// (a Scheduler::ReportKey); the scheduler is asked for its
// memory in Scheduler::prefetch_steps steps, `prefetch_spacing` reports apart.
inline constexpr std::size_t prefetch_spacing = 2;

template <typename Report, typename Handle>
void handle_prefetched(const Scheduler& scheduler, std::size_t n, Report&& report, Handle&& handle) {
  constexpr std::size_t steps = Scheduler::prefetch_steps;
  // The first reports: each step in turn, so the later steps find the earlier ones' lines.
  for (std::size_t step = 0; step < steps; ++step)
    for (std::size_t i = 0; i < n && i < (steps - step) * prefetch_spacing; ++i) {
      scheduler.prefetch_report(report(i), static_cast<int>(step));
    }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t step = 0; step < steps; ++step) {
      const std::size_t ahead = i + (steps - step) * prefetch_spacing;
      if (ahead < n) {
        scheduler.prefetch_report(report(ahead), static_cast<int>(step));
      }
    }
    handle(i);
  }
}

}  // namespace treadle
