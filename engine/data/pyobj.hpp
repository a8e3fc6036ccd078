#pragma once
// A Python object as a data object. The engine never looks inside: it holds the pickled
// bytes, and Python (an executor, or the client) unpickles them. size() is the object's
// sys.getsizeof, as HyperLoom defines it; it is not a D-object, so raw() is empty.
#include "data.hpp"

namespace treadle {

class PyObjData final : public Data {
 public:
  PyObjData(DataPtr pickled, std::size_t python_size) : pickled_(std::move(pickled)), python_size_(python_size) {}
  DataKind kind() const override { return DataKind::pyobj; }
  std::size_t size() const override { return python_size_; }
  const DataPtr& pickled() const { return pickled_; }  // a plain object

 private:
  DataPtr pickled_;
  std::size_t python_size_;
};

}  // namespace treadle
