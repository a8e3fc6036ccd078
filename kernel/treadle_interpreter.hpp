#pragma once
// The treadle kernel's interpreter: xeus-python's (an IPython shell: completion, inspection,
// rich display, magics) plus
//   - the engine's server, embedded and running on threads of its own for the kernel's life,
//     which treadle.default_client() connects to (local workers start on first use);
//   - the %treadle magics, loaded at start;
//   - interrupts: SIGINT is open on the main thread only while a cell runs, ignored between cells;
//   - coalesced stdout/stderr (OutputCoalescer), and the fixes of xeus-python 0.14's quirks
//     (error names, language version, a UsageError answered "ok").
// The Python side of all this is python/treadle/kernel_support.py.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xeus-python/xinterpreter.hpp"

namespace treadle {
class Server;
}

namespace treadle::kernel {

class IOPubChannel;
class IOPubEcho;
class OutputCoalescer;

class TreadleInterpreter : public xpyt::interpreter {
 public:
  TreadleInterpreter(std::shared_ptr<IOPubChannel> channel, std::shared_ptr<IOPubEcho> echo);
  ~TreadleInterpreter() override;

  // The execution count of the cell running or last run (for the history).
  int execution_count() const { return execution_count_.load(); }

  // For the _treadle_kernel Python module.
  OutputCoalescer& output() { return *output_; }
  IOPubChannel& channel() { return *channel_; }
  std::string server_host() const;
  int server_port() const;
  void track_process(int pid);
  void untrack_process(int pid);

  // The one instance (the module's functions reach it through this).
  static TreadleInterpreter* instance();

 protected:
  void configure_impl() override;
  nl::json execute_request_impl(int execution_counter, const std::string& code, bool silent, bool store_history,
                                nl::json user_expressions, bool allow_stdin) override;
  nl::json kernel_info_request_impl() override;
  void shutdown_request_impl() override;

 private:
  void start_server();
  void install_python_support();
  void kill_tracked_processes(int signal);
  [[noreturn]] void exit_orphaned();

  std::shared_ptr<IOPubChannel> channel_;
  std::shared_ptr<IOPubEcho> echo_;
  std::unique_ptr<OutputCoalescer> output_;
  std::unique_ptr<treadle::Server> server_;
  std::atomic<int> execution_count_{0};
  std::atomic<bool> shut_down_{false};
  mutable std::mutex processes_mutex_;
  std::vector<int> processes_;
};

}  // namespace treadle::kernel
