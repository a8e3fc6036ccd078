#include "worker_state.hpp"

#include <algorithm>

#include "../common/symbols.hpp"

namespace treadle {

namespace {
// Inputs above this many bytes make an inline_if_small task worth a thread.
constexpr std::uint64_t inline_input_limit = 1u << 20;
// A batch's tasks (with their inputs) and frees are taken this many at a time between chances
// to heartbeat.
constexpr std::size_t busy_step = 1024;
}  // namespace

WorkerState::WorkerState(WorkerActions& actions, const TaskRegistry& registry, DataStore& store, unsigned cpus)
    : actions_(actions), registry_(registry), store_(store), cpus_(cpus) {}

void WorkerState::compute(const ComputeBatch& b, std::int64_t now_us) {
  // Frees the server held for this batch were decided before its tasks: drop them first.
  for (std::size_t i = 0; i < b.frees.size(); ++i) {
    if (i % busy_step == busy_step - 1) actions_.still_busy();
    free(b.frees[i]);
  }
  std::unordered_map<TaskId, std::string> checkpoints(b.checkpoints.begin(), b.checkpoints.end());
  std::unordered_map<TaskId, std::uint32_t> outputs(b.outputs.begin(), b.outputs.end());
  std::unordered_map<std::uint32_t, std::vector<TaskId>> to_fetch;  // peer index -> objects
  std::size_t pos = 0;
  std::size_t since_busy = 0;  // tasks and inputs taken since the last chance to heartbeat
  for (std::size_t i = 0; i < b.ids.size(); ++i) {
    since_busy += 1 + b.input_counts[i];  // a merge of a thousand inputs is a thousand steps
    if (since_busy >= busy_step) {
      actions_.still_busy();
      since_busy = 0;
    }
    const TaskId id = b.ids[i];
    const std::size_t first_input = pos;
    pos += b.input_counts[i];
    // The server cancels a task before it sends it again: one already here is being handled.
    if (tasks_.count(id)) continue;
    WorkerTask t;
    t.type = b.types[b.type_of[i]];
    t.config.assign(b.configs, b.config_offsets[i], b.config_offsets[i + 1] - b.config_offsets[i]);
    t.cpus = b.cpus[i];
    if (!checkpoints.empty()) {
      auto cp = checkpoints.find(id);
      if (cp != checkpoints.end()) t.checkpoint = std::move(cp->second);
    }
    if (!outputs.empty()) {
      auto o = outputs.find(id);
      if (o != outputs.end()) t.outputs = o->second;
    }
    t.inputs.assign(b.inputs.begin() + static_cast<std::ptrdiff_t>(first_input),
                    b.inputs.begin() + static_cast<std::ptrdiff_t>(pos));
    for (std::size_t k = first_input; k < pos; ++k) {
      TaskId in = b.inputs[k];
      if (store_.contains(in)) continue;
      auto& waiters = waiters_[in];
      if (std::find(waiters.begin(), waiters.end(), id) != waiters.end()) continue;  // named twice
      waiters.push_back(id);
      ++t.missing;
      // Not local: a peer holds it. Local: it is being computed here (a chain).
      if (b.input_where[k] != ComputeBatch::local && !fetches_.count(in)) {
        fetches_.emplace(in, Fetch{b.peers[b.input_where[k]], now_us});
        to_fetch[b.input_where[k]].push_back(in);
      }
    }
    t.state = t.missing ? WorkerTaskState::waiting : WorkerTaskState::ready;
    const bool ready = t.state == WorkerTaskState::ready;
    tasks_.emplace(id, std::move(t));
    if (ready) ready_.push_back(id);
  }
  for (auto& [peer, objects] : to_fetch) actions_.fetch(b.peers[peer], objects);
}

void WorkerState::cancel(TaskId id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  WorkerTask& t = it->second;
  switch (t.state) {
    case WorkerTaskState::waiting:
    case WorkerTaskState::ready:
      // An input nobody else waits for is no longer fetched, so the task sent again (perhaps
      // naming another holder) fetches it anew.
      forget(id);
      return;
    case WorkerTaskState::on_thread: {
      // A thread cannot be stopped: its program is killed, its sleep woken, and its cpus stay
      // held until it ends. The task itself is gone, so it may be sent again meanwhile.
      abandoned_[id].cpus.push_back(t.cpus);
      tasks_.erase(it);
      actions_.cancel_on_thread(id);
      return;
    }
    case WorkerTaskState::on_executor:
    case WorkerTaskState::seceded: {
      std::vector<ExecutorResult> retry = actions_.cancel_on_executor(id);
      left_executor(id, t);
      tasks_.erase(it);
      for (auto& r : retry) executor_finished(r);
      return;
    }
  }
}

std::vector<TaskId> WorkerState::give_back(const std::vector<TaskId>& tasks) {
  std::vector<TaskId> given;
  for (TaskId id : tasks) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) continue;
    const WorkerTaskState s = it->second.state;
    if (s != WorkerTaskState::waiting && s != WorkerTaskState::ready) continue;  // it holds cpus: it started
    forget(id);  // as a cancel: a ready_ entry of it is skipped, an input only it wanted is no longer fetched
    given.push_back(id);
  }
  return given;
}

