#pragma once
// SIGINT in the kernel: blocked everywhere, open on the main thread only while a cell runs.
//
// A SIGINT that reaches a xeus thread blocked in ZeroMQ makes cppzmq throw EINTR, uncaught, and
// the kernel aborts; jupyter_client sends SIGINT to the kernel's process group to interrupt it,
// and before every shutdown. So main() blocks SIGINT before any thread starts (threads inherit
// the mask), and a SigintWindow opens it on the main thread for the duration of a cell: Python's
// handler then turns it into KeyboardInterrupt. Interrupts that arrived while idle are dropped.

namespace treadle::kernel {

// Blocks SIGINT in the calling thread (main() calls it first, so every thread inherits it).
void block_sigint();

class SigintWindow {
 public:
  SigintWindow();   // drops a pending SIGINT, then unblocks SIGINT on this thread
  ~SigintWindow();  // blocks it again (close() may do it earlier)
  SigintWindow(const SigintWindow&) = delete;
  SigintWindow& operator=(const SigintWindow&) = delete;
  void close();

 private:
  bool open_ = false;
};

// Forgets a SIGINT that Python's handler noted but no Python code has seen yet (one that came
// in after the cell's code ended). Call with the GIL held.
void forget_tripped_interrupt();

}  // namespace treadle::kernel
