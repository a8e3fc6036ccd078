#include "sigint_window.hpp"

#include <Python.h>
#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace treadle::kernel {

namespace {
sigset_t sigint_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  return set;
}

void drop_pending_sigint() {
  sigset_t set = sigint_set();
  timespec zero{0, 0};
  while (sigtimedwait(&set, nullptr, &zero) == SIGINT) {
  }
}
}  // namespace

void block_sigint() {
  sigset_t set = sigint_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SigintWindow::SigintWindow() {
  drop_pending_sigint();
  sigset_t set = sigint_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  open_ = true;
}

SigintWindow::~SigintWindow() { close(); }

void SigintWindow::close() {
  if (!open_) return;
  block_sigint();
  open_ = false;
}

void forget_tripped_interrupt() {
  // Runs Python's handler if it was tripped: the KeyboardInterrupt it raises is discarded.
  if (PyErr_CheckSignals() != 0) PyErr_Clear();
}

}  // namespace treadle::kernel
