#include "treadle_interpreter.hpp"

#include <Python.h>
#include <signal.h>

#include <cstdlib>
#include <chrono>
#include <iostream>
#include <thread>

#include "iopub_channel.hpp"
#include "iopub_echo.hpp"
#include "output_coalescer.hpp"
#include "parent_watch.hpp"
#include "common/log.hpp"
#include "server/server.hpp"
#include "sigint_window.hpp"

namespace py = pybind11;

namespace treadle::kernel {

namespace {
TreadleInterpreter* the_instance = nullptr;

// An error IPython showed without the traceback xeus-python looks for (a UsageError from a magic
// is one stderr line), for which xeus-python answers "ok": the reply ipykernel gives, else null.
nl::json unreported_error_reply(const py::object& shell) {
  try {
    if (shell.attr("last_execution_succeeded").cast<bool>()) return nullptr;
    py::object result = shell.attr("last_execution_result");
    if (result.is_none()) return nullptr;
    py::object error = result.attr("error_before_exec");
    if (error.is_none()) error = result.attr("error_in_exec");
    if (error.is_none()) return nullptr;
    return nl::json{{"status", "error"},
                    {"ename", py::str(py::type::handle_of(error).attr("__name__")).cast<std::string>()},
                    {"evalue", py::str(error).cast<std::string>()},
                    {"traceback", nl::json::array()},
                    {"user_expressions", nl::json::object()}};
  } catch (py::error_already_set&) {
    return nullptr;  // an exception whose str() fails: keep xeus-python's reply
  }
}

std::string runtime_python_version() {
  std::string v = Py_GetVersion();  // "3.11.2 (main, ...) [GCC ...]"
  return v.substr(0, v.find(' '));
}
}  // namespace

TreadleInterpreter* TreadleInterpreter::instance() { return the_instance; }

TreadleInterpreter::TreadleInterpreter(std::shared_ptr<IOPubChannel> channel, std::shared_ptr<IOPubEcho> echo)
    // Our own stdout/stderr (coalescing) replace xeus-python's one-message-per-write streams.
    : xpyt::interpreter(/*redirect_output_enabled=*/false, /*redirect_display_enabled=*/true),
      channel_(std::move(channel)),
      echo_(std::move(echo)) {
  output_ = std::make_unique<OutputCoalescer>(
      [this](const std::string& stream, const std::string& text) { publish_stream(stream, text); }, *channel_, *echo_);
  the_instance = this;
}

TreadleInterpreter::~TreadleInterpreter() {
  if (the_instance == this) the_instance = nullptr;
}

void TreadleInterpreter::configure_impl() {
  // The base builds the IPython shell, then releases the GIL for good: every *_impl takes it.
  xpyt::interpreter::configure_impl();
  output_->start();  // this is the shell thread (make_xserver_shell_main runs the shell on main)
  start_server();
  watch_parent([this] { exit_orphaned(); });
  py::gil_scoped_acquire acquire;
  install_python_support();
  ignore_sigint_while_idle();  // as between cells: a SIGINT before the first cell is dropped
}

void TreadleInterpreter::exit_orphaned() {
  // Nobody will send shutdown_request: stop what we started without the GIL (the main thread
  // may hold it for long), then end. Workers would also go by PR_SET_PDEATHSIG.
  std::cerr << "xtreadle: the process that started this kernel is gone; exiting" << std::endl;
  kill_tracked_processes(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill_tracked_processes(SIGKILL);
  if (server_) server_->stop();
  std::_Exit(0);
}

void TreadleInterpreter::start_server() {
  // The server logs to the kernel's stderr (the Jupyter server's log, which jupyter console
  // and nbconvert show to the user): warnings only, as plain lines ("treadle: worker vm:12
  // lost (no heartbeat)"), unless TREADLE_LOG asks for more, which a log file's format serves.
  if (!std::getenv("TREADLE_LOG")) {
    log::set_level(log::Level::warn);
    log::set_plain(true);
  }
  log::set_role("xtreadle server");
  ServerOptions options;
  // Loopback unless $TREADLE_KERNEL_HOST names another address (0.0.0.0: all), which workers on
  // other hosts (%treadle workers --hosts) need.
  const char* host = std::getenv("TREADLE_KERNEL_HOST");
  options.host = host && *host ? host : "127.0.0.1";
  options.port = 0;  // any free port; the secret comes from $TREADLE_SECRET or the user's file
  try {
    server_ = std::make_unique<treadle::Server>(options);
    server_->start();  // runs its loop on threads of its own (SIGINT blocked there, as here)
  } catch (const std::exception& e) {
    std::cerr << "xtreadle: the embedded treadle server did not start: " << e.what() << std::endl;
    server_.reset();
  }
}

void TreadleInterpreter::install_python_support() {
  try {
    py::module_ support;
    try {
      support = py::module_::import("treadle.kernel_support");
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_ImportError)) throw;
      // Started without the kernelspec's PYTHONPATH: use the installed package.
      py::module_::import("sys").attr("path").attr("insert")(0, TREADLE_KERNEL_PYTHONPATH);
      support = py::module_::import("treadle.kernel_support");
    }
    support.attr("install_in_xtreadle")(m_ipython_shell);
  } catch (const std::exception& e) {
    // The kernel still works as a Python kernel; say why treadle is missing.
    std::cerr << "xtreadle: treadle's kernel support did not load: " << e.what() << std::endl;
  }
}

