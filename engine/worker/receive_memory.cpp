#include "receive_memory.hpp"

#include <sys/mman.h>

#include <chrono>
#include <string>

#include "../common/protocol.hpp"

namespace treadle {
namespace {

// Kept and taken in whole huge pages, aligned: moved pages stay huge pages.
constexpr std::size_t huge_page = std::size_t{2} << 20;

std::size_t round_up(std::size_t n) { return (n + huge_page - 1) / huge_page * huge_page; }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Fresh anonymous memory, aligned to a huge page (kept spans move page tables whole).
char* map_aligned(std::size_t size) {
  void* raw = ::mmap(nullptr, size + huge_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw ProtocolError("cannot map " + std::to_string(size) + " bytes for an object");
  auto start = reinterpret_cast<std::uintptr_t>(raw);
  auto aligned = (start + huge_page - 1) / huge_page * huge_page;
  if (aligned > start) ::munmap(raw, aligned - start);
  if (std::size_t tail = start + size + huge_page - (aligned + size)) ::munmap(reinterpret_cast<char*>(aligned + size), tail);
  return reinterpret_cast<char*>(aligned);
}

}  // namespace

std::shared_ptr<ReceiveMemory> ReceiveMemory::create(std::size_t limit_bytes, std::int64_t idle_ms, bool huge_pages) {
  return std::shared_ptr<ReceiveMemory>(new ReceiveMemory(limit_bytes / huge_page * huge_page, idle_ms, huge_pages));
}

// Advice only. 4 KiB pages are asked for explicitly: with transparent huge pages "always"
// the kernel would otherwise take 2 MiB blocks, the ones a reporting host has unbacked.
char* ReceiveMemory::map_fresh(std::size_t size) const {
  char* address = map_aligned(size);
  ::madvise(address, size, huge_pages_ ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  return address;
}

ReceiveMemory::~ReceiveMemory() {
  stopping_ = true;
  if (prefaulter_.joinable()) prefaulter_.join();
  keep_at_most(0);
}

void ReceiveMemory::prefault_in_background(std::size_t bytes) {
  bytes = std::min(bytes / huge_page * huge_page, limit_);
  if (!bytes || prefaulter_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    idle_floor_ = bytes;
  }
  prefaulter_ = std::thread([this, bytes] { prefault(bytes); });
}

// In steps, each kept as soon as it is touched: a transfer that starts meanwhile takes them.
void ReceiveMemory::prefault(std::size_t bytes) {
  constexpr std::size_t step = 16 * huge_page;
  constexpr std::size_t page = 4096;
  for (std::size_t done = 0; done < bytes && !stopping_;) {
    const std::size_t n = std::min(step, bytes - done);
    char* address = nullptr;
    try {
      address = map_fresh(n);
    } catch (const ProtocolError&) {
      return;  // no memory to spare: the transfers map theirs as they come
    }
    // A write per page: mapping or populating alone leaves the host's side of a VM to the
    // first real write (bench/README.md, workload 5).
    for (std::size_t at = 0; at < n; at += page) static_cast<volatile char*>(address)[at] = 0;
    put_back(address, n);
    done += n;
  }
}

ReceiveMemory::Buffer ReceiveMemory::take(std::size_t size) {
  const std::size_t length = round_up(size ? size : 1);
  char* address = map_fresh(length);
  {
    std::lock_guard lock(mutex_);
    std::size_t filled = 0;
    // The most recently kept pages first: the likeliest to be still backed.
    while (filled < length && !spans_.empty()) {
      Span& span = spans_.back();
      const std::size_t n = std::min(span.size, length - filled);
      if (::mremap(span.address, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, address + filled) == MAP_FAILED) break;
      span.address += n;
      span.size -= n;
      if (span.size == 0) spans_.pop_back();
      filled += n;
      kept_ -= n;
      reused_ += n;
    }
  }
  auto home = shared_from_this();
  std::shared_ptr<const void> owner(address, [home, length](const void* p) {
    home->put_back(static_cast<char*>(const_cast<void*>(p)), length);
  });
  return {std::move(owner), address};
}

void ReceiveMemory::put_back(char* address, std::size_t size) {
  std::size_t keep = 0;
  {
    std::lock_guard lock(mutex_);
    keep = std::min(size, limit_ - std::min(limit_, kept_));
    if (keep) {
      spans_.push_back({address, keep, now_ms()});
      kept_ += keep;
    }
  }
  if (keep < size) ::munmap(address + keep, size - keep);
}

void ReceiveMemory::keep_at_most(std::size_t bytes) {
  std::vector<Span> gone;
  {
    std::lock_guard lock(mutex_);
    while (kept_ > bytes && !spans_.empty()) {  // the oldest first
      Span& span = spans_.front();
      const std::size_t n = std::min(span.size, round_up(kept_ - bytes));
      gone.push_back({span.address, n, 0});
      span.address += n;
      span.size -= n;
      kept_ -= n;
      if (span.size == 0) spans_.erase(spans_.begin());
    }
  }
  for (const Span& s : gone) ::munmap(s.address, s.size);
}

void ReceiveMemory::give_back_idle() {
  std::vector<Span> gone;
  {
    std::lock_guard lock(mutex_);
    const std::int64_t before = now_ms() - idle_ms_;
    while (!spans_.empty() && spans_.front().kept_ms <= before && kept_ > idle_floor_) {
      Span& span = spans_.front();
      const std::size_t n = std::min(span.size, kept_ - idle_floor_);  // both whole huge pages
      gone.push_back({span.address, n, 0});
      span.address += n;
      span.size -= n;
      kept_ -= n;
      if (span.size == 0) spans_.erase(spans_.begin());
    }
  }
  for (const Span& s : gone) ::munmap(s.address, s.size);
}

std::size_t ReceiveMemory::kept_bytes() const {
  std::lock_guard lock(mutex_);
  return kept_;
}

std::uint64_t ReceiveMemory::reused_bytes() const {
  std::lock_guard lock(mutex_);
  return reused_;
}

}  // namespace treadle
