#pragma once
// An array: a sequence of arbitrary data objects.
#include <vector>

#include "data.hpp"

namespace treadle {

class ArrayData final : public Data {
 public:
  explicit ArrayData(std::vector<DataPtr> items);
  DataKind kind() const override { return DataKind::array; }
  std::size_t size() const override { return size_; }
  std::size_t length() const override { return items_.size(); }
  DataPtr get(std::size_t index) const override;
  DataPtr slice(std::size_t from, std::size_t to) const override;
  const std::vector<DataPtr>& items() const { return items_; }

 private:
  std::vector<DataPtr> items_;
  std::size_t size_ = 0;
};

}  // namespace treadle
