#pragma once
// The workers holding an object, in 8 bytes. Almost every object is held by one or two
// workers (where it was made, and where its consumer fetched it), so up to two are kept inline
// and only copies beyond them take a heap block: a std::vector here cost 24 bytes per task plus
// a 32-byte allocation for its first worker, which at a million tasks was a fifth of the
// server's memory and fragmented its heap; a block from the second worker on cost an
// allocation per copy and a cache miss at every look at the holders (bench/README.md, "The
// scheduler simulator"). Order is insertion order (the first holder is where the result was
// made), as a vector's.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

class WorkerSet {
 public:
  // Yields WorkerIds by value: an inline worker has no address of its own to point at.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = WorkerId;
    using difference_type = std::ptrdiff_t;
    using pointer = const WorkerId*;
    using reference = WorkerId;
    const_iterator() = default;
    const_iterator(const WorkerSet* set, std::uint32_t index) : set_(set), index_(index) {}
    WorkerId operator*() const { return (*set_)[index_]; }
    const_iterator& operator++() {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++index_;
      return before;
    }
    bool operator==(const const_iterator& o) const { return set_ == o.set_ && index_ == o.index_; }
    bool operator!=(const const_iterator& o) const { return !(*this == o); }
    std::uint32_t index() const { return index_; }

   private:
    const WorkerSet* set_ = nullptr;
    std::uint32_t index_ = 0;
  };
  using iterator = const_iterator;
  using value_type = WorkerId;

  WorkerSet() = default;
  WorkerSet(std::initializer_list<WorkerId> workers) {
    for (WorkerId w : workers) push_back(w);
  }
  WorkerSet(const WorkerSet& other) {
    for (WorkerId w : other) push_back(w);
  }
  WorkerSet(WorkerSet&& other) noexcept : word_(other.word_) { other.word_ = 0; }
  WorkerSet& operator=(const WorkerSet& other) {
    if (this != &other) {
      clear();
      for (WorkerId w : other) push_back(w);
    }
    return *this;
  }
  WorkerSet& operator=(WorkerSet&& other) noexcept {
    if (this != &other) {
      clear();
      word_ = other.word_;
      other.word_ = 0;
    }
    return *this;
  }
  ~WorkerSet() { clear(); }

  std::size_t size() const {
    if (word_ == 0) return 0;
    if (is_inline()) return has_second() ? 2 : 1;
    return block()[size_slot];
  }
  bool empty() const { return word_ == 0; }
  WorkerId operator[](std::size_t i) const {
    if (!is_inline()) return block()[first_slot + i];
    return i == 0 ? first() : second();
  }
  WorkerId front() const { return (*this)[0]; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, static_cast<std::uint32_t>(size())}; }

  void push_back(WorkerId w) {
    if (word_ == 0) {
      word_ = one(w);
      return;
    }
    if (is_inline()) {
      if (!has_second() && w < second_limit) {
        word_ = two(first(), w);
        return;
      }
      const std::uint32_t count = has_second() ? 2 : 1;
      WorkerId* b = allocate(4);
      b[first_slot] = first();
      if (count == 2) b[first_slot + 1] = second();
      b[first_slot + count] = w;
      b[size_slot] = count + 1;
      word_ = reinterpret_cast<std::uintptr_t>(b);
      return;
    }
    WorkerId* b = block();
    if (b[size_slot] == b[capacity_slot]) {
      WorkerId* grown = allocate(b[capacity_slot] * 2);
      for (std::uint32_t i = 0; i < b[size_slot]; ++i) grown[first_slot + i] = b[first_slot + i];
      grown[size_slot] = b[size_slot];
      delete[] b;
      b = grown;
      word_ = reinterpret_cast<std::uintptr_t>(b);
    }
    b[first_slot + b[size_slot]++] = w;
  }

  // Removes the worker at `it`, keeping the order of the others; returns the position after.
  const_iterator erase(const_iterator it) {
    const std::uint32_t i = it.index();
    if (is_inline()) {
      word_ = !has_second() ? 0 : i == 0 ? one(second()) : one(first());
      return {this, i};
    }
    WorkerId* b = block();
    for (std::uint32_t k = i; k + 1 < b[size_slot]; ++k) b[first_slot + k] = b[first_slot + k + 1];
    const std::uint32_t left = --b[size_slot];
    if (left == 1 || (left == 2 && b[first_slot + 1] < second_limit)) {  // back inline: the block goes
      const std::uint64_t word = left == 1 ? one(b[first_slot]) : two(b[first_slot], b[first_slot + 1]);
      delete[] b;
      word_ = word;
    }
    return {this, i};
  }
  // Empties the set and gives back its block.
  void clear() {
    if (word_ != 0 && !is_inline()) delete[] block();
    word_ = 0;
  }
  void assign(std::size_t count, WorkerId w) {
    clear();
    for (std::size_t i = 0; i < count; ++i) push_back(w);
  }
  void shrink_to_fit() {}  // clear() and erase() already give memory back

  friend bool operator==(const WorkerSet& a, const WorkerSet& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  friend bool operator==(const WorkerSet& a, const std::vector<WorkerId>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < b.size(); ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  friend bool operator!=(const WorkerSet& a, const WorkerSet& b) { return !(a == b); }
  friend bool operator!=(const WorkerSet& a, const std::vector<WorkerId>& b) { return !(a == b); }

  // Heap bytes beyond the 8 inline ones (for memory estimates).
  std::size_t heap_bytes() const {
    return word_ == 0 || is_inline() ? 0 : (first_slot + block()[capacity_slot]) * sizeof(WorkerId);
  }

 private:
  // 0: empty. Low bit set: inline, the first worker in the high 32 bits and a second one, if
  // any, as its id + 1 in bits 1-31 (0: none; so an id from 2^31 - 1 on takes a block as
  // second). Otherwise: a heap block (aligned, so its low bit is clear) of [capacity, size,
  // workers...].
  static constexpr std::uint64_t inline_tag = 1;
  static constexpr WorkerId second_limit = (WorkerId{1} << 31) - 1;
  static constexpr std::uint32_t capacity_slot = 0, size_slot = 1, first_slot = 2;
  static std::uint64_t one(WorkerId w) { return (static_cast<std::uint64_t>(w) << 32) | inline_tag; }
  static std::uint64_t two(WorkerId a, WorkerId b) { return one(a) | (static_cast<std::uint64_t>(b) + 1) << 1; }
  bool is_inline() const { return (word_ & inline_tag) != 0; }
  WorkerId first() const { return static_cast<WorkerId>(word_ >> 32); }
  bool has_second() const { return (word_ & 0xfffffffe) != 0; }
  WorkerId second() const { return static_cast<WorkerId>(((word_ & 0xfffffffe) >> 1) - 1); }
  WorkerId* block() const { return reinterpret_cast<WorkerId*>(static_cast<std::uintptr_t>(word_)); }
  static WorkerId* allocate(std::uint32_t capacity) {
    WorkerId* b = new WorkerId[first_slot + capacity];
    b[capacity_slot] = capacity;
    return b;
  }

  std::uint64_t word_ = 0;
};

static_assert(sizeof(WorkerSet) == 8, "a WorkerSet is one word");
static_assert(sizeof(std::uintptr_t) <= sizeof(std::uint64_t), "a heap block's address fits the word");

}  // namespace treadle
