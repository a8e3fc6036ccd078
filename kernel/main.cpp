// xtreadle: the treadle Jupyter kernel.
//
//   xtreadle -f CONNECTION_FILE
//
// Order matters (see ../shared notes on xeus on Debian, summarised in kernel/README.md):
// SIGINT is blocked before any thread exists, and its disposition reset to the default;
// CPython starts as /usr/bin/python3 with only argv[0]; the kernel is built on this thread,
// which holds the GIL for the interpreter's configure(), then serves the shell channel until
// shutdown ends the process (std::exit).
#include <Python.h>
#include <signal.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "xeus/xeus.hpp"
#include "xeus/xeus_context.hpp"
#include "xeus/xkernel.hpp"
#include "xeus/xkernel_configuration.hpp"
#include "xeus/xserver_shell_main.hpp"
#include "xeus-python/xeus_python_config.hpp"

#include "common/log.hpp"
#include "history_manager.hpp"
#include "iopub_channel.hpp"
#include "iopub_echo.hpp"
#include "sigint_window.hpp"
#include "treadle_interpreter.hpp"

namespace {

const char* usage = "usage: xtreadle -f CONNECTION_FILE\n  The treadle Jupyter kernel (kernelspec 'treadle').\n";

std::string connection_file(int argc, char* argv[]) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "-f") == 0 || std::strcmp(argv[i], "--connection-file") == 0) return argv[i + 1];
  return {};
}

void start_python(char* argv0) {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.parse_argv = 0;  // sys.argv is [argv0]: the shell would otherwise read -f
  // Debian's interpreter: sys.executable, prefix and site-packages follow from it.
  // (xeus-python's set_pythonhome() would derive them from this program's location.)
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, TREADLE_PYTHON_EXECUTABLE);
  if (!PyStatus_Exception(status)) status = PyConfig_SetBytesArgv(&config, 1, &argv0);
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) Py_ExitStatusException(status);
}

}  // namespace

int main(int argc, char* argv[]) {
  using namespace treadle::kernel;
  block_sigint();  // before any thread: every thread inherits the blocked mask
  // A SIGINT ignored by whoever started us (`nohup jupyter notebook &`, a shell's background
  // job) stays ignored across exec, and CPython installs its KeyboardInterrupt handler only
  // over the default: interrupts would do nothing. Blocked, the default cannot kill us.
  ::signal(SIGINT, SIG_DFL);

  std::string file = connection_file(argc, argv);
  if (file.empty()) {
    std::cerr << usage;
    return 2;
  }

  start_python(argv[0]);  // this thread holds the GIL from here until configure() releases it

  xeus::xconfiguration config = xeus::load_configuration(file);
  auto context = xeus::make_context<zmq::context_t>();
  auto channel = std::make_shared<IOPubChannel>(context->m_context, config);
  auto echo = std::make_shared<IOPubEcho>(context->m_context, config, IOPubChannel::topic_prefix);
  auto interpreter = std::make_unique<TreadleInterpreter>(channel, echo);
  TreadleInterpreter* shell = interpreter.get();
  auto history = std::make_unique<HistoryManager>([shell] { return shell->execution_count(); });

  xeus::xkernel kernel(config, xeus::get_user_name(), std::move(context), std::move(interpreter),
                       xeus::make_xserver_shell_main, std::move(history), nullptr, xeus::make_null_debugger,
                       nl::json::object(), nl::json::error_handler_t::replace);
  // xeus' server prints "Run with XEUS 2.4.1" to std::clog as it starts: jupyter console and
  // nbconvert show the kernel's stderr to the user. Nothing else here writes to std::clog
  // (our messages go to std::cerr), so it is closed; the kernel's log says it at level info.
  std::clog.rdbuf(nullptr);
  treadle::log::info("xtreadle ", TREADLE_VERSION, " (xeus ", XEUS_VERSION_MAJOR, ".", XEUS_VERSION_MINOR, ".",
                     XEUS_VERSION_PATCH, ", xeus-python ", XPYT_VERSION, ") serving ", file);
  kernel.start();  // returns only if the shell loop ends without std::exit
  return 0;
}
