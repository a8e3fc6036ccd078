// The simulator's workloads, generated in plan order (inputs before their consumers).
#include "workload.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace treadle::sim {

const char* const workload_kinds[] = {"wide", "tree", "chains", "layers", "stencil", "wavefront", "scoop", nullptr};

std::size_t Workload::bytes() const {
  return label_of.capacity() + input_offsets.capacity() * 4 + inputs.capacity() * 4 + duration_us.capacity() * 4 +
         output_bytes.capacity() * 4 + keep.capacity() * 4;
}

namespace {

// Appends tasks and draws their costs from their label.
class Builder {
 public:
  Builder(Workload& w, std::uint64_t seed) : w_(w), rng_(seed) { w_.input_offsets.push_back(0); }

  std::uint8_t label(const std::string& name, double mean_us, double cv, double mean_bytes) {
    w_.labels.push_back({name, mean_us, cv, mean_bytes, 0.5});
    return static_cast<std::uint8_t>(w_.labels.size() - 1);
  }
  void reserve(std::uint64_t tasks, std::uint64_t edges) {
    w_.label_of.reserve(tasks);
    w_.input_offsets.reserve(tasks + 1);
    w_.inputs.reserve(edges);
    w_.duration_us.reserve(tasks);
    w_.output_bytes.reserve(tasks);
  }
  template <typename Inputs>
  std::uint32_t add(std::uint8_t label, const Inputs& inputs) {
    auto id = static_cast<std::uint32_t>(w_.label_of.size());
    for (std::uint32_t in : inputs) w_.inputs.push_back(in);
    w_.input_offsets.push_back(static_cast<std::uint32_t>(w_.inputs.size()));
    w_.label_of.push_back(label);
    const LabelCost& c = w_.labels[label];
    w_.duration_us.push_back(static_cast<float>(draw(c.mean_us, c.duration_cv)));
    w_.output_bytes.push_back(static_cast<std::uint32_t>(std::min(draw(c.mean_bytes, c.bytes_cv), 4.0e9)));
    return id;
  }
  std::uint32_t add(std::uint8_t label) { return add(label, std::initializer_list<std::uint32_t>{}); }
  std::mt19937_64& rng() { return rng_; }

