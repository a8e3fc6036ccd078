#pragma once
// What the simulated cluster is made of and how it costs time; shared by the simulation of the
// real scheduler (simulation.hpp) and the list-scheduling baseline (list_baseline.hpp).
#include <cstdint>
#include <vector>

namespace treadle::sim {

struct ClusterSpec {
  std::uint32_t workers = 100;
  std::uint32_t cpus = 4;                // per worker
  double memory_bytes = 16e9;            // per worker: reported against the peak it held
  double bandwidth_bytes_per_us = 1250;  // into each worker (1250 B/us = 10 Gbit/s)
  double latency_us = 100;               // one way, any two processes
  // The server's loop turn: reports arriving within one tick are handled as one batch, then
  // schedule() runs once (the real server drains its socket, then decides).
  double tick_us = 1000;
  double detect_us = 3000000;  // a silent worker is declared lost after this (heartbeats)
  struct Loss {
    double at_us;
    std::uint32_t worker;
  };
  std::vector<Loss> losses;
  bool work_stealing = true;  // idle workers take queued tasks (the real scheduler's stealing.cpp)
  std::uint64_t total_cpus() const { return std::uint64_t{workers} * cpus; }
};

// A transfer into `worker` starts when its incoming link is free (transfers into one worker
// queue; each worker's link is its own), and arrives `latency_us` after its last byte left.
struct Links {
  std::vector<double> free_at_us;
  explicit Links(std::size_t workers) : free_at_us(workers, 0) {}
  double transfer(std::uint32_t to, double now_us, double bytes, const ClusterSpec& c) {
    double start = free_at_us[to] > now_us ? free_at_us[to] : now_us;
    free_at_us[to] = start + bytes / c.bandwidth_bytes_per_us;
    return free_at_us[to] + c.latency_us;
  }
};

}  // namespace treadle::sim
