// _treadle_kernel: what the kernel's C++ side offers to treadle.kernel_support (Python).
// Embedded in xtreadle only; under ipykernel the same support code runs without it.
#include <pybind11/embed.h>

#include "iopub_channel.hpp"
#include "output_coalescer.hpp"
#include "treadle_interpreter.hpp"

namespace py = pybind11;
using treadle::kernel::TreadleInterpreter;

namespace {

TreadleInterpreter& interpreter() {
  TreadleInterpreter* i = TreadleInterpreter::instance();
  if (!i) throw std::runtime_error("the treadle kernel is not running");
  return *i;
}

// UTF-8 bytes of a str (unencodable characters replaced), or the bytes themselves.
std::string text_of(const py::handle& text) {
  if (PyUnicode_Check(text.ptr())) {
    py::object encoded = py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(text.ptr(), "utf-8", "replace"));
    if (!encoded) throw py::error_already_set();
    return encoded.cast<std::string>();
  }
  return text.cast<std::string>();
}

nl::json parse(const std::string& s) { return s.empty() ? nl::json::object() : nl::json::parse(s); }

}  // namespace

PYBIND11_EMBEDDED_MODULE(_treadle_kernel, m) {
  m.doc() = "The treadle kernel's C++ side (xtreadle only)";

  m.def(
      "write", [](const std::string& stream, py::handle text) { interpreter().output().write(stream, text_of(text)); },
      py::arg("stream"), py::arg("text"), "Queues text for the stream ('stdout' or 'stderr') of the current cell.");
  m.def(
      "flush", [] { interpreter().output().flush_soon(); }, "Sends the queued output within the coalescing delay.");
  m.def(
      "flush_now", [] { interpreter().output().flush(); },
      "Sends the queued output now (on the main thread, in order with what xeus publishes next; elsewhere,\n"
      "through the channel, before what this thread publishes next).");
  m.def(
      "server_address",
      []() -> py::object {
        auto& i = interpreter();
        if (i.server_port() == 0) return py::none();
        return py::make_tuple(i.server_host(), i.server_port());
      },
      "(host, port) of the embedded treadle server, or None if it did not start.");
  m.def(
      "track_process", [](int pid) { interpreter().track_process(pid); }, py::arg("pid"),
      "The kernel kills this process group at shutdown unless untracked before.");
  m.def(
      "untrack_process", [](int pid) { interpreter().untrack_process(pid); }, py::arg("pid"));
  m.def(
      "cell_parent", [] { return interpreter().parent_header().dump(); },
      "The parent header (JSON) of the request being handled: call on the main thread during a cell.");
  m.def(
      "publish",
      [](const std::string& msg_type, const std::string& content, const std::string& parent) {
        nl::json c = parse(content), p = parse(parent);
        py::gil_scoped_release release;
        interpreter().channel().publish(msg_type, std::move(c), std::move(p));  // xeus' next stays behind it
      },
      py::arg("msg_type"), py::arg("content"), py::arg("parent"),
      "Publishes an IOPub message (content and parent header as JSON) from any thread.");
}