void WorkerState::free(TaskId object) {
  // A copy asked for and no longer needed: a late arrival is dropped.
  if (wanted_.erase(object) && !waiters_.count(object)) fetches_.erase(object);
  store_.erase(object);
}

void WorkerState::replicate(const std::string& peer, const std::vector<TaskId>& objects, std::int64_t now_us) {
  std::vector<TaskId> to_fetch;
  for (TaskId object : objects) {
    if (store_.contains(object)) continue;
    wanted_.insert(object);
    if (fetches_.emplace(object, Fetch{peer, now_us}).second) to_fetch.push_back(object);
  }
  if (!to_fetch.empty()) actions_.fetch(peer, to_fetch);
}

void WorkerState::alias(TaskId from, TaskId to) {
  DataPtr d = store_.find(from);
  if (!d) return;
  store_.put(to, std::move(d));
  actions_.aliased(to);  // only now may the server send others here for it
  arrived(to);
}

void WorkerState::fetched(TaskId object, DataPtr data, std::int64_t now_us) {
  auto fetch = fetches_.find(object);
  Fetch from = fetch != fetches_.end() ? std::move(fetch->second) : Fetch{"?", now_us};
  if (fetch != fetches_.end()) fetches_.erase(fetch);
  auto w = waiters_.find(object);
  const bool wanted = wanted_.erase(object) > 0;
  if (!data) {
    if (w == waiters_.end()) return;
    std::vector<TaskId> waiters = std::move(w->second);
    waiters_.erase(w);
    for (TaskId t : waiters)
      if (tasks_.count(t)) fail(t, "input task " + std::to_string(object) + " was no longer on the worker that had it");
    return;
  }
  if (w == waiters_.end() && !wanted) return;  // nobody needs it any more (cancelled meanwhile)
  actions_.replicated(object, from.peer, data->size(), from.since_us, now_us);
  store_.put(object, std::move(data));
  arrived(object);
}

void WorkerState::thread_started(TaskId id) {
  auto it = tasks_.find(id);
  if (it != tasks_.end() && it->second.state == WorkerTaskState::on_thread) actions_.started(id);
}

void WorkerState::executor_started(TaskId id) {
  auto it = tasks_.find(id);
  if (it != tasks_.end() && it->second.state == WorkerTaskState::on_executor) actions_.started(id);
}

void WorkerState::thread_finished(TaskId id, TaskOutcome outcome) {
  auto abandoned = abandoned_.find(id);
  if (abandoned != abandoned_.end()) {  // a cancelled run: its result is dropped
    // Which of its runs ended is not known: the oldest gives its cpus back, and the total is right.
    std::deque<std::uint32_t>& runs = abandoned->second.cpus;
    cpus_held_ -= runs.front();
    runs.pop_front();
    if (runs.empty()) abandoned_.erase(abandoned);
    return;
  }
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second.state != WorkerTaskState::on_thread) return;
  cpus_held_ -= it->second.cpus;
  if (outcome.data) complete(id, std::move(outcome.data), outcome.start_us, outcome.end_us, lane_thread);
  else {
    const RunSpan ran{outcome.start_us, outcome.end_us, lane_thread};
    fail(id, outcome.error, {}, &ran);
  }
}

