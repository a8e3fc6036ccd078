// treadle-sim: the real scheduler over a simulated cluster (bench/README.md, "The scheduler
// simulator"). Prints a summary on stderr and one `RESULT {json}` line on stdout.
//
//   treadle-sim --workload tree --tasks 1000000 --workers 1000 [--cpus 4] [--lose 5:1] [--check]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "list_baseline.hpp"
#include "simulation.hpp"
#include "workload.hpp"

using namespace treadle::sim;
using nlohmann::json;

namespace {

const char* usage =
    "usage: treadle-sim [options]\n"
    "  --workload KIND     wide, tree, chains, layers, stencil, wavefront, scoop (default tree)\n"
    "  --tasks N           about N tasks (default 100000)\n"
    "  --workers W         simulated workers (default 100)\n"
    "  --cpus C            cpus per worker (default 4)\n"
    "  --mean-ms MS        mean duration of the main label's tasks (default 10)\n"
    "  --cv X              their coefficient of variation (default 0.5)\n"
    "  --bytes B           mean output size (default 100000)\n"
    "  --fan-in K          tree: inputs per reduce; scoop: most children per split (default 8)\n"
    "  --depth D           chains: length; layers, stencil: number of layers (default 100)\n"
    "  --bandwidth GBIT    into each worker, Gbit/s (default 10)\n"
    "  --latency-us US     one way between any two processes (default 100)\n"
    "  --tick-us US        the server's batching of reports (default 1000)\n"
    "  --memory-gb G       per worker, reported against the peak held (default 16)\n"
    "  --lose AT:COUNT     lose COUNT workers AT seconds into the run (repeatable)\n"
    "  --detect-s S        a lost worker is noticed after S seconds (default 3)\n"
    "  --seed N            (default 1)\n"
    "  --no-baseline       skip the list-scheduling baseline\n"
    "  --no-stealing       idle workers do not take queued tasks (work stealing off)\n"
"  --trace FILE        write every task's run as CSV (worker, arrival, inputs there, start, end, inputs)\n"
    "  --check             exit 1 unless every task finished and makespan >= both lower bounds\n";

long peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss * 1024L;
}

}  // namespace

