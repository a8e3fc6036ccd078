#include "message_fields.hpp"

#include <cmath>

namespace treadle::fields {
namespace {

// The value as the error shows it: short, whatever a peer sent.
std::string shown(const json& value) {
  std::string s = value.dump(-1, ' ', true, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

[[noreturn]] void refuse(const char* name, const std::string& must, const json* value) {
  std::string message = std::string("field '") + name + "' must be " + must;
  message += value ? ", not " + shown(*value) : " (it is missing)";
  throw ProtocolError(message);
}

const json& field(const json& header, const char* name, const std::string& must) {
  auto it = header.find(name);
  if (it == header.end() || it->is_null()) refuse(name, must, nullptr);
  return *it;
}

}  // namespace

bool has(const json& header, const char* name) {
  auto it = header.find(name);
  return it != header.end() && !it->is_null();
}

std::uint64_t unsigned_integer(const json& header, const char* name, std::uint64_t min, std::uint64_t max) {
  std::string must = max == std::numeric_limits<std::uint64_t>::max() && min == 0
                         ? std::string("an integer >= 0")
                         : "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  const json& v = field(header, name, must);
  if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0))
    refuse(name, must, &v);
  std::uint64_t n = v.get<std::uint64_t>();
  if (n < min || n > max) refuse(name, must, &v);
  return n;
}

std::int64_t integer(const json& header, const char* name) {
  const json& v = field(header, name, "an integer");
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max()))
    refuse(name, "an integer", &v);
  return v.get<std::int64_t>();
}

double number(const json& header, const char* name, double min, double max) {
  std::string must = "a number from " + json(min).dump() + " to " + json(max).dump();
  const json& v = field(header, name, must);
  if (!v.is_number()) refuse(name, must, &v);
  double d = v.get<double>();
  if (!std::isfinite(d) || d < min || d > max) refuse(name, must, &v);
  return d;
}

std::string text(const json& header, const char* name, std::size_t max_size, bool printable) {
  std::string must = "a string of at most " + std::to_string(max_size) + " bytes" +
                     (printable ? " without control characters" : "");
  const json& v = field(header, name, must);
  if (!v.is_string()) refuse(name, must, &v);
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() > max_size) refuse(name, must, &v);
  if (printable)
    for (unsigned char c : s)
      if (c < 0x20 || c == 0x7f) refuse(name, must, &v);
  return s;
}

std::string bytes(const json& header, const char* name, std::size_t max_size) {
  std::string must = "bytes (binary or a string) of at most " + std::to_string(max_size);
  const json& v = field(header, name, must);
  if (v.is_string()) {
    if (v.get_ref<const std::string&>().size() > max_size) refuse(name, must, &v);
    return v.get<std::string>();
  }
  if (!v.is_binary() || v.get_binary().size() > max_size) refuse(name, must, &v);
  const auto& b = v.get_binary();
  return std::string(b.begin(), b.end());
}

const json& list(const json& header, const char* name, std::size_t max_count) {
  std::string must = "a list of at most " + std::to_string(max_count) + " items";
  const json& v = field(header, name, must);
  if (!v.is_array() || v.size() > max_count) refuse(name, must, &v);
  return v;
}

const json& map(const json& header, const char* name) {
  const json& v = field(header, name, "a map");
  if (!v.is_object()) refuse(name, "a map", &v);
  return v;
}

std::vector<std::uint64_t> ids(const json& header, const char* name, std::size_t max_count) {
  const json& v = list(header, name, max_count);
  std::vector<std::uint64_t> out;
  out.reserve(v.size());
  for (const json& id : v) {
    if (!id.is_number_unsigned() && !(id.is_number_integer() && id.get<std::int64_t>() >= 0))
      refuse(name, "a list of task ids (integers >= 0)", &id);
    out.push_back(id.get<std::uint64_t>());
  }
  return out;
}

std::vector<std::string> texts(const json& header, const char* name, std::size_t max_count, std::size_t max_size) {
  const json& v = list(header, name, max_count);
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const json& s : v) {
    if (!s.is_string() || s.get_ref<const std::string&>().size() > max_size)
      refuse(name, "a list of strings of at most " + std::to_string(max_size) + " bytes", &s);
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace treadle::fields
