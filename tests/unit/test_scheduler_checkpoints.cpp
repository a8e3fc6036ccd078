// Checkpoints in the scheduler: a task whose checkpoint file exists when its plan arrives
// loads it (loom/data/open of the file) and its inputs nobody else needs are never placed;
// a task whose file is missing runs as planned and is marked to write it.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "scheduler_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
namespace fs = std::filesystem;

namespace {

struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "treadle-checkpoints-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name, const std::string& content) const {
    std::ofstream(path / name) << content;
    return (path / name).string();
  }
};

const std::string merge_type{symbols::merge};
const std::string open_type{symbols::open};

}  // namespace

TEST_CASE("an existing checkpoint is loaded and its inputs are cancelled, never placed", "[checkpoints]") {
  SchedulerFixture f;
  ScratchDir dir;
  f.add_worker(2);
  PlanBuilder plan;
  auto a = plan.add(const_type, {}, 0, "", "a");
  auto b = plan.add(merge_type, {local(a)}, 1);
  auto c = plan.add(merge_type, {local(b), local(a)});  // loaded: a and b are not needed
  plan.keep(c);
  TaskId base = f.submit(plan);
  std::string path = dir.file("c.data", "saved");
  f.s.use_checkpoints(base, {{c, path}});
  CHECK(invariant_violation(f.s).empty());

  CHECK(f.state(base + a) == TaskState::cancelled);
  CHECK(f.state(base + b) == TaskState::cancelled);
  CHECK(f.state(base + c) == TaskState::ready);
  CHECK(f.s.type_name(f.s.task(base + c).type) == open_type);
  CHECK(f.s.config(base + c) == path);
  CHECK(f.s.task(base + c).cpus == 0);
  CHECK(f.s.checkpoint_to_write(base + c) == nullptr);
  std::size_t inputs = 0;
  f.s.for_each_input(base + c, [&](TaskId) { ++inputs; });
  CHECK(inputs == 0);

  f.run_all();
  CHECK(f.state(base + c) == TaskState::finished);
  CHECK(f.actions.count(Kind::assign, base + a) == 0);
  CHECK(f.actions.count(Kind::assign, base + b) == 0);
  CHECK(f.actions.count(Kind::assign, base + c) == 1);
  CHECK(invariant_violation(f.s).empty());
}

TEST_CASE("an input another task needs still runs when a consumer is loaded", "[checkpoints]") {
  SchedulerFixture f;
  ScratchDir dir;
  f.add_worker(1);
  PlanBuilder plan;
  auto a = plan.add(const_type, {}, 0, "", "a");
  auto loaded = plan.add(merge_type, {local(a), local(a)});
  auto other = plan.add(merge_type, {local(a), local(loaded)});
  plan.keep(other);
  TaskId base = f.submit(plan);
  f.s.use_checkpoints(base, {{loaded, dir.file("loaded", "L")}});
  CHECK(f.state(base + a) == TaskState::ready);
  CHECK(f.s.task(base + a).holds == 1);  // only `other` holds it now
  f.run_all();
  CHECK(f.state(base + other) == TaskState::finished);
  CHECK(f.actions.count(Kind::assign, base + a) == 1);
  CHECK(invariant_violation(f.s).empty());
}

TEST_CASE("a missing checkpoint file: the task runs as planned and writes it", "[checkpoints]") {
  SchedulerFixture f;
  ScratchDir dir;
  f.add_worker(1);
  PlanBuilder plan;
  auto a = plan.add(const_type, {}, 0, "", "a");
  auto b = plan.add(merge_type, {local(a)});
  plan.keep(b);
  TaskId base = f.submit(plan);
  std::string path = (dir.path / "missing").string();
  f.s.use_checkpoints(base, {{b, path}});
  CHECK(f.state(base + a) == TaskState::ready);
  CHECK(f.state(base + b) == TaskState::waiting);
  CHECK(f.s.type_name(f.s.task(base + b).type) == merge_type);
  REQUIRE(f.s.checkpoint_to_write(base + b) != nullptr);
  CHECK(*f.s.checkpoint_to_write(base + b) == path);
  CHECK(f.s.checkpoint_to_write(base + a) == nullptr);
  f.run_all();
  CHECK(f.state(base + b) == TaskState::finished);
  CHECK(f.actions.count(Kind::assign, base + a) == 1);
}

TEST_CASE("a checkpointed source task is loaded; a directory is not a checkpoint", "[checkpoints]") {
  SchedulerFixture f;
  ScratchDir dir;
  f.add_worker(1);
  PlanBuilder plan;
  auto a = plan.add(const_type, {}, 1, "", "a");
  auto d = plan.add(const_type, {}, 0, "", "d");
  plan.keep(a).keep(d);
  TaskId base = f.submit(plan);
  f.s.use_checkpoints(base, {{a, dir.file("a", "A")}, {d, dir.path.string()}});
  CHECK(f.state(base + a) == TaskState::ready);  // queued already: its cpu request stays
  CHECK(f.s.type_name(f.s.task(base + a).type) == open_type);
  CHECK(f.s.type_name(f.s.task(base + d).type) == const_type);
  CHECK(f.s.checkpoint_to_write(base + d) != nullptr);
  f.run_all();
  CHECK(f.state(base + a) == TaskState::finished);
  CHECK(invariant_violation(f.s).empty());
}
