#include "data.hpp"

namespace treadle {

const char* kind_name(DataKind kind) {
  switch (kind) {
    case DataKind::plain: return "plain";
    case DataKind::file: return "file";
    case DataKind::array: return "array";
    case DataKind::index: return "index";
    case DataKind::pyobj: return "pyobj";
  }
  return "?";
}

DataPtr Data::get(std::size_t) const {
  throw DataError(std::string("get() needs an array or an index, not a ") + kind_name(kind()) + " object");
}

DataPtr Data::slice(std::size_t, std::size_t) const {
  throw DataError(std::string("slice() needs an array or an index, not a ") + kind_name(kind()) + " object");
}

std::string Data::describe() const {
  return std::string(kind_name(kind())) + " (" + std::to_string(size()) + " B, length " +
         std::to_string(length()) + ")";
}

std::string_view raw_bytes(const DataPtr& data, const char* what) {
  if (!data->is_dobject())
    throw DataError(std::string(what) + " needs a plain or file object, got " + data->describe());
  return data->raw();
}

}  // namespace treadle
