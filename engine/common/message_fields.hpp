#pragma once
// Checked reads of message header fields. Every field a peer sends is read through these, so a
// wrong type, a value out of range or an oversized list is refused with a ProtocolError that
// names the field and says what it must be ("field 'cpus' must be an integer from 1 to 4096,
// not -1"), instead of being converted silently (-1 read as 4294967295) or crashing.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "protocol.hpp"

namespace treadle::fields {

// Bounds shared by the messages (docs/protocol.md).
inline constexpr std::size_t max_ids = std::size_t{1} << 24;  // ids in one wait, fetch, release...
inline constexpr std::size_t max_name = 256;                  // names, addresses, type symbols
inline constexpr std::size_t max_path = 4096;
inline constexpr std::size_t max_message = std::size_t{16} << 20;  // a task's error message
inline constexpr std::size_t max_task_info = std::size_t{1} << 20;  // what a task recorded about itself

// True when the header has the field (null counts as absent).
bool has(const json& header, const char* name);

std::uint64_t unsigned_integer(const json& header, const char* name, std::uint64_t min = 0,
                               std::uint64_t max = std::numeric_limits<std::uint64_t>::max());
std::int64_t integer(const json& header, const char* name);
double number(const json& header, const char* name, double min, double max);
// A string of at most `max_size` bytes; `printable`: no control characters (names that are logged).
std::string text(const json& header, const char* name, std::size_t max_size, bool printable = false);
// Bytes: a msgpack binary or a string.
std::string bytes(const json& header, const char* name, std::size_t max_size);
std::vector<std::uint64_t> ids(const json& header, const char* name, std::size_t max_count = max_ids);
std::vector<std::string> texts(const json& header, const char* name, std::size_t max_count, std::size_t max_size);
// A list (returned as is, for the caller to check its items) or a map.
const json& list(const json& header, const char* name, std::size_t max_count);
const json& map(const json& header, const char* name);

}  // namespace treadle::fields
