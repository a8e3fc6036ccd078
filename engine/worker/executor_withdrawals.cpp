// Taking calls back from an executor's request pipe (ExecutorPool, docs/architecture.md:
// "withdrawn tasks"): a cancelled call that waits there, and the calls that wait behind one that
// turned out long (given back, to run on an idle executor or be stolen by an idle worker). The
// executor skips a withdrawn call (python/treadle/runtime/withdrawals.py) and answers `withdrawn`,
// or `running` if it had started.
#include <algorithm>

#include "../common/clock.hpp"
#include "../common/log.hpp"
#include "executor_pool.hpp"

namespace treadle {

namespace {

// The same as executor_pool.cpp's: a call this long gains under 1% from a second one in the pipe.
constexpr double long_task_us = 50'000;
// A call that has run this many times its function's usual time has turned out long: waiting
// for it is no longer "a short wait for a free slot". A function's durations vary (its moving
// average follows them), and on a loaded machine a call is often preempted for a few times its
// length; 8 times, and at least long_task_us, leaves those alone, so calls are given back only
// when the wait behind is far longer than the round trip a give-back costs.
constexpr double overrun_factor = 8;

}  // namespace

void ExecutorPool::cancel(TaskId id, std::vector<ExecutorResult>& retry) {
  for (auto& e : executors_) {
    // The first entry of `id` not withdrawn already (it may have been sent again since).
    auto w = e.withdrawn.find(id);
    unsigned skip = w == e.withdrawn.end() ? 0 : w->second;
    auto it = e.tasks.begin();
    for (; it != e.tasks.end(); ++it)
      if (*it == id && skip-- == 0) break;
    if (it == e.tasks.end() && !e.detached.count(id)) continue;
    auto d = e.detached.find(id);
    if (d != e.detached.end() && !d->second.rejoined) {
      // A seceded task is a thread waiting (on futures), using no cpu: it is left to end and its
      // result dropped. Replacing the executor would run its other tasks again, and in a tree of
      // nested tasks cancel theirs in turn, every client timeout, without end.
      return;
    }
    if (it != e.tasks.end() && take_mark(e.given_back, id)) {
      ++e.withdrawn[id];  // its withdrawal is on its way (given back): the answer is now dropped
      return;
    }
    if (it != e.tasks.end() && it != e.tasks.begin()) {
      // Waiting in the pipe behind another: the executor skips it, and the task running in
      // front (perhaps another client's) runs on. Should it have started meanwhile, the
      // executor answers `running`, and is replaced then.
      ++e.withdrawn[id];
      withdraw(e, id);
      return;
    }
    if (it == e.tasks.begin() && wall_us() < e.started_us + grace_us(id)) {
      // Running, and a call of a function known to be short: it is left to end (its result
      // dropped) rather than the executor replaced, unless it runs on past its grace.
      ++e.withdrawn[id];
      e.withdrawn_deadline_us = e.started_us + grace_us(id);
      return;
    }
    // A running task cannot be stopped (a thread cannot): the executor is replaced, and the
    // other tasks it had (seceded ones too) are run again.
    replace(e, id, retry);
    return;
  }
}

void ExecutorPool::withdraw(Executor& e, TaskId id) {
  try {
    send(e, std::string_view(R"({"op":"withdraw","id":)" + std::to_string(id) + "}"), {});
  } catch (const std::exception& error) {
    log::warn("executor ", e.pid, ": ", error.what());  // it died; its reply pipe reports EOF next
  }
}

double ExecutorPool::usual_us(TaskId id) const {
  auto f = function_of_.find(id);
  if (f == function_of_.end()) return -1;
  auto us = function_us_.find(f->second);
  return us == function_us_.end() ? -1 : us->second;
}

double ExecutorPool::grace_us(TaskId id) const {
  const double usual = usual_us(id);
  if (usual < 0 || usual >= long_task_us) return 0;
  return std::max(long_task_us, 4 * usual);
}

std::int64_t ExecutorPool::overruns_at(const Executor& e) const {
  // Only a call the executor watches its pipe during (not `batch`: a withdrawal would be read
  // only after it).
  if (e.tasks.empty() || e.batched.count(e.tasks.front())) return 0;
  const double usual = usual_us(e.tasks.front());
  return e.started_us + static_cast<std::int64_t>(std::max(long_task_us, overrun_factor * std::max(usual, 0.0)));
}

std::int64_t ExecutorPool::overrun_at(const Executor& e) const {
  // Once: what is behind it then goes back, and nothing more is queued behind it.
  return e.head_overran || e.tasks.size() < 2 ? 0 : overruns_at(e);
}

bool ExecutorPool::overran(const Executor& e) const {
  if (e.head_overran) return true;
  const std::int64_t at = overruns_at(e);
  return at && wall_us() >= at;
}

void ExecutorPool::tick(std::vector<ExecutorResult>& retry) {
  const std::int64_t now = wall_us();
  for (auto& e : executors_) {
    if (e.tasks.empty()) continue;
    if (e.withdrawn_deadline_us && now >= e.withdrawn_deadline_us) {
      log::info("replacing Python executor ", e.pid, ": cancelled task ", e.tasks.front(), " runs on");
      replace(e, e.tasks.front(), retry);
      continue;
    }
    if (const std::int64_t at = overrun_at(e); at && now >= at) give_back(e, now);
  }
}

void ExecutorPool::give_back(Executor& e, std::int64_t now) {
  e.head_overran = true;  // nothing more is queued behind it (takes_more)
  const TaskId head = e.tasks.front();
  for (std::size_t i = 1; i < e.tasks.size(); ++i) {
    const TaskId t = e.tasks[i];
    if (e.withdrawn.count(t) || e.given_back.count(t)) continue;
    ++e.given_back[t];
    log::info("giving back task ", t, " (waiting in executor ", e.pid, "'s pipe behind task ", head, ", which has run ",
              (now - e.started_us) / 1000, " ms; its function usually takes ", usual_us(head) / 1000, " ms)");
    withdraw(e, t);
  }
}

void ExecutorPool::on_withdrawn(Executor& e, TaskId id, std::vector<ExecutorResult>& finished) {
  // The executor will skip `id` (it never runs): its slot is free, the next one starts.
  auto at_slot = std::find(e.tasks.begin(), e.tasks.end(), id);
  if (at_slot == e.tasks.end()) return;
  const bool cancelled = answers_withdrawn(e, id);
  const bool given_back = !cancelled && take_mark(e.given_back, id);
  if (!cancelled && !given_back) return;
  if (given_back) {  // back to the worker's queue, for an idle executor or worker
    ExecutorResult r;
    r.id = id;
    r.retry = true;
    finished.push_back(std::move(r));
  }
  const bool head = at_slot == e.tasks.begin();
  e.tasks.erase(at_slot);
  function_of_.erase(id);
  e.batched.erase(id);
  e.output_tail.clear();
  if (head) {
    e.started_us = wall_us();
    head_changed(e);
    head_started(e);
  }
}

void ExecutorPool::on_running(Executor& e, TaskId id) {
  // It had started when its withdrawal was read. Given back: it runs here after all, its result
  // kept. Cancelled: as a running call of a short function, it is left to end (its result
  // dropped) unless it runs on past its grace.
  take_mark(e.given_back, id);
  if (!e.tasks.empty() && e.tasks.front() == id && e.withdrawn.count(id))
    e.withdrawn_deadline_us = e.started_us + std::max(grace_us(id), 1.0);
}

bool ExecutorPool::answers_withdrawn(Executor& e, TaskId id) { return take_mark(e.withdrawn, id); }

bool ExecutorPool::take_mark(std::unordered_map<TaskId, unsigned>& marks, TaskId id) {
  auto w = marks.find(id);
  if (w == marks.end()) return false;
  if (--w->second == 0) marks.erase(w);
  return true;
}

void ExecutorPool::head_changed(Executor& e) {
  e.withdrawn_deadline_us = 0;
  e.head_overran = false;
}

}  // namespace treadle
