#pragma once
// Plain data: an anonymous byte sequence. The bytes live wherever they arrived (a string,
// a received ZeroMQ frame, a memory-mapped file, or a piece of another plain object);
// `owner` keeps that storage alive, so nothing is copied on the way in or out.
#include <cstdint>
#include <memory>
#include <string>

#include "data.hpp"

namespace zmq { class message_t; }

namespace treadle {

// A file kept as the storage of one object, and its identity when it was mapped: a reader
// checks that the path still names this inode before it trusts the bytes there.
struct KeptFile {
  std::string path;
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t mtime_ns = 0;
  std::uint32_t owner = 0;  // uid
};

class PlainData final : public Data {
 public:
  PlainData(std::shared_ptr<const void> owner, const char* bytes, std::size_t size)
      : owner_(std::move(owner)), bytes_(bytes), size_(size) {}

  static DataPtr from_string(std::string bytes);
  static DataPtr from_frame(zmq::message_t&& frame);
  // A view into the bytes of `base` (a D-object), sharing its storage.
  static DataPtr view(const DataPtr& base, std::size_t offset, std::size_t size);
  // Maps `path` read-only; the file may be removed afterwards (e.g. a spilled object).
  static DataPtr map_file(const std::string& path);
  // Maps `path` read-only and keeps the file while the bytes live: it is removed when the last
  // reference goes. A worker on the same host can take such an object by its path
  // (worker/same_host_handoff.hpp) instead of its bytes.
  static DataPtr map_kept_file(const std::string& path);

  DataKind kind() const override { return DataKind::plain; }
  std::size_t size() const override { return size_; }
  std::string_view raw() const override { return {bytes_, size_}; }
  // True when the bytes are in anonymous memory (spilling them to disk would free memory).
  bool in_memory() const { return in_memory_; }
  // The file that holds exactly these bytes while the object lives (map_kept_file), or null.
  const KeptFile* kept_file() const { return kept_file_; }

 private:
  std::shared_ptr<const void> owner_;
  const char* bytes_;
  std::size_t size_;
  bool in_memory_ = true;
  const KeptFile* kept_file_ = nullptr;  // lives in owner_
};

}  // namespace treadle
