// _treadle_parent_death: an executor ends its process group the moment its worker dies.
//
// A worker killed outright (SIGKILL) cannot end its executors' groups, so each executor asks the
// kernel for a parent-death signal. A handler written in Python runs only between bytecodes, on
// the main thread: a task inside one long call into C code that holds the interpreter (a
// `sum(range(10**11))`, a library's number crunching) kept its executor, its programs and a cpu
// until the call returned. This handler is C and acts at once (kill() is async-signal-safe).
// Plain CPython API, no pybind11: the executor imports it at start and should start fast.
#include <Python.h>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace {

void end_group(int) {
  if (getpgrp() == getpid()) kill(0, SIGKILL);  // the programs its tasks started, and itself
  kill(getpid(), SIGKILL);
}

PyObject* end_group_when_parent_dies(PyObject*, PyObject* args) {
  int signal_number = 0;
  long parent = 0;
  if (!PyArg_ParseTuple(args, "il", &signal_number, &parent)) return nullptr;
  struct sigaction action = {};
  action.sa_handler = end_group;
  sigemptyset(&action.sa_mask);
  if (sigaction(signal_number, &action, nullptr) != 0) return PyErr_SetFromErrno(PyExc_OSError);
  if (prctl(PR_SET_PDEATHSIG, signal_number, 0, 0, 0) != 0) return PyErr_SetFromErrno(PyExc_OSError);
  if (parent > 0 && getppid() != parent) end_group(signal_number);  // it died before we asked
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"end_group_when_parent_dies", end_group_when_parent_dies, METH_VARARGS,
     "end_group_when_parent_dies(signal, parent_pid): when this process's parent dies, the kernel sends it "
     "`signal`, whose handler SIGKILLs this process's group (if it leads one) and the process itself, at once, "
     "whatever the interpreter is doing. Does it now if the parent is not `parent_pid` any more (0: no check)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_treadle_parent_death", "An executor ends with its worker.", -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__treadle_parent_death() { return PyModule_Create(&module); }
