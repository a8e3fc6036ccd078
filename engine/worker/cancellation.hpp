#pragma once
// Stopping tasks that run on threads: a thread cannot be killed, but what it waits on can.
// A task's program is killed and its sleep wakes up when the task is cancelled or the worker
// stops, so cancelling work and stopping a worker never wait for a program to end by itself.
#include <sys/types.h>

#include "../common/ids.hpp"

namespace treadle::cancellation {

// The program a task runs (run_child registers it while it waits for it).
void register_program(TaskId task, pid_t pid);
void unregister_program(TaskId task);

// Sleeps; false when the task was cancelled (or the worker stops) meanwhile.
bool sleep_for(TaskId task, double seconds);
bool cancelled(TaskId task);

void cancel(TaskId task);  // kills its program, wakes its sleep
void cancel_all();         // the worker stops: every task
void reset();              // a new worker in this process (one declared lost rejoins): nothing cancelled
void forget(TaskId task);  // the task has ended

}  // namespace treadle::cancellation
