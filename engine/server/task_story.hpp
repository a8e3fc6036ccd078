#pragma once
// "Why is this task here?" for users (Dask's `story`): the answer to a client's `story`
// request (docs/protocol.md). Per task: its recent transitions from the scheduler's bounded
// log, with the worker involved and placement's reason, and for a task still waiting, why it
// is not running now (explain.hpp).
#include <stdexcept>
#include <vector>

#include "../common/ids.hpp"
#include "../common/protocol.hpp"

namespace treadle {

class Scheduler;

// A story is for people: a request names a few tasks, not a graph.
inline constexpr std::size_t max_story_ids = 1000;

// A request the server refuses; the message is for the user.
struct StoryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The `stories` field of a `story_reply`, in the order of `ids`. Throws StoryError for an id the
// server never gave out.
json task_stories(const Scheduler& scheduler, const std::vector<TaskId>& ids);

}  // namespace treadle
