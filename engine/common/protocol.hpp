#pragma once
// Messages between server, workers and clients (see docs/protocol.md).
//
// On the wire a message is one ZeroMQ multipart message: [routing id,] header, bulk frames...
// The header is a msgpack map with an "op" field; bulk data (object contents, plan columns)
// travels in the following frames untouched, so large payloads are never re-encoded or copied.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

namespace treadle {

using json = nlohmann::json;

struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Message {
  json header;
  std::vector<zmq::message_t> frames;

  Message() = default;
  explicit Message(json h) : header(std::move(h)) {}
  std::string op() const;
};

// Ops. Short strings keep headers small and readable in logs.
namespace op {
// anyone -> server
inline constexpr const char* hello = "hello";          // {role, ...}
inline constexpr const char* heartbeat = "hb";
// client -> server
inline constexpr const char* submit = "submit";        // plan columns in frames (see plan_wire.hpp)
inline constexpr const char* wait = "wait";            // {req, ids}
inline constexpr const char* fetch = "fetch";          // {req, ids}
inline constexpr const char* release = "release";      // {ids}
inline constexpr const char* status = "status";        // {req}
inline constexpr const char* watch = "watch";          // {ids}: tell me when each ends (op "settled")
inline constexpr const char* trace = "trace";          // {req, limit?, path?}: recent trace events
inline constexpr const char* states = "states";        // {req, ids}: the scheduler state of each task
inline constexpr const char* retire = "retire";        // {req, workers}: they leave after handing off their objects (server -> worker {}: stop now)
inline constexpr const char* retiring = "retiring";    // {req, workers}: the names of those now retiring
inline constexpr const char* story = "story";          // {req, ids}: each task's recent transitions, and why it waits
// (also "cancel" {req, ids}: release those futures that have not ended; answered by "cancelled")
inline constexpr const char* bye = "bye";
// server -> client
inline constexpr const char* welcome = "welcome";      // {id, server: this run's name, ...}
inline constexpr const char* submitted = "submitted";  // {req, base}
inline constexpr const char* done = "done";            // {req}
inline constexpr const char* failed = "failed";        // {req, task, label, type, message}
inline constexpr const char* data = "data";            // {req, objects:[...]} + frames
inline constexpr const char* error = "error";          // {req?, message}
inline constexpr const char* status_reply = "status_reply";
inline constexpr const char* cancelled = "cancelled";  // {req, cancelled, ended}: what a cancel did
inline constexpr const char* trace_reply = "trace_reply";  // {req, events, workers, recorded, file}
inline constexpr const char* states_reply = "states_reply";  // {req, names, codes}: codes in the order of ids
inline constexpr const char* story_reply = "story_reply";  // {req, stories}: in the order of ids
inline constexpr const char* settled = "settled";      // {finished:[ids], failed:[ids]} (unasked, after watch)
// server -> worker
inline constexpr const char* compute = "compute";      // {tasks:[...]}
inline constexpr const char* cancel = "cancel";        // {ids}
inline constexpr const char* free = "free";            // {ids}
inline constexpr const char* upload = "upload";        // {req, ids}: send these objects to the server
inline constexpr const char* replicate = "replicate";  // {peer, ids}: fetch these objects from that peer and keep them
inline constexpr const char* alias = "alias";          // {pairs:[[from, to]]}: hold object `from` also as `to`
inline constexpr const char* steal = "steal";          // {ids}: give these queued tasks back if they have not started
// worker -> server
inline constexpr const char* finished = "finished";    // {ids, sizes, lengths, has}
inline constexpr const char* task_failed = "task_failed";  // {id, message}
inline constexpr const char* task_info = "task_info";  // {id, info}: what a task recorded about itself (JSON text)
inline constexpr const char* redirect = "redirect";    // {id, types, labels} + plan columns
inline constexpr const char* output = "output";        // {items:[{id, stream, text}]} (also server -> client)
inline constexpr const char* seceded = "seceded";      // {id}: the task waits on tasks it submitted; its cpus are free
inline constexpr const char* rejoined = "rejoined";    // {id}: its wait ended; it holds its cpus again
inline constexpr const char* gave_back = "gave_back";  // {ids, kept}: the answer to steal: removed, and kept (started or unknown)
// worker -> worker
inline constexpr const char* peer_fetch = "peer_fetch";  // {req, ids, host?}
inline constexpr const char* data_chunk = "data_chunk";  // {req, id, at, total} + one frame: a piece of a large object, before its "data"
}  // namespace op

// Send / receive one message. `routing` is the ROUTER identity frame, empty for DEALER sockets.
// False when the socket refused it (a send timeout with no peer): then nothing was sent.
bool send_message(zmq::socket_t& socket, Message&& message, const zmq::message_t* routing = nullptr);
bool send_message(zmq::socket_t& socket, Message&& message, std::string_view routing);
// Reads one whole multipart message. Throws ProtocolError if the header is not a msgpack map
// with an "op" string (all frames are consumed first, so the socket stays in sync).
bool recv_message(zmq::socket_t& socket, Message& out, std::string* routing, bool dont_wait = false);
// The same, also telling the file descriptor of the connection it came on (-1: not TCP), which
// the server's socket monitor names when that connection closes.
bool recv_message(zmq::socket_t& socket, Message& out, std::string* routing, bool dont_wait, int* source_fd);

// Bulk columns: a vector of trivially copyable values as one frame and back.
template <typename T>
zmq::message_t frame_of(const std::vector<T>& values) {
  return zmq::message_t(values.data(), values.size() * sizeof(T));
}
// The same, handing a large column's buffer to the frame instead of copying it: a compute
// batch of a million tasks is tens of MB, and the copy doubled the server's peak. ZeroMQ frees
// the buffer once the frame is sent.
inline constexpr std::size_t frame_handover_bytes = 64 * 1024;
template <typename Buffer>
zmq::message_t frame_handing_over(Buffer&& values) {
  using Value = typename std::remove_reference_t<Buffer>::value_type;
  const std::size_t bytes = values.size() * sizeof(Value);
  if (bytes < frame_handover_bytes) return zmq::message_t(values.data(), bytes);
  auto* owner = new std::remove_reference_t<Buffer>(std::move(values));
  return zmq::message_t(
      owner->data(), bytes,
      [](void*, void* hint) { delete static_cast<std::remove_reference_t<Buffer>*>(hint); }, owner);
}
template <typename T>
zmq::message_t frame_of(std::vector<T>&& values) {
  return frame_handing_over(std::move(values));
}
template <typename T>
std::vector<T> column_of(const zmq::message_t& frame) {
  if (frame.size() % sizeof(T) != 0) throw ProtocolError("column frame has a ragged size");
  std::vector<T> out(frame.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), frame.data(), frame.size());
  return out;
}
// The same, and the frame is emptied: a big message and its decoded columns are then never whole
// side by side (a report of half a million copies is tens of MB of each).
template <typename T>
std::vector<T> take_column(zmq::message_t& frame) {
  std::vector<T> out = column_of<T>(frame);
  frame = zmq::message_t();
  return out;
}

}  // namespace treadle
