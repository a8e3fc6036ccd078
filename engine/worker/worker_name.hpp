#pragma once
// A worker's name, "HOST:PID", or "HOST:PID (job ID)" for one a batch job started
// (treadle-cluster matches workers to jobs by it): how the server, status and the logs name it.
// Known before anything starts, so the worker's first log lines carry it too.
#include <unistd.h>

#include <string>

namespace treadle {

inline std::string worker_name(const std::string& job) {
  char hostname[256] = "?";
  ::gethostname(hostname, sizeof hostname - 1);
  std::string name = std::string(hostname) + ":" + std::to_string(::getpid());
  if (!job.empty()) name += " (job " + job + ")";
  return name;
}

}  // namespace treadle
