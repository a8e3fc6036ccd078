#pragma once
// Ends the kernel when the process that started it is gone.
//
// ipykernel does this (its parent poller) and xeus does not: a Jupyter server or script that
// dies without shutting its kernels down would leave xtreadle running, with its workers. When
// jupyter_client started us ($JPY_PARENT_PID is set), a thread checks once a second whether we
// were re-parented, and then calls `on_orphaned` (which must end the process).
#include <functional>

namespace treadle::kernel {

void watch_parent(std::function<void()> on_orphaned);

}  // namespace treadle::kernel
