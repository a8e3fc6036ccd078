#pragma once
// Memory for objects received in pieces, kept touched from one object to the next; large
// results of Python tasks are read into it too (reply_reader.hpp).
//
// On a VM whose host takes freed guest pages back, the first write to fresh memory costs far
// more than the copy into it (~13 µs per 4 KiB page on the bench machine: 0.3 s per 100 MB,
// against 10 ms for the copy; bench/README.md, workload 5). So when a received object is freed
// its pages stay mapped here, up to a limit, and the next object's buffer is made of them:
// `mremap` moves them into it, without a copy or a fault, and only the rest is fresh memory:
// with huge pages advised (one fault per 2 MiB), except where the host takes freed memory
// back (page_reporting.hpp: fresh huge pages are then mostly unbacked, 4 KiB ones backed). What is kept goes back to the system when the worker's objects
// need the memory (`keep_at_most`) and when nothing used it for a while (`give_back_idle`).
// A worker may also fill the pool as it starts (`prefault_in_background`): a thread touches
// that much fresh memory, so even its first object lands in warm pages; that part is kept when
// idle (only memory pressure gives it back).
// Buffers may be freed on any thread (a task's or ZeroMQ's), hence the lock.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace treadle {

class ReceiveMemory : public std::enable_shared_from_this<ReceiveMemory> {
 public:
  // Keeps at most `limit_bytes` of freed buffers; gives back what nobody took for `idle_ms`.
  // Fresh memory comes in transparent huge pages if `huge_pages` (advice only), else in 4 KiB
  // pages; kept memory is moved whole either way.
  static std::shared_ptr<ReceiveMemory> create(std::size_t limit_bytes, std::int64_t idle_ms, bool huge_pages = true);
  ~ReceiveMemory();
  ReceiveMemory(const ReceiveMemory&) = delete;
  ReceiveMemory& operator=(const ReceiveMemory&) = delete;

  struct Buffer {
    std::shared_ptr<const void> owner;  // the pages come back here when it goes
    char* bytes = nullptr;
  };
  // A buffer of at least `size` bytes: kept pages first, fresh memory for the rest.
  Buffer take(std::size_t size);

  // Touches `bytes` of fresh memory (at most the limit) on a thread of its own and keeps it, as
  // if objects of that size had been received and freed; `give_back_idle` keeps that much.
  void prefault_in_background(std::size_t bytes);

  // Gives back to the system all but `bytes` of what is kept (memory pressure).
  void keep_at_most(std::size_t bytes);
  // Gives back what was kept longer than the idle time without being taken.
  void give_back_idle();

  std::size_t limit_bytes() const { return limit_; }
  std::size_t kept_bytes() const;
  std::uint64_t reused_bytes() const;  // so far: bytes of buffers made of kept pages

 private:
  ReceiveMemory(std::size_t limit_bytes, std::int64_t idle_ms, bool huge_pages)
      : limit_(limit_bytes), idle_ms_(idle_ms), huge_pages_(huge_pages) {}
  char* map_fresh(std::size_t size) const;
  void put_back(char* address, std::size_t size);
  void prefault(std::size_t bytes);

  struct Span {
    char* address;
    std::size_t size;
    std::int64_t kept_ms;  // when it came back
  };
  const std::size_t limit_;
  const std::int64_t idle_ms_;
  const bool huge_pages_;
  std::size_t idle_floor_ = 0;  // kept even when idle: what was prefaulted
  std::atomic<bool> stopping_{false};
  std::thread prefaulter_;
  mutable std::mutex mutex_;
  std::vector<Span> spans_;  // oldest first
  std::size_t kept_ = 0;
  std::uint64_t reused_ = 0;
};

}  // namespace treadle