void WorkerState::executor_finished(ExecutorResult& r) {
  auto it = tasks_.find(r.id);
  if (it == tasks_.end()) return;  // cancelled meanwhile
  WorkerTask& t = it->second;
  if (t.state != WorkerTaskState::on_executor && t.state != WorkerTaskState::seceded) return;
  left_executor(r.id, t);
  if (r.retry) {
    t.state = WorkerTaskState::ready;
    ready_.push_back(r.id);
    return;
  }
  if (!r.error.empty()) {
    const RunSpan ran{r.start_us, r.end_us, lane_executor + r.executor};
    return fail(r.id, r.error, r.exception, &ran);
  }
  if (!r.redirect.is_null()) {
    // The task returned a plan to run in its place: the server splices it in.
    tasks_.erase(it);
    actions_.redirected(r.id, r);
    return;
  }
  if (!r.data) return fail(r.id, "the task produced no data");
  complete(r.id, std::move(r.data), r.start_us, r.end_us, lane_executor + r.executor);
}

// A Python task waits on futures (seceded) or its wait ended (rejoined): its cpus are free
// meanwhile, here and for the server's placement.
void WorkerState::task_seceded(TaskId id, bool seceded) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  WorkerTask& t = it->second;
  const WorkerTaskState to = seceded ? WorkerTaskState::seceded : WorkerTaskState::on_executor;
  if ((t.state != WorkerTaskState::on_executor && t.state != WorkerTaskState::seceded) || t.state == to) return;
  t.state = to;
  cpus_held_ += seceded ? -std::int64_t{t.cpus} : std::int64_t{t.cpus};
  actions_.seceded(id, seceded);
}

// The task no longer runs on an executor (it ended, failed, is cancelled or will be run again):
// its cpus are free, unless it gave them back when it seceded.
void WorkerState::left_executor(TaskId id, WorkerTask& t) {
  if (t.state == WorkerTaskState::seceded) {
    // The server counts its cpus free already; a task run again holds them anew.
    actions_.seceded(id, false);
  } else {
    cpus_held_ -= t.cpus;
  }
  t.state = WorkerTaskState::ready;  // the caller decides what it becomes
}

void WorkerState::run_ready() {
  // Inline tasks complete here and may make more tasks ready: keep going until none can start.
  std::size_t blocked = 0;
  while (ready_.size() > blocked) {
    actions_.still_busy();  // an inline task may take a while; a million of them certainly do
    TaskId id = ready_.front();
    ready_.pop_front();
    auto it = tasks_.find(id);
    if (it == tasks_.end() || it->second.state != WorkerTaskState::ready) continue;  // cancelled, or a stale entry
    if (!try_start(id, it->second)) {
      ready_.push_back(id);  // waits for cpus or an executor; others may still start
      ++blocked;
    }
  }
}

bool WorkerState::try_start(TaskId id, WorkerTask& t) {
  const bool python = t.type == symbols::py_call;
  const TaskRegistry::Entry* entry = nullptr;
  if (python) {
    if (!actions_.executor_idle()) return false;
  } else {
    entry = registry_.find(t.type);
    if (!entry) {
      fail(id, "this worker has no task type '" + t.type + "'");
      return true;
    }
  }
  TaskToRun run{id, t.type, t.config, t.inputs, {}};
  run.inputs.reserve(t.inputs.size());
  std::uint64_t input_bytes = 0;
  for (TaskId in : t.inputs) {
    DataPtr d = store_.find(in);
    if (!d) {  // freed meanwhile (the server thought nobody needed it)
      fail(id, "input task " + std::to_string(in) + " is missing on this worker");
      return true;
    }
    input_bytes += d->size();
    run.inputs.push_back(std::move(d));
  }
  if (python) {
    if (t.inputs.empty()) {
      fail(id, "loom/py/call needs the callable as its first input");
      return true;
    }
    // No cpu check: an executor runs one task at a time, and one waiting in its pipe counts.
    cpus_held_ += t.cpus;
    t.state = WorkerTaskState::on_executor;
    // Reported running by executor_started(), when it executes: it may wait in the pipe first.
    actions_.run_on_executor(run);
    return true;
  }
  const bool threaded = entry->threading == Threading::own_thread ||
                        (entry->threading == Threading::inline_if_small && input_bytes > inline_input_limit);
  if (!threaded) {
    TaskOutcome outcome = actions_.run_inline(*entry, run);
    if (outcome.data) complete(id, std::move(outcome.data), outcome.start_us, outcome.end_us, lane_loop);
    else {
      const RunSpan ran{outcome.start_us, outcome.end_us, lane_loop};
      fail(id, outcome.error, {}, &ran);
    }
    return true;
  }
  if (std::int64_t{t.cpus} > free_cpus()) return false;
  cpus_held_ += t.cpus;
  t.state = WorkerTaskState::on_thread;
  // Reported running by thread_started(), when a thread takes it (a program: once it exists).
  actions_.run_on_thread(*entry, run);
  return true;
}

