#include "index.hpp"

#include <algorithm>

#include "plain.hpp"

namespace treadle {

IndexData::IndexData(DataPtr base, std::vector<std::size_t> bounds)
    : base_(std::move(base)), bounds_(std::move(bounds)) {
  auto limit = raw_bytes(base_, "an index").size();
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (bounds_[i] > limit || (i > 0 && bounds_[i] < bounds_[i - 1]))
      throw DataError("index bounds are not increasing offsets into the object");
  }
}

DataPtr IndexData::get(std::size_t index) const {
  if (index >= length())
    throw DataError("get(" + std::to_string(index) + ") is out of range for an index of length " +
                    std::to_string(length()));
  return PlainData::view(base_, bounds_[index], bounds_[index + 1] - bounds_[index]);
}

DataPtr IndexData::slice(std::size_t from, std::size_t to) const {
  // As HyperLoom: a slice of an index is the D-object of those pieces (their bytes joined).
  to = std::min(to, length());
  from = std::min(from, to);
  if (bounds_.empty()) return PlainData::from_string({});
  return PlainData::view(base_, bounds_[from], bounds_[to] - bounds_[from]);
}

}  // namespace treadle
