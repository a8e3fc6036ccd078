#include "task_story.hpp"

#include "explain.hpp"
#include "scheduler.hpp"

namespace treadle {
namespace {

json or_null(const std::string& s) { return s.empty() ? json() : json(s); }

json entry_json(const Scheduler& s, const TransitionEntry& e) {
  const WorkerInfo* w = e.worker == no_worker ? nullptr : s.worker(e.worker);
  return json{{"time_us", e.time_us},
              {"from", state_name(e.from)},
              {"to", state_name(e.to)},
              {"reason", e.reason},
              {"worker", w ? json(w->data_address) : json()},
              // Its name too: a worker lost since is no longer in `status` to name it from.
              {"worker_name", w ? json(w->name) : json()},
              {"placement", e.placement == no_placement ? json() : json(placement_name(static_cast<Placement>(e.placement)))}};
}

// Has the bounded log dropped some of this task's transitions?
std::string rolled_over_note(const Scheduler& s, bool empty, std::int64_t submitted_us) {
  const TransitionLog& log = s.transition_log();
  if (!log.rolled_over()) return {};
  const std::string kept = " (the server keeps the last " + std::to_string(log.capacity()) + " transitions)";
  // A live plan tells when the task began: nothing is missing if the log reaches back that far.
  if (submitted_us >= 0 && log.oldest_time_us() < submitted_us) return {};
  if (empty) return "the record of this task has rolled over" + kept;
  return "its earlier transitions have rolled over" + kept;
}

// The sizes of a finished task's outputs (as its worker reported them), else null.
json output_sizes(const Scheduler& s, TaskId id) {
  const TaskState state = s.task(id).state;
  if (state != TaskState::finished && state != TaskState::released) return json();
  json sizes = json::array();
  for (std::uint32_t k = 0; k < s.output_count(id); ++k) sizes.push_back(s.object_size(object_id(id, k)));
  return sizes;
}

}  // namespace

json task_stories(const Scheduler& s, const std::vector<TaskId>& ids) {
  for (TaskId id : ids)
    if (id >= s.task_count())
      throw StoryError("task " + std::to_string(id) + " does not exist (this server has given out ids below " +
                       std::to_string(s.task_count()) + ")");
  auto found = s.transition_log().stories(ids);
  json out = json::array();
  for (TaskId id : ids) {
    const auto& entries = found.at(id);
    const bool live = s.exists(id);
    const std::int64_t submitted = s.submitted_us(id);
    json transitions = json::array();
    for (const auto& e : entries) transitions.push_back(entry_json(s, e));
    const Failure* failure = live ? s.failure(id) : nullptr;
    // A task of a freed plan was released, failed or cancelled and forgotten, as `states` says.
    out.push_back(json{{"id", id},
                       {"state", state_name(s.state_of(id))},
                       {"label", live ? s.label(id) : std::string()},
                       {"submitted_us", submitted >= 0 ? json(submitted) : json()},
                       {"transitions", std::move(transitions)},
                       {"why", or_null(why_not_running(s, id))},
                       {"failure", failure ? json(failure->message) : json()},
                       {"info", live ? or_null(s.task_info(id)) : json()},
                       {"sizes", live ? output_sizes(s, id) : json()},
                       {"note", or_null(rolled_over_note(s, entries.empty(), submitted))}});
  }
  return out;
}

}  // namespace treadle