void WorkerState::complete(TaskId id, DataPtr data, std::int64_t start_us, std::int64_t end_us, std::uint32_t lane) {
  auto it = tasks_.find(id);
  if (it != tasks_.end() && !it->second.checkpoint.empty()) {
    std::string error = actions_.write_checkpoint(it->second.checkpoint, id, data);
    if (!error.empty()) return fail(id, error);
  }
  const std::uint32_t outputs = it != tasks_.end() ? it->second.outputs : 1;
  if (outputs != 1) return complete_outputs(id, std::move(data), outputs, start_us, end_us, lane);
  actions_.finished(id, *data, start_us, end_us, lane);
  store_.put(id, std::move(data));
  if (it != tasks_.end()) tasks_.erase(it);
  arrived(id);
}

// A task declared with zero or several outputs: its result is an array of one item per output
// (a run with several outputs, an array_make, a Python task's tuple), and each item is kept as
// an object of its own. Zero outputs keep nothing.
void WorkerState::complete_outputs(TaskId id, DataPtr data, std::uint32_t outputs, std::int64_t start_us,
                                   std::int64_t end_us, std::uint32_t lane) {
  if (outputs > 0 && (data->kind() != DataKind::array || data->length() != outputs))
    return fail(id, "the task was declared with " + std::to_string(outputs) + " outputs but made " +
                        (data->kind() == DataKind::array ? "an array of " + std::to_string(data->length()) + " items"
                                                         : "one " + std::string(kind_name(data->kind())) + " object") +
                        " (a task with several outputs makes one array item per output)");
  std::vector<DataPtr> items;
  for (std::uint32_t k = 0; k < outputs; ++k) {
    items.push_back(data->get(k));
    actions_.output_made(object_id(id, k), *items.back());
  }
  actions_.finished(id, *data, start_us, end_us, lane);
  tasks_.erase(id);
  for (std::uint32_t k = 0; k < outputs; ++k) {
    store_.put(object_id(id, k), std::move(items[k]));
    arrived(object_id(id, k));
  }
}

void WorkerState::fail(TaskId id, const std::string& message, const std::string& exception, const RunSpan* ran) {
  forget(id);
  actions_.failed(id, message, exception, ran);
}

void WorkerState::forget(TaskId id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  if (it->second.missing)
    for (TaskId in : it->second.inputs) stop_waiting(in, id);
  tasks_.erase(it);
}

void WorkerState::stop_waiting(TaskId object, TaskId task) {
  auto w = waiters_.find(object);
  if (w == waiters_.end()) return;
  w->second.erase(std::remove(w->second.begin(), w->second.end(), task), w->second.end());
  if (w->second.empty()) {
    waiters_.erase(w);
    if (!wanted_.count(object)) fetches_.erase(object);  // a late arrival is dropped
  }
}

void WorkerState::arrived(TaskId object) {
  auto it = waiters_.find(object);
  if (it == waiters_.end()) return;
  std::vector<TaskId> waiters = std::move(it->second);
  waiters_.erase(it);
  fetches_.erase(object);  // made here after all (an alias): a late copy is not needed
  for (TaskId w : waiters) {
    auto t = tasks_.find(w);
    if (t != tasks_.end() && t->second.missing > 0 && --t->second.missing == 0) {
      t->second.state = WorkerTaskState::ready;
      ready_.push_back(w);
    }
  }
}

}  // namespace treadle
