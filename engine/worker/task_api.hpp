#pragma once
// The extension API of the worker: how a task type is written and registered.
//
//   class CountTask : public treadle::TaskImpl {
//    public:
//     treadle::DataPtr run(treadle::TaskContext& ctx) override {
//       if (ctx.inputs.size() != 1 || ctx.config.size() != 1) throw treadle::TaskFailure("...");
//       ...
//       return treadle::PlainData::from_string(result);
//     }
//   };
//   registry.add<CountTask>("my/count");
//
// run() returns the task's output or throws TaskFailure (or any std::exception) with a
// message for the user. It runs on a thread of its own unless registered as inline, which is
// for tasks that take microseconds (they then run on the worker's event loop, no hand-off).
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../common/ids.hpp"
#include "../data/data.hpp"

namespace treadle {

struct TaskFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TaskContext {
  TaskId id = 0;
  std::string_view type;
  std::string_view config;
  std::vector<DataPtr> inputs;
  std::filesystem::path work_dir;  // this worker's scratch directory (exists)
  // Set for `run` tasks, which the worker reports running only once their program exists
  // (run_child calls it): then "running" means the program can be seen, signalled, killed.
  std::function<void()> started;
};

class TaskImpl {
 public:
  virtual ~TaskImpl() = default;
  virtual DataPtr run(TaskContext& ctx) = 0;
};

// inline_if_small: inline when the inputs total under 1 MiB (a merge of a few bytes), else a thread.
enum class Threading { inline_on_loop, inline_if_small, own_thread };

class TaskRegistry {
 public:
  using Function = std::function<DataPtr(TaskContext&)>;
  struct Entry {
    Function run;
    Threading threading;
  };

  void add(std::string symbol, Function run, Threading threading = Threading::own_thread);
  template <typename T>
  void add(std::string symbol, Threading threading = Threading::own_thread) {
    add(std::move(symbol), [](TaskContext& ctx) { return T().run(ctx); }, threading);
  }
  const Entry* find(std::string_view symbol) const;
  std::vector<std::string> symbols() const;

 private:
  std::unordered_map<std::string, Entry> entries_;
};

// The loom/... built-ins (engine/worker/builtin/).
void register_builtin_tasks(TaskRegistry& registry);

}  // namespace treadle
