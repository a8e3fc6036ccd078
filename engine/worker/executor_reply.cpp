#include "executor_reply.hpp"

#include <charconv>

namespace treadle {
namespace {

// Reads the decimal integer at `at` (advanced past it), as the executor writes them; false if none.
template <typename T>
bool take_number(std::string_view text, std::size_t& at, T& value) {
  auto [end, error] = std::from_chars(text.data() + at, text.data() + text.size(), value);
  if (error != std::errc() || end == text.data() + at) return false;
  at = static_cast<std::size_t>(end - text.data());
  return true;
}

bool take_literal(std::string_view text, std::size_t& at, std::string_view literal) {
  if (text.substr(at, literal.size()) != literal) return false;
  at += literal.size();
  return true;
}

}  // namespace

bool parse_simple_done(std::string_view head, SimpleDone& out) {
  out = SimpleDone{};
  std::size_t at = 0;
  if (!take_literal(head, at, R"({"op":"done","id":)") || !take_number(head, at, out.id) ||
      !take_literal(head, at, R"(,"result":{"k":")"))
    return false;
  out.pyobj = take_literal(head, at, R"(pyobj","b":)");
  if (!out.pyobj && !take_literal(head, at, R"(plain","b":)")) return false;
  if (!take_number(head, at, out.blob)) return false;
  if (out.pyobj) {
    if (!take_literal(head, at, R"(,"size":)") || !take_number(head, at, out.size)) return false;
    if (take_literal(head, at, R"(,"len":)") &&
        (!take_number(head, at, out.length) || out.length == PyObjData::not_a_sequence))
      return false;
  }
  return take_literal(head, at, R"(},"t":[)") && take_number(head, at, out.start_us) && take_literal(head, at, ",") &&
         take_number(head, at, out.end_us) && take_literal(head, at, "]}") && at == head.size() &&
         out.start_us <= out.end_us;
}

}  // namespace treadle
