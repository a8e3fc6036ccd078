#pragma once
// A Python object as a data object. The engine never looks inside: it holds the pickled
// bytes, and Python (an executor, or the client) unpickles them. size() is the object's
// sys.getsizeof, as HyperLoom defines it; it is not a D-object, so raw() is empty.
// An object that is a Python sequence (a list, a tuple...) has its len() as length(), told
// by whoever pickled it, so dslice/dget can cut it (in an executor: the engine cannot).
#include <cstdint>

#include "data.hpp"

namespace treadle {

class PyObjData final : public Data {
 public:
  static constexpr std::uint64_t not_a_sequence = ~std::uint64_t{0};

  PyObjData(DataPtr pickled, std::size_t python_size, std::uint64_t sequence_length = not_a_sequence)
      : pickled_(std::move(pickled)), python_size_(python_size), sequence_length_(sequence_length) {}
  DataKind kind() const override { return DataKind::pyobj; }
  std::size_t size() const override { return python_size_; }
  std::size_t length() const override { return has_pieces() ? sequence_length_ : 0; }
  bool has_pieces() const override { return sequence_length_ != not_a_sequence; }
  // len() of the object, or not_a_sequence: how it travels (wire, executor pipes).
  std::uint64_t sequence_length() const { return sequence_length_; }
  const DataPtr& pickled() const { return pickled_; }  // a plain object

 private:
  DataPtr pickled_;
  std::size_t python_size_;
  std::uint64_t sequence_length_;
};

}  // namespace treadle
