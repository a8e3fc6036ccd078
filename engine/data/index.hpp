#pragma once
// An index: a view of a D-object cut at positions (e.g. at line ends). It behaves like an
// array of plain pieces without storing them; piece i is bytes [bounds[i], bounds[i+1]).
// A slice of it is one plain object, the pieces' bytes joined (HyperLoom's semantics).
#include <vector>

#include "data.hpp"

namespace treadle {

class IndexData final : public Data {
 public:
  // `bounds` has length()+1 non-decreasing offsets into base->raw().
  IndexData(DataPtr base, std::vector<std::size_t> bounds);
  DataKind kind() const override { return DataKind::index; }
  std::size_t size() const override { return bounds_.empty() ? 0 : bounds_.back() - bounds_.front(); }
  std::size_t length() const override { return bounds_.empty() ? 0 : bounds_.size() - 1; }
  DataPtr get(std::size_t index) const override;
  DataPtr slice(std::size_t from, std::size_t to) const override;
  const DataPtr& base() const { return base_; }
  const std::vector<std::size_t>& bounds() const { return bounds_; }

 private:
  DataPtr base_;
  std::vector<std::size_t> bounds_;
};

}  // namespace treadle
