#pragma once
// Threads for tasks that must not block the worker's event loop (programs, sleeps, large
// merges). Finished jobs queue up and wake the loop through an eventfd it polls.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace treadle {

template <typename Result>
class ThreadPool {
 public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  void submit(std::function<Result()> job);
  // From inside a job: queues a result before the job's own (news of its progress).
  void post(Result result);
  int wake_fd() const { return wake_fd_; }  // readable when results are waiting
  std::vector<Result> take_results();

 private:
  void work();
  std::mutex mutex_;
  std::condition_variable has_job_;
  std::deque<std::function<Result()>> jobs_;
  std::vector<Result> results_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
  int wake_fd_ = -1;
};

}  // namespace treadle

#include "thread_pool_impl.hpp"
