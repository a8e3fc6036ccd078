#include "array.hpp"

#include <algorithm>

namespace treadle {

ArrayData::ArrayData(std::vector<DataPtr> items) : items_(std::move(items)) {
  for (auto& item : items_) size_ += item->size();
}

DataPtr ArrayData::get(std::size_t index) const {
  if (index >= items_.size())
    throw DataError("get(" + std::to_string(index) + ") is out of range for an array of length " +
                    std::to_string(items_.size()));
  return items_[index];
}

DataPtr ArrayData::slice(std::size_t from, std::size_t to) const {
  to = std::min(to, items_.size());
  from = std::min(from, to);
  return std::make_shared<ArrayData>(std::vector<DataPtr>(items_.begin() + from, items_.begin() + to));
}

}  // namespace treadle
