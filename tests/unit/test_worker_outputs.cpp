// A worker's tasks with other than one output (Rain's): the result, an array of one item per
// output, becomes one object per output (object_id(task, k)), each reported and stored on its
// own; consumers wait for the object they name. A result of the wrong shape fails the task.
#include <catch2/catch.hpp>

#include "data/array.hpp"
#include "worker_state_fixture.hpp"

using namespace treadle;
using namespace treadle::testing;
using Catch::Matchers::Contains;

namespace {
const std::string pair_type = "test/pair";  // inline: an array of its inputs, or of its config's bytes

void add_pair_type(WorkerStateFixture& f) {
  f.registry.add(
      pair_type,
      [](TaskContext& ctx) -> DataPtr {
        std::vector<DataPtr> items;
        if (ctx.config == "plain") return PlainData::from_string("not an array");
        for (char c : ctx.config) items.push_back(PlainData::from_string(std::string(1, c)));
        for (auto& in : ctx.inputs) items.push_back(in);
        return std::make_shared<ArrayData>(std::move(items));
      },
      Threading::inline_on_loop);
}
}  // namespace

TEST_CASE("worker outputs: a two-output task stores each output as its own object", "[worker][outputs]") {
  WorkerStateFixture f;
  add_pair_type(f);
  // Task 5 makes "a" and "b"; task 6 joins output 1 then output 0; task 7 uses output 1 only.
  f.compute(BatchBuilder()
                .add(5, pair_type, {}, 0, "ab")
                .outputs(5, 2)
                .add(6, light_type, {{object_id(5, 1), ""}, {object_id(5, 0), ""}})
                .add(7, light_type, {{object_id(5, 1), ""}}));
  CHECK(f.state_of(6) == WS::waiting);
  CHECK(f.actions.fetches.empty());  // made here: nothing to fetch
  f.run();
  CHECK(f.result(object_id(5, 0)) == "a");
  CHECK(f.result(object_id(5, 1)) == "b");
  CHECK(f.result(5) == "a");  // output 0 is named by the task's own id
  CHECK(f.result(6) == "ba");
  CHECK(f.result(7) == "b");
  // Each output is reported before its task, so the server knows both when the task finishes.
  CHECK(f.actions.count(Did::output_made, object_id(5, 0)) == 1);
  CHECK(f.actions.count(Did::output_made, object_id(5, 1)) == 1);
  CHECK(f.actions.position(Did::output_made, object_id(5, 1)) < f.actions.position(Did::finished, 5));
  // Freeing one output leaves the other.
  f.state.free(object_id(5, 1));
  CHECK(f.result(object_id(5, 1)) == "<none>");
  CHECK(f.result(object_id(5, 0)) == "a");
}

TEST_CASE("worker outputs: an output fetched from a peer is asked for by its object id", "[worker][outputs]") {
  WorkerStateFixture f;
  f.compute(BatchBuilder().add(8, light_type, {{object_id(3, 1), "tcp://a"}}));
  REQUIRE(f.actions.fetches.size() == 1);
  CHECK(f.actions.fetches[0] == std::vector<TaskId>{object_id(3, 1)});
  f.arrive(object_id(3, 1), "B");
  f.run();
  CHECK(f.result(8) == "B");
  CHECK(f.actions.count(Did::replicated, object_id(3, 1)) == 1);
}

TEST_CASE("worker outputs: a result that does not match the declared outputs fails the task", "[worker][outputs]") {
  WorkerStateFixture f;
  add_pair_type(f);
  f.compute(BatchBuilder()
                .add(5, pair_type, {}, 0, "abc")
                .outputs(5, 2)
                .add(6, pair_type, {}, 0, "plain")
                .outputs(6, 2));
  f.run();
  REQUIRE(f.actions.count(Did::failed, 5) == 1);
  CHECK_THAT(f.actions.last(Did::failed, 5)->detail, Contains("declared with 2 outputs but made an array of 3 items"));
  CHECK_THAT(f.actions.last(Did::failed, 6)->detail, Contains("declared with 2 outputs but made one plain object"));
  CHECK(f.result(object_id(5, 0)) == "<none>");
  CHECK(f.actions.count(Did::output_made) == 0);
}

TEST_CASE("worker outputs: a task with no outputs keeps nothing", "[worker][outputs]") {
  WorkerStateFixture f;
  f.compute(BatchBuilder().add(5, light_type, {}, 0, "x").outputs(5, 0));
  f.run();
  CHECK(f.actions.count(Did::finished, 5) == 1);
  CHECK(f.store.count() == 0);
}
