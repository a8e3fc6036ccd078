#pragma once
// A worker process: runs the tasks the server assigns, holds their results, and serves
// them to other workers directly (worker-to-worker transfers never pass the server).
#include <cstdint>
#include <memory>
#include <string>

#include "task_api.hpp"

namespace treadle {

struct WorkerOptions {
  std::string server_host = "127.0.0.1";
  int server_port = 0;
  unsigned cpus = 1;
  std::string work_dir;         // empty: a fresh directory under $TMPDIR, removed at exit
  std::string listen_host;      // empty: the local address that routes to the server
  std::string secret;           // empty: load_secret()
  std::uint64_t memory_limit = 0;  // bytes of objects in RAM before spilling; 0: half the RAM
  int server_timeout_ms = 10000;   // exit when the server has been silent this long
  std::string python = "/usr/bin/python3";  // runs the Python executors
  int executor_start_ms = 10000;   // the longest it waits for its executors before joining
  std::string job;              // the batch job it runs in, shown in its name (treadle-cluster status)
  bool same_host_handoff = true;  // take large objects of workers on this host by their files
  // Pages of freed received objects kept for the next ones (receive_memory.hpp): at most this
  // many bytes (-1: a quarter of the memory limit, at most 1 GiB; 0: none), given back after
  // being idle this long; this many bytes of it are touched as the worker starts (so that its
  // first object lands in warm memory) and kept even when idle.
  std::int64_t receive_pool_bytes = -1;
  std::int64_t receive_pool_idle_ms = 60000;
  std::int64_t receive_pool_prefault_bytes = 0;
  // Fresh receive memory in transparent huge pages: 1 yes, 0 no (4 KiB pages), -1 unless the
  // host takes freed memory back (page_reporting.hpp).
  int receive_huge_pages = -1;
};

class Worker {
 public:
  Worker(WorkerOptions options, TaskRegistry registry);
  ~Worker();
  // Connects and serves until the server goes away or stop() is called; returns an exit code.
  int run();
  void stop();  // async-signal-safe
  // run() ended because the server no longer knew this worker (it was declared lost, or the
  // server restarted): it may join again as a new worker.
  bool forgotten() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace treadle