 private:
  // Log-normal with the given mean and coefficient of variation.
  double draw(double mean, double cv) {
    if (cv <= 0 || mean <= 0) return mean;
    const double s2 = std::log1p(cv * cv);
    return mean * std::exp(std::sqrt(s2) * normal_(rng_) - s2 / 2);
  }
  Workload& w_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
};

void wide(const WorkloadSpec& s, Builder& b) {
  auto map = b.label("map", s.mean_us, s.duration_cv, s.mean_bytes);
  b.reserve(s.tasks, 0);
  for (std::uint64_t i = 0; i < s.tasks; ++i) b.add(map);
}

// Leaves, then each level reduces fan_in results of the level below, up to one root.
void tree(const WorkloadSpec& s, Workload& w, Builder& b) {
  auto map = b.label("map", s.mean_us, s.duration_cv, s.mean_bytes);
  auto reduce = b.label("reduce", s.mean_us / 2, s.duration_cv, s.mean_bytes);
  const std::uint32_t k = std::max<std::uint32_t>(s.fan_in, 2);
  const std::uint64_t leaves = std::max<std::uint64_t>(1, s.tasks * (k - 1) / k);
  b.reserve(s.tasks + 1, s.tasks + 1);
  std::vector<std::uint32_t> level, next, group;
  for (std::uint64_t i = 0; i < leaves; ++i) level.push_back(b.add(map));
  while (level.size() > 1) {
    next.clear();
    for (std::size_t i = 0; i < level.size(); i += k) {
      group.assign(level.begin() + i, level.begin() + std::min(level.size(), i + k));
      next.push_back(b.add(reduce, group));
    }
    level.swap(next);
  }
  w.keep.push_back(level.front());
}

// Independent chains of chain_length steps, interleaved in plan order; each chain's end is kept.
void chains(const WorkloadSpec& s, Workload& w, Builder& b) {
  auto step = b.label("step", s.mean_us, s.duration_cv, s.mean_bytes);
  const std::uint64_t length = std::max<std::uint32_t>(s.chain_length, 1);
  const std::uint64_t count = std::max<std::uint64_t>(1, s.tasks / length);
  b.reserve(count * length, count * length);
  for (std::uint64_t i = 0; i < length; ++i)
    for (std::uint64_t c = 0; c < count; ++c) {
      auto id = i == 0 ? b.add(step) : b.add(step, std::initializer_list<std::uint32_t>{
                                                         static_cast<std::uint32_t>((i - 1) * count + c)});
      if (i + 1 == length) w.keep.push_back(id);
    }
}

// Layers of equal width; each task reads 1-3 random tasks of the layer before.
void layers(const WorkloadSpec& s, Workload& w, Builder& b) {
  auto node = b.label("node", s.mean_us, s.duration_cv, s.mean_bytes);
  const std::uint64_t depth = std::max<std::uint32_t>(std::min<std::uint64_t>(s.chain_length, s.tasks), 1);
  const std::uint64_t width = std::max<std::uint64_t>(1, s.tasks / depth);
  b.reserve(depth * width, depth * width * 2);
  std::uniform_int_distribution<std::uint64_t> pick(0, width - 1), count(1, 3);
  std::vector<std::uint32_t> in;
  for (std::uint64_t d = 0; d < depth; ++d)
    for (std::uint64_t x = 0; x < width; ++x) {
      in.clear();
      if (d > 0) {
        for (auto n = count(b.rng()); n > 0; --n) in.push_back(static_cast<std::uint32_t>((d - 1) * width + pick(b.rng())));
        std::sort(in.begin(), in.end());
        in.erase(std::unique(in.begin(), in.end()), in.end());
      }
      auto id = b.add(node, in);
      if (d + 1 == depth) w.keep.push_back(id);
    }
}

// A 1-D three-point stencil: cell x at step t reads x-1, x, x+1 at step t-1.
void stencil(const WorkloadSpec& s, Workload& w, Builder& b) {
  auto cell = b.label("cell", s.mean_us, s.duration_cv, s.mean_bytes);
  const std::uint64_t steps = std::max<std::uint32_t>(std::min<std::uint64_t>(s.chain_length, s.tasks), 1);
  const std::uint64_t width = std::max<std::uint64_t>(1, s.tasks / steps);
  b.reserve(steps * width, steps * width * 3);
  std::vector<std::uint32_t> in;
  for (std::uint64_t t = 0; t < steps; ++t)
    for (std::uint64_t x = 0; x < width; ++x) {
      in.clear();
      if (t > 0)
        for (std::uint64_t n = x == 0 ? 0 : x - 1; n <= std::min(x + 1, width - 1); ++n)
          in.push_back(static_cast<std::uint32_t>((t - 1) * width + n));
      auto id = b.add(cell, in);
      if (t + 1 == steps) w.keep.push_back(id);
    }
}

// A square wavefront: (i, j) reads (i-1, j) and (i, j-1); the last corner is kept.
void wavefront(const WorkloadSpec& s, Workload& w, Builder& b) {
  auto cell = b.label("cell", s.mean_us, s.duration_cv, s.mean_bytes);
  const auto side = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::sqrt(double(s.tasks))));
  b.reserve(side * side, side * side * 2);
  std::vector<std::uint32_t> in;
  for (std::uint64_t i = 0; i < side; ++i)
    for (std::uint64_t j = 0; j < side; ++j) {
      in.clear();
      if (i > 0) in.push_back(static_cast<std::uint32_t>((i - 1) * side + j));
      if (j > 0) in.push_back(static_cast<std::uint32_t>(i * side + j - 1));
      b.add(cell, in);
    }
  w.keep.push_back(static_cast<std::uint32_t>(side * side - 1));
}

