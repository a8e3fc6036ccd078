#pragma once
// A simple list scheduler to compare the real one with (Graham's greedy list scheduling):
// whenever a cpu is idle and a task is ready, the ready task with the longest path to a sink
// starts on the worker whose cpu went idle first. Data locality is ignored: inputs held
// elsewhere are fetched, at the same cost as in the simulation. It pays the same latency the
// real scheduler does (a report to the server, an assignment back: after a task ends, both
// for its consumers and for its cpu, since it sends tasks only to idle cpus) but no scheduling
// time and no server tick.
#include <cstdint>

#include "cluster.hpp"
#include "workload.hpp"

namespace treadle::sim {

struct BaselineResult {
  double makespan_us = 0;
  std::uint64_t bytes_moved = 0;
  std::uint64_t transfers = 0;
};

BaselineResult run_list_baseline(const Workload& w, const ClusterSpec& cluster);

}  // namespace treadle::sim
