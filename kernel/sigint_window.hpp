#pragma once
// SIGINT in the kernel: blocked everywhere, open on the main thread only while a cell runs, and
// ignored while no cell runs.
//
// A SIGINT that reaches a xeus thread blocked in ZeroMQ makes cppzmq throw EINTR, uncaught, and
// the kernel aborts; jupyter_client sends SIGINT to the kernel's process group to interrupt it,
// and before every shutdown. So main() blocks SIGINT before any thread starts (threads inherit
// the mask), and a SigintWindow opens it on the main thread for the duration of a cell: Python's
// handler then turns it into KeyboardInterrupt.
//
// Threads that Python code starts during a cell (treadle's own, a user's) inherit the open mask:
// while idle, the kernel delivers a SIGINT to one of them, Python's handler notes it, and the
// next Python code on the main thread (the next cell, before its code runs) raised
// KeyboardInterrupt. So, as ipykernel does, Python's SIGINT handler is SIG_IGN between cells and
// default_int_handler during one: an interrupt while idle is dropped by the kernel.

namespace treadle::kernel {

// Blocks SIGINT in the calling thread (main() calls it first, so every thread inherits it).
void block_sigint();

// Python's SIGINT handler becomes SIG_IGN (as between cells). Main thread, GIL held.
void ignore_sigint_while_idle();

class SigintWindow {
 public:
  SigintWindow();   // drops a pending SIGINT, installs Python's handler, unblocks SIGINT here
  ~SigintWindow();  // blocks it again, forgets an interrupt no code saw, ignores SIGINT again
  SigintWindow(const SigintWindow&) = delete;
  SigintWindow& operator=(const SigintWindow&) = delete;
  void close();

 private:
  bool open_ = false;
};

}  // namespace treadle::kernel