// SCOOP's recursive divide and conquer, unbalanced: a random leaf is split into 2..fan_in
// children until the budget is spent. Each inner node is a split (reads its parent's split)
// and a combine (reads its children's results); each leaf computes (reads its parent's split).
void scoop(const WorkloadSpec& s, Workload& w, Builder& b) {
  auto split = b.label("split", s.mean_us / 10, s.duration_cv, s.mean_bytes);
  auto leaf = b.label("leaf", s.mean_us, s.duration_cv, s.mean_bytes);
  auto combine = b.label("combine", s.mean_us / 5, s.duration_cv, s.mean_bytes);
  const std::uint32_t k = std::max<std::uint32_t>(s.fan_in, 2);
  // Tree of nodes: parent, first child, next sibling.
  std::vector<std::uint32_t> parent{0}, first_child{0}, next_sibling{0};
  constexpr std::uint32_t none = ~0u;
  first_child[0] = next_sibling[0] = none;
  parent[0] = none;
  std::vector<std::uint32_t> leaves{0};
  std::uint64_t tasks = 1;
  std::uniform_int_distribution<std::uint32_t> children(2, k);
  while (tasks < s.tasks && !leaves.empty()) {
    std::uniform_int_distribution<std::size_t> pick(0, leaves.size() - 1);
    const std::size_t at = pick(b.rng());
    const std::uint32_t node = leaves[at];
    leaves[at] = leaves.back();
    leaves.pop_back();
    const std::uint32_t c = children(b.rng());
    for (std::uint32_t i = 0; i < c; ++i) {
      auto child = static_cast<std::uint32_t>(parent.size());
      parent.push_back(node);
      first_child.push_back(none);
      next_sibling.push_back(first_child[node]);
      first_child[node] = child;
      leaves.push_back(child);
    }
    tasks += c + 1;  // c leaves replace one, and the node gets a split and a combine
  }
  const std::size_t nodes = parent.size();
  b.reserve(tasks, tasks * 2);
  // Top-down in breadth-first order: splits and leaves; then bottom-up: combines.
  std::vector<std::uint32_t> order{0}, task_of(nodes, none), result_of(nodes, none);
  order.reserve(nodes);
  for (std::size_t i = 0; i < order.size(); ++i)
    for (auto c = first_child[order[i]]; c != none; c = next_sibling[c]) order.push_back(c);
  std::vector<std::uint32_t> in;
  for (std::uint32_t node : order) {
    in.clear();
    if (parent[node] != none) in.push_back(task_of[parent[node]]);
    task_of[node] = b.add(first_child[node] == none ? leaf : split, in);
    if (first_child[node] == none) result_of[node] = task_of[node];
  }
  for (std::size_t i = order.size(); i-- > 0;) {
    const std::uint32_t node = order[i];
    if (first_child[node] == none) continue;
    in.clear();
    for (auto c = first_child[node]; c != none; c = next_sibling[c]) in.push_back(result_of[c]);
    std::sort(in.begin(), in.end());
    result_of[node] = b.add(combine, in);
  }
  w.keep.push_back(result_of[0]);
}

}  // namespace

Workload make_workload(const WorkloadSpec& spec) {
  Workload w;
  w.name = spec.kind;
  Builder b(w, spec.seed);
  if (spec.kind == "wide") wide(spec, b);
  else if (spec.kind == "tree") tree(spec, w, b);
  else if (spec.kind == "chains") chains(spec, w, b);
  else if (spec.kind == "layers") layers(spec, w, b);
  else if (spec.kind == "stencil") stencil(spec, w, b);
  else if (spec.kind == "wavefront") wavefront(spec, w, b);
  else if (spec.kind == "scoop") scoop(spec, w, b);
  else throw std::invalid_argument("unknown workload '" + spec.kind + "'");
  return w;
}

Bounds lower_bounds(const Workload& w, std::uint64_t total_cpus) {
  Bounds b;
  std::vector<double> finish(w.size(), 0);  // earliest finish with unlimited cpus, no transfers
  for (std::size_t t = 0; t < w.size(); ++t) {
    double start = 0;
    for (auto in = w.inputs_begin(t); in != w.inputs_end(t); ++in) start = std::max(start, finish[*in]);
    finish[t] = start + w.duration_us[t];
    b.critical_path_us = std::max(b.critical_path_us, finish[t]);
    b.work_us += w.duration_us[t];
  }
  b.area_us = b.work_us / double(std::max<std::uint64_t>(total_cpus, 1));
  return b;
}

}  // namespace treadle::sim