nl::json TreadleInterpreter::execute_request_impl(int execution_counter, const std::string& code, bool silent,
                                                  bool store_history, nl::json user_expressions, bool allow_stdin) {
  execution_count_ = execution_counter;
  output_->set_parent(parent_header());
  nl::json reply;
  try {
    SigintWindow interruptible;
    reply = xpyt::interpreter::execute_request_impl(execution_counter, code, silent, store_history,
                                                    std::move(user_expressions), allow_stdin);
  } catch (const std::exception& e) {
    // xeus would log it and send no reply at all, leaving the client waiting.
    output_->flush();
    if (!silent) publish_execution_error("KernelError", e.what(), {});
    reply = nl::json{{"status", "error"}, {"ename", "KernelError"}, {"evalue", e.what()},
                     {"traceback", nl::json::array()}};
  }
  {
    py::gil_scoped_acquire acquire;
    if (reply.value("status", "") == "ok") {
      nl::json error = unreported_error_reply(m_ipython_shell);
      if (!error.is_null()) {
        error["payload"] = reply.value("payload", nl::json::array());
        reply = std::move(error);
      }
    }
  }
  output_->flush();
  return reply;
}

nl::json TreadleInterpreter::kernel_info_request_impl() {
  nl::json info = xpyt::interpreter::kernel_info_request_impl();
  info["implementation"] = "xtreadle";
  info["implementation_version"] = TREADLE_VERSION;
  auto& language = info["language_info"];
  language["version"] = runtime_python_version();  // the headers' version otherwise
  language["codemirror_mode"] = {{"name", "ipython"}, {"version", 3}};
  language["pygments_lexer"] = "ipython3";
  language["nbconvert_exporter"] = "python";
  info["banner"] = "treadle " TREADLE_VERSION ": a Python kernel for distributed task graphs (IPython " +
                   std::string("semantics, xeus-python ") + XPYT_VERSION + ")\nPython " + runtime_python_version() +
                   "\nTry %treadle? for the magics, @treadle.task to run functions on workers.";
  info["debugger"] = false;
  info["help_links"] = nl::json::array();
  return info;
}

void TreadleInterpreter::shutdown_request_impl() {
  // On the control thread; the process ends with std::exit right after, so everything this
  // kernel started stops here.
  if (shut_down_.exchange(true)) return;
  {
    py::gil_scoped_acquire acquire;
    try {
      py::module_::import("treadle.kernel_support").attr("shutdown")();
    } catch (const std::exception& e) {
      std::cerr << "xtreadle: shutting down treadle: " << e.what() << std::endl;
    }
  }
  kill_tracked_processes(SIGKILL);
  output_->stop();
  if (server_) server_->stop();
  xpyt::interpreter::shutdown_request_impl();
}

std::string TreadleInterpreter::server_host() const { return server_ ? server_->host() : std::string(); }
int TreadleInterpreter::server_port() const { return server_ && server_->running() ? server_->port() : 0; }

void TreadleInterpreter::track_process(int pid) {
  std::lock_guard<std::mutex> lock(processes_mutex_);
  processes_.push_back(pid);
}

void TreadleInterpreter::untrack_process(int pid) {
  std::lock_guard<std::mutex> lock(processes_mutex_);
  processes_.erase(std::remove(processes_.begin(), processes_.end(), pid), processes_.end());
}

void TreadleInterpreter::kill_tracked_processes(int signal) {
  // Processes the Python side started and did not see end (it untracks those it stopped):
  // each leads its own process group, which goes entirely (its executors, in groups of their own
  // with the programs their tasks started, end those groups when their worker dies).
  std::lock_guard<std::mutex> lock(processes_mutex_);
  for (int pid : processes_) ::killpg(pid, signal);
  if (signal == SIGKILL) processes_.clear();
}

}  // namespace treadle::kernel
