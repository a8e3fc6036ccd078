#pragma once
// Reads the messages an executor writes on its reply pipe (python/treadle/runtime/pipe.py: u32
// header length, the JSON header, u32 blob count, then per blob a u64 length and its bytes),
// a bounded amount per call: the worker's loop heartbeats between calls, and a task's result
// of gigabytes taken in by one call kept it silent past the server's timeout, so the worker was
// declared lost while alive.
//
// A message that fits in the read buffer (a tiny task's reply) is parsed there in place. One
// that is larger (a blob of `own_storage_bytes` or more, or that much of the message read and
// still not whole) is assembled instead: its header and finished blobs are taken out of the
// read buffer, and each large blob is read from the pipe straight into storage of its exact
// size, made when its length is read, which then holds the object's bytes. So a 2 GB result
// is neither grown by doubling nor copied out of a buffer, and the read buffer stays small.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../data/data.hpp"

namespace treadle {

// Blobs at least this large, and messages this large that are not whole yet, are assembled.
constexpr std::size_t own_storage_bytes = std::size_t{1} << 20;

// One message read: its header and blobs, valid until the reader's next read() or next().
class ReplyMessage {
 public:
  std::string_view head() const { return head_; }
  std::size_t blob_count() const { return blobs_.size(); }
  // Blob `i` as a plain object: an assembled blob's own storage (no copy), else a copy.
  // Throws std::out_of_range for a blob the message does not have.
  DataPtr plain(std::size_t i) const;
  // A copy of blob `i`'s bytes (an exception, a plan's columns).
  std::string text(std::size_t i) const { return std::string(blobs_.at(i)); }

 private:
  friend class ReplyReader;
  std::string_view head_;
  std::vector<std::string_view> blobs_;
  std::vector<DataPtr> owned_;  // for an assembled message: each blob's object
  std::string owned_head_;      // for an assembled message: its header
};

class ReplyReader {
 public:
  // Storage of `size` bytes for a large blob, alive while `owner` is.
  struct Storage {
    std::shared_ptr<const void> owner;
    char* bytes = nullptr;
  };
  using Memory = std::function<Storage(std::size_t size)>;
  // Heap memory, untouched until written (the default).
  static Storage heap_storage(std::size_t size);

  ReplyReader() : memory_(heap_storage) {}
  explicit ReplyReader(Memory memory) : memory_(memory ? std::move(memory) : Memory(heap_storage)) {}

  struct ReadResult {
    std::size_t bytes = 0;  // read by this call
    bool drained = false;   // the pipe held no more (for now)
    bool closed = false;    // end of file: the executor is gone
  };
  // Reads what `fd` (non-blocking) holds: at most about `budget` bytes, and no more into the
  // read buffer than a message whose bytes must be moved to their storage before reading on
  // (call next() until false, then read again).
  ReadResult read(int fd, std::size_t budget);
  // The next whole message read so far, or false.
  bool next(ReplyMessage& out);
  // Bytes read and not yet handed out as messages (for tests).
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  bool next_in_place(ReplyMessage& out);
  bool next_assembled(ReplyMessage& out);
  void start_large_blob(std::uint64_t size);
  void read_into_large_blob(int fd, std::size_t budget, ReadResult& result);

  Memory memory_;
  std::string buffer_;        // bytes read; those before consumed_ were handed out
  std::size_t consumed_ = 0;
  // The message being assembled (assembling_): its header, blob count and finished blobs, and
  // the large blob being read into its storage (large_ set).
  bool assembling_ = false;
  std::string head_;
  std::uint32_t count_ = 0;
  std::vector<DataPtr> blobs_;
  DataPtr large_;
  char* large_bytes_ = nullptr;
  std::uint64_t large_size_ = 0, large_got_ = 0;
};

}  // namespace treadle
