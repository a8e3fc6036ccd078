// The scheduler simulator (bench/sim) on tiny workloads, so it cannot rot: every task finishes,
// the makespan respects both lower bounds, and a lost worker's tasks are recovered.
#include <catch2/catch.hpp>

#include "list_baseline.hpp"
#include "simulation.hpp"
#include "workload.hpp"

using namespace treadle::sim;

namespace {

ClusterSpec small_cluster() {
  ClusterSpec c;
  c.workers = 6;
  c.cpus = 2;
  return c;
}

void check_run(const Workload& w, const ClusterSpec& c) {
  const Bounds bounds = lower_bounds(w, c.total_cpus());
  SimResult r = Simulation(w, c).run();
  INFO(w.name << ": " << r.problem);
  REQUIRE(r.complete);
  CHECK(r.runs >= w.size());
  CHECK(r.makespan_us >= bounds.critical_path_us * (1 - 1e-9));
  CHECK(r.makespan_us >= bounds.area_us * (1 - 1e-9));
  CHECK(r.assignments >= w.size());
  const BaselineResult base = run_list_baseline(w, c);
  CHECK(base.makespan_us >= bounds.larger_us() * (1 - 1e-9));
}

}  // namespace

TEST_CASE("simulator: every workload finishes above both lower bounds", "[simulator]") {
  for (int k = 0; workload_kinds[k]; ++k) {
    WorkloadSpec spec;
    spec.kind = workload_kinds[k];
    spec.tasks = 2000;
    spec.chain_length = 20;
    spec.mean_us = 2000;
    check_run(make_workload(spec), small_cluster());
  }
}

TEST_CASE("simulator: a worker lost mid-run is recovered by the scheduler", "[simulator]") {
  for (const char* kind : {"tree", "chains", "stencil"}) {
    WorkloadSpec spec;
    spec.kind = kind;
    spec.tasks = 3000;
    spec.chain_length = 30;
    spec.mean_us = 2000;
    ClusterSpec c = small_cluster();
    c.detect_us = 50000;
    c.losses = {{200000, 1}, {400000, 4}};
    Workload w = make_workload(spec);
    SimResult lost = Simulation(w, c).run();
    INFO(kind << ": " << lost.problem);
    REQUIRE(lost.complete);
    CHECK(lost.runs > w.size());  // what ran on the lost workers ran again
    c.losses.clear();
    SimResult whole = Simulation(w, c).run();
    REQUIRE(whole.complete);
    CHECK(lost.makespan_us > whole.makespan_us);
  }
}

TEST_CASE("simulator: workloads are plans in order, with the sizes asked for", "[simulator]") {
  for (int k = 0; workload_kinds[k]; ++k) {
    WorkloadSpec spec;
    spec.kind = workload_kinds[k];
    spec.tasks = 5000;
    Workload w = make_workload(spec);
    INFO(spec.kind);
    CHECK(w.size() >= 4000);
    CHECK(w.size() <= 6000);
    for (std::size_t t = 0; t < w.size(); ++t)
      for (auto in = w.inputs_begin(t); in != w.inputs_end(t); ++in) REQUIRE(*in < t);
    CHECK_THROWS(make_workload(WorkloadSpec{"nonsense"}));
  }
}