int main(int argc, char** argv) {
  WorkloadSpec spec;
  spec.chain_length = 100;
  ClusterSpec cluster;
  bool baseline = true, check = false;
  std::string trace_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n" << usage;
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--workload") spec.kind = value();
      else if (a == "--tasks") spec.tasks = std::stoull(value());
      else if (a == "--workers") cluster.workers = std::stoul(value());
      else if (a == "--cpus") cluster.cpus = std::stoul(value());
      else if (a == "--mean-ms") spec.mean_us = std::stod(value()) * 1000;
      else if (a == "--cv") spec.duration_cv = std::stod(value());
      else if (a == "--bytes") spec.mean_bytes = std::stod(value());
      else if (a == "--fan-in") spec.fan_in = std::stoul(value());
      else if (a == "--depth") spec.chain_length = std::stoul(value());
      else if (a == "--bandwidth") cluster.bandwidth_bytes_per_us = std::stod(value()) * 1e9 / 8 / 1e6;
      else if (a == "--latency-us") cluster.latency_us = std::stod(value());
      else if (a == "--tick-us") cluster.tick_us = std::stod(value());
      else if (a == "--memory-gb") cluster.memory_bytes = std::stod(value()) * 1e9;
      else if (a == "--detect-s") cluster.detect_us = std::stod(value()) * 1e6;
      else if (a == "--seed") spec.seed = std::stoull(value());
      else if (a == "--no-baseline") baseline = false;
      else if (a == "--no-stealing") cluster.work_stealing = false;
      else if (a == "--check") check = true;
      else if (a == "--trace") trace_path = value();
      else if (a == "--lose") {
        std::string v = value();
        auto colon = v.find(':');
        double at = std::stod(v.substr(0, colon)) * 1e6;
        std::uint32_t count = colon == std::string::npos ? 1 : std::stoul(v.substr(colon + 1));
        // Spread over the worker ids, away from worker 0 (which placement fills first).
        for (std::uint32_t k = 0; k < count; ++k) cluster.losses.push_back({at, (k * 2 + 1) * cluster.workers / (2 * count)});
      } else if (a == "--help" || a == "-h") {
        std::cout << usage;
        return 0;
      } else {
        std::cerr << "unknown option " << a << "\n" << usage;
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "bad value for " << a << "\n" << usage;
      return 2;
    }
  }
  if (cluster.workers == 0 || cluster.cpus == 0 || cluster.bandwidth_bytes_per_us <= 0) {
    std::cerr << "workers, cpus and bandwidth must be positive\n";
    return 2;
  }

  const auto wall = std::chrono::steady_clock::now();
  Workload workload;
  try {
    workload = make_workload(spec);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n" << usage;
    return 2;
  }
  const std::size_t n = workload.size();
  const Bounds bounds = lower_bounds(workload, cluster.total_cpus());
  BaselineResult base;
  if (baseline) base = run_list_baseline(workload, cluster);
  const long rss_before = peak_rss_bytes();
  SimResult r;
  {
    Simulation sim(workload, cluster);
    if (!trace_path.empty()) sim.enable_trace();
    r = sim.run();
    if (!trace_path.empty() && !sim.write_trace(trace_path)) {
      std::cerr << "cannot write the trace to " << trace_path << "\n";
      return 1;
    }
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();

  json out = {
      {"workload", spec.kind},
      {"tasks", n},
      {"edges", workload.inputs.size()},
      {"workers", cluster.workers},
      {"cpus", cluster.cpus},
      {"mean_ms", spec.mean_us / 1000},
      {"mean_bytes", spec.mean_bytes},
      {"latency_us", cluster.latency_us},
      {"bandwidth_bytes_per_us", cluster.bandwidth_bytes_per_us},
      {"tick_us", cluster.tick_us},
      {"losses", cluster.losses.size()},
      {"complete", r.complete},
      {"problem", r.problem},
      {"critical_path_s", bounds.critical_path_us / 1e6},
      {"area_s", bounds.area_us / 1e6},
      {"bound_s", bounds.larger_us() / 1e6},
      {"makespan_s", r.makespan_us / 1e6},
      {"makespan_over_bound", r.makespan_us / bounds.larger_us()},
      {"runs", r.runs},
      {"bytes_moved", r.bytes_moved},
      {"transfers", r.transfers},
      {"assignments", r.assignments},
      {"steals_asked", r.steals_asked},
      {"steals_given", r.steals_given},
      {"batches", r.batches},
      {"scheduler_s", r.scheduler_ns / 1e9},
      {"scheduler_ns_per_task", r.scheduler_ns / double(n)},
      {"timer_ns_per_task", r.timer_ns / double(n)},
      {"submit_ns_per_task", r.submit_ns / double(n)},
      {"recovery_s", r.recovery_ns / 1e9},
      {"peak_worker_bytes", r.peak_worker_bytes},
      {"worker_memory_bytes", cluster.memory_bytes},
      {"scheduler_bytes_per_task", double(r.scheduler_bytes) / double(n)},
      {"workload_bytes_per_task", double(workload.bytes()) / double(n)},
      {"peak_rss_bytes", peak_rss_bytes()},
      {"rss_before_sim_bytes", rss_before},
      {"wall_s", wall_s},
  };
  if (baseline) {
    out["baseline_makespan_s"] = base.makespan_us / 1e6;
    out["baseline_bytes_moved"] = base.bytes_moved;
    out["makespan_over_baseline"] = r.makespan_us / base.makespan_us;
  }
  std::fprintf(stderr,
               "%s: %zu tasks on %u workers x %u cpus: makespan %.3f s (critical path %.3f s, work/cpus %.3f s: "
               "%.3f x the larger bound)%s\n  scheduler %.0f ns/task (+ submit %.0f ns/task), %llu batches, "
               "%.1f MB moved, peak RSS %.0f MB%s%s\n",
               spec.kind.c_str(), n, cluster.workers, cluster.cpus, r.makespan_us / 1e6, bounds.critical_path_us / 1e6,
               bounds.area_us / 1e6, r.makespan_us / bounds.larger_us(),
               baseline ? (", baseline " + std::to_string(base.makespan_us / 1e6) + " s").c_str() : "",
               r.scheduler_ns / double(n), r.submit_ns / double(n), static_cast<unsigned long long>(r.batches),
               double(r.bytes_moved) / 1e6, double(peak_rss_bytes()) / 1e6, r.complete ? "" : "\n  INCOMPLETE: ",
               r.problem.c_str());
  std::cout << "RESULT " << out.dump() << std::endl;

  if (check) {
    const double tolerance = 1e-9 * bounds.larger_us();
    if (!r.complete) return std::fprintf(stderr, "check failed: %s\n", r.problem.c_str()), 1;
    if (r.runs < n) return std::fprintf(stderr, "check failed: %llu runs for %zu tasks\n", (unsigned long long)r.runs, n), 1;
    if (r.makespan_us + tolerance < bounds.critical_path_us || r.makespan_us + tolerance < bounds.area_us)
      return std::fprintf(stderr, "check failed: makespan below a lower bound\n"), 1;
  }
  return 0;
}
