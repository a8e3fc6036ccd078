#pragma once
// The simulator's task graphs: a DAG in CSR form (inputs name earlier tasks) with, per task, a
// duration and an output size drawn from its label's distribution. Kept compact (about 17 bytes
// per task plus 4 per edge): the simulator holds 10 million of them beside the real scheduler.
#include <cstdint>
#include <string>
#include <vector>

namespace treadle::sim {

// How long a label's tasks run and how much they output: log-normal around the means.
struct LabelCost {
  std::string name;
  double mean_us = 10000;
  double duration_cv = 0.5;  // standard deviation / mean
  double mean_bytes = 100000;
  double bytes_cv = 0.5;
};

struct Workload {
  std::string name;
  std::vector<LabelCost> labels;
  std::vector<std::uint8_t> label_of;        // per task
  std::vector<std::uint32_t> input_offsets;  // size() + 1
  std::vector<std::uint32_t> inputs;         // earlier tasks
  std::vector<float> duration_us;
  std::vector<std::uint32_t> output_bytes;
  std::vector<std::uint32_t> keep;  // tasks the client holds futures for (the results it wants)

  std::size_t size() const { return label_of.size(); }
  const std::uint32_t* inputs_begin(std::size_t t) const { return inputs.data() + input_offsets[t]; }
  const std::uint32_t* inputs_end(std::size_t t) const { return inputs.data() + input_offsets[t + 1]; }
  std::size_t bytes() const;
};

struct WorkloadSpec {
  std::string kind = "tree";  // wide, tree, chains, layers, stencil, wavefront, scoop
  std::uint64_t tasks = 100000;
  std::uint32_t fan_in = 8;     // tree: inputs per reduce; scoop: children per split
  std::uint32_t chain_length = 1000;
  double mean_us = 10000;       // of the main label (map, step, ...); others scale from it
  double duration_cv = 0.5;
  double mean_bytes = 100000;
  std::uint64_t seed = 1;
};

// Throws std::invalid_argument for an unknown kind.
Workload make_workload(const WorkloadSpec& spec);
extern const char* const workload_kinds[];  // null-terminated

// Lower bounds on any schedule's makespan (transfers and latency ignored).
struct Bounds {
  double critical_path_us = 0;  // the longest path of durations
  double work_us = 0;           // total duration
  double area_us = 0;           // work / cpus
  double larger_us() const { return critical_path_us > area_us ? critical_path_us : area_us; }
};
Bounds lower_bounds(const Workload& w, std::uint64_t total_cpus);

}  // namespace treadle::sim
