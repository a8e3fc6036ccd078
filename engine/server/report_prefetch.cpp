// What a report touches, asked of the cache ahead of it (report_prefetch.hpp). Only hints: a
// wrong or stale guess costs a wasted line, never a wrong result, and nothing here changes.
#include "report_prefetch.hpp"

namespace treadle {

void Scheduler::prefetch_report(const ReportKey& report, int step) const {
  const WorkerId worker = report.worker;
  const TaskId id = report.task;
  if (step >= 2 && !report.ends) return;
  const bool has_worker = worker < workers_.size();
  switch (step) {
    case 0:  // what needs no other line: the id -> plan entry, the worker's records
      tasks_.prefetch_entry(id);
      if (has_worker) {
        __builtin_prefetch(workers_[worker].get());
        if (worker < queued_cpu_tasks_.size()) __builtin_prefetch(&queued_cpu_tasks_[worker]);
        load_index_.prefetch(worker);
      }
      break;
    case 1: {  // the record (its entry is there now), its plan's rows, the worker's queue
      const TaskRecord* t = tasks_.prefetch_record(id);
      if (has_worker && worker < queued_cpu_tasks_.size()) queued_cpu_tasks_[worker].prefetch();
      if (!t) break;
      const Plan& p = *tasks_.plans()[t->plan];
      const std::uint32_t local = static_cast<std::uint32_t>(id - p.base);
      __builtin_prefetch(&p.input_offsets[local]);
      __builtin_prefetch(&p.consumer_offsets[local]);
      break;
    }
    case 2: {  // the lists of its inputs and consumers
      if (!tasks_.live(id)) break;
      const TaskRecord& t = tasks_[id];
      const Plan& p = *tasks_.plans()[t.plan];
      const std::uint32_t local = static_cast<std::uint32_t>(id - p.base);
      __builtin_prefetch(p.inputs_begin(local));
      __builtin_prefetch(p.consumers_begin(local));
      break;
    }
    case 3: {  // the records of its first consumer and of its inputs (a reduce's end drops their holds)
      if (!tasks_.live(id)) break;
      const TaskRecord& t = tasks_[id];
      if (t.inputs_overridden) break;
      const Plan& p = *tasks_.plans()[t.plan];
      const std::uint32_t local = static_cast<std::uint32_t>(id - p.base);
      if (p.consumers_begin(local) != p.consumers_end(local)) tasks_.prefetch_record(p.base + *p.consumers_begin(local));
      int inputs = 0;
      for (auto in = p.inputs_begin(local); in != p.inputs_end(local) && inputs < 8; ++in, ++inputs)
        tasks_.prefetch_record(task_of(*in));
      break;
    }
    default: break;
  }
}

}  // namespace treadle
