#pragma once
// The one reply a tiny Python task sends, read without a JSON parser. The executor writes the
// replies of the common results (one PyObj, or bytes) in a fixed shape
// (python/treadle/runtime/pipe.py, done_header):
//   {"op":"done","id":I,"result":{"k":"pyobj","b":B,"size":S},"t":[T0,T1]}
//   {"op":"done","id":I,"result":{"k":"pyobj","b":B,"size":S,"len":L},"t":[T0,T1]}   (a tuple or list)
//   {"op":"done","id":I,"result":{"k":"plain","b":B},"t":[T0,T1]}
// Building a JSON tree of it costs the worker more than such a task; any other shape goes
// through the JSON parser (executor_pool.cpp). tests/unit/test_executor_reply.cpp feeds this
// parser what the real executor writes, so the two shapes cannot drift apart unnoticed.
#include <cstdint>
#include <string_view>

#include "../common/ids.hpp"
#include "../data/pyobj.hpp"

namespace treadle {

struct SimpleDone {
  TaskId id = 0;
  bool pyobj = false;      // else plain (bytes)
  std::size_t blob = 0, size = 0;
  std::uint64_t length = PyObjData::not_a_sequence;  // a tuple's or list's length
  std::int64_t start_us = 0, end_us = 0;
};

// False for any other shape (the caller then parses the header as JSON).
bool parse_simple_done(std::string_view head, SimpleDone& out);

}  // namespace treadle
