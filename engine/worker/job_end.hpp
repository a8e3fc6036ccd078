#pragma once
// A batch job's end (scancel, qdel, a walltime) sends SIGTERM to every process of the job at
// once, so a task's program may die of it a moment before the worker hears its own. Such a
// death is the job's end, not the task's failure: the worker leaves, and the server re-places
// the task elsewhere.
#include <chrono>

namespace treadle {

// From the worker's SIGTERM/SIGINT handler (async-signal-safe).
void note_stop_signal();
bool stop_signal_received();

// For a task's process that died of SIGTERM: waits up to `grace` for the worker's own signal
// and says whether it came (the job is ending).
bool job_ending(std::chrono::milliseconds grace = std::chrono::milliseconds(1000));

}  // namespace treadle
