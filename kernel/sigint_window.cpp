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

// Forgets a SIGINT that Python's handler noted but no Python code has seen yet (one that came
// in after the cell's code ended): runs the handler, discards the KeyboardInterrupt it raises.
void forget_tripped_interrupt() {
  if (PyErr_CheckSignals() != 0) PyErr_Clear();
}

// signal.signal(SIGINT, <attribute `handler` of the signal module>). signal.signal first runs
// the handlers of signals already noted, which may raise KeyboardInterrupt and leave the handler
// as it was: forget that interrupt and try again.
void set_python_sigint_handler(const char* handler) {
  PyObject* module = PyImport_ImportModule("signal");
  if (!module) {
    PyErr_Clear();
    return;
  }
  PyObject* func = PyObject_GetAttrString(module, handler);
  for (int attempt = 0; func && attempt < 5; ++attempt) {
    PyObject* previous = PyObject_CallMethod(module, "signal", "iO", SIGINT, func);
    if (previous) {
      Py_DECREF(previous);
      break;
    }
    PyErr_Clear();
  }
  if (!func) PyErr_Clear();
  Py_XDECREF(func);
  Py_DECREF(module);
}

class GilHeld {
 public:
  GilHeld() : state_(PyGILState_Ensure()) {}
  ~GilHeld() { PyGILState_Release(state_); }

 private:
  PyGILState_STATE state_;
};
}  // namespace

void block_sigint() {
  sigset_t set = sigint_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void ignore_sigint_while_idle() {
  forget_tripped_interrupt();  // with the handler still Python's: no "ignored due to race" noise
  set_python_sigint_handler("SIG_IGN");
}

SigintWindow::SigintWindow() {
  drop_pending_sigint();
  {
    GilHeld gil;
    set_python_sigint_handler("default_int_handler");
  }
  sigset_t set = sigint_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  open_ = true;
}

SigintWindow::~SigintWindow() { close(); }

void SigintWindow::close() {
  if (!open_) return;
  block_sigint();
  open_ = false;
  GilHeld gil;
  ignore_sigint_while_idle();
}

}  // namespace treadle::kernel
