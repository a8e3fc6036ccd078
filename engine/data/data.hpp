#pragma once
// Data objects: immutable values that tasks consume and produce (HyperLoom's model).
//
// D-objects (plain, file) expose their content as one contiguous byte span (raw()).
// Arrays and indexes have inner pieces (length() > 0) reachable with get() and slice().
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace treadle {

enum class DataKind : unsigned char { plain, file, array, index, pyobj };
const char* kind_name(DataKind kind);

class Data;
using DataPtr = std::shared_ptr<const Data>;

// Thrown for operations a kind does not support; the message is meant for the user.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Data {
 public:
  virtual ~Data() = default;
  virtual DataKind kind() const = 0;
  // Bytes needed to store the object (for arrays, the sum of the elements).
  virtual std::size_t size() const = 0;
  // Number of inner pieces; 0 for objects without inner structure.
  virtual std::size_t length() const { return 0; }
  // True if the object is made of pieces that dslice/dget can cut (even none: an empty array).
  virtual bool has_pieces() const { return kind() == DataKind::array || kind() == DataKind::index; }
  bool is_dobject() const { return kind() == DataKind::plain || kind() == DataKind::file; }
  // The content of a D-object; empty for the others.
  virtual std::string_view raw() const { return {}; }
  virtual DataPtr get(std::size_t index) const;
  virtual DataPtr slice(std::size_t from, std::size_t to) const;
  std::string describe() const;  // "plain (12 B)", for error messages
};

// Throws DataError naming `what` unless `data` is a D-object.
std::string_view raw_bytes(const DataPtr& data, const char* what);

}  // namespace treadle
