#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace treadle {

template <typename Result>
ThreadPool<Result>::ThreadPool(unsigned threads) : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

template <typename Result>
ThreadPool<Result>::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  has_job_.notify_all();
  for (auto& t : threads_) t.join();
  ::close(wake_fd_);
}

template <typename Result>
void ThreadPool<Result>::submit(std::function<Result()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  has_job_.notify_one();
}

template <typename Result>
void ThreadPool<Result>::post(Result result) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    results_.push_back(std::move(result));
  }
  std::uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof one);
}

template <typename Result>
std::vector<Result> ThreadPool<Result>::take_results() {
  std::uint64_t count;
  while (::read(wake_fd_, &count, sizeof count) == sizeof count) {
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Result> out;
  out.swap(results_);
  return out;
}

template <typename Result>
void ThreadPool<Result>::work() {
  while (true) {
    std::function<Result()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      has_job_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Result result = job();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      results_.push_back(std::move(result));
    }
    std::uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
  }
}

}  // namespace treadle
