#include "output_coalescer.hpp"

#include "iopub_channel.hpp"
#include "iopub_echo.hpp"

namespace treadle::kernel {

namespace {
// How long the shell thread waits for the channel's messages to come out before it sends
// through xeus anyway (a publisher thread starved on a loaded machine; normally < 1 ms).
constexpr std::chrono::milliseconds echo_limit{2000};
}  // namespace

OutputCoalescer::OutputCoalescer(ShellPublish shell_publish, IOPubChannel& channel, IOPubEcho& echo)
    : shell_publish_(std::move(shell_publish)), channel_(channel), echo_(echo) {}

OutputCoalescer::~OutputCoalescer() { stop(); }

void OutputCoalescer::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  shell_thread_ = std::this_thread::get_id();
  if (!flusher_.joinable()) flusher_ = std::thread(&OutputCoalescer::run_flusher, this);
}

void OutputCoalescer::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

void OutputCoalescer::set_parent(nlohmann::json parent_header) {
  std::lock_guard<std::mutex> lock(mutex_);
  parent_ = std::move(parent_header);
}

void OutputCoalescer::write(const std::string& stream, std::string_view text) {
  if (text.empty()) return;
  std::unique_lock<std::mutex> lock(mutex_);
  auto now = clock::now();
  bool was_empty = pending_.empty();
  if (was_empty) first_pending_ = now;
  if (!was_empty && pending_.back().stream == stream)
    pending_.back().text.append(text);
  else
    pending_.push_back(Chunk{stream, std::string(text)});
  pending_bytes_ += text.size();
  if (on_shell_thread() && !stopping_) {
    // A finished line after a quiet spell goes at once ("hi" and print's "\n" as one message);
    // otherwise at 4 KiB, or once the oldest text waited the delay.
    bool line_done = text.find('\n') != std::string_view::npos;
    if (pending_bytes_ >= max_buffered || (line_done && now - last_send_ >= max_delay) ||
        now - first_pending_ >= max_delay) {
      send_on_shell_thread(lock);
      return;
    }
  } else if (pending_bytes_ >= max_buffered) {
    wake_.notify_one();
    return;
  }
  if (was_empty) wake_.notify_one();  // the flusher learns when this text is due
}

void OutputCoalescer::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (on_shell_thread()) {
    send_on_shell_thread(lock);
  } else if (!pending_.empty()) {
    // Sent from this thread, through the channel, before the caller's next message on it (a
    // task's line shown as a display after the lines it printed before).
    send_in_background();
  }
}

void OutputCoalescer::flush_soon() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (pending_.empty()) return;
  if (on_shell_thread() && !stopping_ && clock::now() - last_send_ >= max_delay) send_on_shell_thread(lock);
  // Otherwise the flusher sends it when due (it was told when the first byte came).
}

void OutputCoalescer::send_on_shell_thread(std::unique_lock<std::mutex>& lock) {
  // Also when nothing is pending: the caller is about to publish through xeus, behind what
  // went out through the channel (under the lock, so the flusher sends nothing meanwhile).
  std::uint64_t sent = channel_.last_sent();
  if (sent > channel_out_ && echo_.wait_for(sent, echo_limit)) channel_out_ = sent;
  if (pending_.empty()) return;
  std::vector<Chunk> chunks;
  chunks.swap(pending_);
  pending_bytes_ = 0;
  last_send_ = clock::now();
  // Sent under the lock, so a background send cannot slip in between.
  for (auto& c : chunks) shell_publish_(c.stream, c.text);
  (void)lock;
}

void OutputCoalescer::send_in_background() {
  std::vector<Chunk> chunks;
  chunks.swap(pending_);
  pending_bytes_ = 0;
  for (auto& c : chunks) {
    try {
      channel_.publish("stream", nlohmann::json{{"name", c.stream}, {"text", std::move(c.text)}}, parent_);
    } catch (const std::exception&) {
      // A full or closing socket: the text is lost, the kernel goes on.
    }
  }
  last_send_ = clock::now();
}

void OutputCoalescer::run_flusher() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (pending_.empty()) {
      if (stopping_) return;
      wake_.wait(lock);
      continue;
    }
    auto due = first_pending_ + max_delay;
    if (stopping_ || pending_bytes_ >= max_buffered || clock::now() >= due) {
      send_in_background();
    } else {
      wake_.wait_until(lock, due);
    }
  }
}

}  // namespace treadle::kernel
