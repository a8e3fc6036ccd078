#pragma once
// What the worker has to write to one executor's request pipe, written as the pipe takes it.
// The pipe is non-blocking: a task's large input (a GB object) goes down it over many loop
// turns, a bounded amount per turn, so the worker's loop keeps heartbeating while the executor
// reads it (a blocking write held the loop for seconds, and the server declared the worker
// lost). Everything is written in the order it was queued: a request queued behind a large one
// waits for it. A small request (a tiny task's) is copied into the queue and goes out in one
// write when the pipe is empty, as before; a large blob is written from where it lies (no
// copy), kept alive by its owner until it is written.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace treadle {

class RequestWriter {
 public:
  // Blobs at least this large are queued as they lie (with an owner), smaller ones copied.
  static constexpr std::size_t large_blob = 65536;

  // The copied bytes at the end of the queue, to append small bytes to (a tiny task's request
  // is built right there).
  std::string& tail();
  void append(std::string_view bytes) {
    tail().append(bytes);
    queued_ += bytes.size();
  }
  // Bytes the caller wrote into tail() itself.
  void appended_to_tail(std::size_t bytes) { queued_ += bytes; }
  // Queues `bytes` as they lie; `owner` keeps them alive until they are written.
  void append(std::string_view bytes, std::shared_ptr<const void> owner);

  struct WriteResult {
    std::size_t bytes = 0;  // written by this call
    bool done = false;      // nothing left to write
  };
  // Writes what the pipe takes now, at most about `budget` bytes (the rest waits for the next
  // call, when poll says the fd is writable). Throws when the pipe is broken (the executor
  // died: its reply pipe reports that); the queue is dropped then.
  WriteResult write(int fd, std::size_t budget);

  // Bytes queued and bytes written since this writer was made (for its pipe's whole life).
  std::uint64_t queued() const { return queued_; }
  std::uint64_t written() const { return written_; }

  // Whether anything is left to write.
  bool pending() const {
    return queue_.size() > 1 || (!queue_.empty() && queue_.front().written < queue_.front().bytes().size());
  }

 private:
  struct Piece {
    std::string copied;                 // small bytes, copied in (when `owner` is null)
    std::string_view large;             // a large blob as it lies, kept alive by `owner`
    std::shared_ptr<const void> owner;
    std::size_t written = 0;            // of this piece, by earlier calls
    std::string_view bytes() const { return owner ? large : std::string_view(copied); }
  };
  std::deque<Piece> queue_;
  std::uint64_t queued_ = 0, written_ = 0;
};

}  // namespace treadle
