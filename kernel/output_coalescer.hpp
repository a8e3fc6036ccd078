#pragma once
// stdout and stderr of the kernel's Python, coalesced into few IOPub stream messages.
//
// xeus-python sends one message per write(): 10,000 prints lose output and even the final
// `status: idle`. Here writes are buffered and sent
//   - by the shell (main) thread, through xeus, when it writes and 4 KiB are waiting, or a
//     line ended and nothing was sent for 50 ms, or the oldest text waited 50 ms; and whenever
//     flush() is called: before displays, errors and at the end of each cell, so ordering
//     with xeus' own messages holds;
//   - by a flusher thread, through the IOPubChannel, for text that waited 50 ms with no shell
//     write to carry it (a print before a long computation, prints from other threads, also
//     after the cell finished: they go to the cell that ran last).
// Two sockets feed xeus' publisher, so a message sent by the flusher (or anything else sent
// through the IOPubChannel) could be overtaken by one the shell thread sends right after: before
// it sends through xeus, the shell thread waits until the channel's last message came out on
// IOPub (IOPubEcho), so that a cell's output never comes after its `status: idle`.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace treadle::kernel {

class IOPubChannel;
class IOPubEcho;

class OutputCoalescer {
 public:
  // Sends a stream message through xeus; only ever called on the shell thread.
  using ShellPublish = std::function<void(const std::string& stream, const std::string& text)>;

  OutputCoalescer(ShellPublish shell_publish, IOPubChannel& channel, IOPubEcho& echo);
  ~OutputCoalescer();
  OutputCoalescer(const OutputCoalescer&) = delete;
  OutputCoalescer& operator=(const OutputCoalescer&) = delete;

  // Call on the shell thread: it becomes the thread that may send through xeus.
  void start();
  // Sends what is left (in the background) and ends the flusher thread. Idempotent.
  void stop();

  // Any thread.
  void write(const std::string& stream, std::string_view text);
  // On the shell thread: sends everything buffered now, in order (before displays, errors and
  // at the end of a cell). Elsewhere: sends it now through the channel, on the calling thread,
  // so what that thread publishes on the channel next comes after it.
  void flush();
  // Python's stream.flush(): sends within the coalescing delay (now, if nothing was sent for
  // that long), so code that flushes after every line does not mean one message per line.
  void flush_soon();
  // The request that background sends are attached to (the cell running or last run).
  void set_parent(nlohmann::json parent_header);

  static constexpr std::size_t max_buffered = 4096;
  static constexpr std::chrono::milliseconds max_delay{50};

 private:
  using clock = std::chrono::steady_clock;
  struct Chunk {
    std::string stream;
    std::string text;
  };
  bool on_shell_thread() const { return std::this_thread::get_id() == shell_thread_; }
  void send_on_shell_thread(std::unique_lock<std::mutex>& lock);
  void send_in_background();
  void run_flusher();

  ShellPublish shell_publish_;
  IOPubChannel& channel_;
  IOPubEcho& echo_;
  std::uint64_t channel_out_ = 0;  // the channel's messages known to have come out on IOPub
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Chunk> pending_;
  std::size_t pending_bytes_ = 0;
  clock::time_point first_pending_;
  clock::time_point last_send_;
  nlohmann::json parent_ = nlohmann::json::object();
  std::thread::id shell_thread_;
  std::thread flusher_;
  bool stopping_ = false;
};

}  // namespace treadle::kernel
