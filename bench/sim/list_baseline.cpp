#include "list_baseline.hpp"

#include <algorithm>
#include <deque>
#include <queue>
#include <vector>

namespace treadle::sim {

BaselineResult run_list_baseline(const Workload& w, const ClusterSpec& c) {
  const std::size_t n = w.size();
  // Consumers (CSR) and priorities: the longest path to a sink, in tasks, as the real scheduler's.
  std::vector<std::uint32_t> consumer_offsets(n + 1, 0), consumers(w.inputs.size()), remaining(n);
  for (std::size_t t = 0; t < n; ++t) {
    remaining[t] = static_cast<std::uint32_t>(w.inputs_end(t) - w.inputs_begin(t));
    for (auto in = w.inputs_begin(t); in != w.inputs_end(t); ++in) ++consumer_offsets[*in + 1];
  }
  for (std::size_t t = 0; t < n; ++t) consumer_offsets[t + 1] += consumer_offsets[t];
  {
    std::vector<std::uint32_t> fill(consumer_offsets.begin(), consumer_offsets.end() - 1);
    for (std::size_t t = 0; t < n; ++t)
      for (auto in = w.inputs_begin(t); in != w.inputs_end(t); ++in) consumers[fill[*in]++] = static_cast<std::uint32_t>(t);
  }
  std::vector<std::uint32_t> priority(n, 1);
  for (std::size_t t = n; t-- > 0;)
    for (auto k = consumer_offsets[t]; k < consumer_offsets[t + 1]; ++k)
      priority[t] = std::max(priority[t], priority[consumers[k]] + 1);

  struct Event {
    double at_us;
    std::uint32_t task;
    std::uint32_t worker;  // done on this worker; ~0u: the task became ready
    bool operator>(const Event& o) const { return at_us > o.at_us; }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  std::priority_queue<std::pair<std::uint32_t, std::uint32_t>> ready;  // (priority, -ish id)
  std::deque<std::uint32_t> idle;  // one entry per idle cpu, in the order they went idle
  for (std::uint32_t cpu = 0; cpu < c.cpus; ++cpu)
    for (std::uint32_t k = 0; k < c.workers; ++k) idle.push_back(k);
  std::vector<std::uint32_t> where(n, ~0u);
  Links links(c.workers);
  BaselineResult result;
  const double handoff_us = 2 * c.latency_us;  // the report to the server, the assignment back
  constexpr std::uint32_t ready_event = ~0u;
  const std::uint32_t free_event = 1u << 31;  // + worker: its cpu can be given a task (worker ids stay below)
  for (std::size_t t = 0; t < n; ++t)
    if (remaining[t] == 0) events.push({c.latency_us, static_cast<std::uint32_t>(t), ready_event});

  while (!events.empty()) {
    const double now = events.top().at_us;
    while (!events.empty() && events.top().at_us == now) {
      Event e = events.top();
      events.pop();
      if (e.worker == ready_event) {
        ready.push({priority[e.task], ~e.task});  // equal priorities: plan order
        continue;
      }
      if (e.worker >= free_event) {
        idle.push_back(e.worker - free_event);
        continue;
      }
      where[e.task] = e.worker;
      events.push({now + handoff_us, e.task, free_event + e.worker});  // the server hears, then assigns
      result.makespan_us = std::max(result.makespan_us, now);
      for (auto k = consumer_offsets[e.task]; k < consumer_offsets[e.task + 1]; ++k)
        if (--remaining[consumers[k]] == 0) events.push({now + handoff_us, consumers[k], ready_event});
    }
    while (!idle.empty() && !ready.empty()) {
      const std::uint32_t task = ~ready.top().second;
      ready.pop();
      const std::uint32_t worker = idle.front();
      idle.pop_front();
      double start = now;
      for (auto in = w.inputs_begin(task); in != w.inputs_end(task); ++in) {
        if (where[*in] == worker) continue;
        start = std::max(start, links.transfer(worker, now, w.output_bytes[*in], c));
        result.bytes_moved += w.output_bytes[*in];
        ++result.transfers;
      }
      events.push({start + w.duration_us[task], task, worker});
    }
  }
  return result;
}

}  // namespace treadle::sim
