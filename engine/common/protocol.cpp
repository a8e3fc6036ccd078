#include "protocol.hpp"

namespace treadle {

std::string Message::op() const {
  auto it = header.find("op");
  if (it == header.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

namespace {
// Once ZeroMQ took the first frame it takes the rest; if it refuses the first (the send
// timed out: no peer), nothing was sent and the caller learns it.
bool send_header_and_frames(zmq::socket_t& socket, Message& message, bool first) {
  std::vector<std::uint8_t> head = json::to_msgpack(message.header);
  auto more = message.frames.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore;
  if (!socket.send(zmq::message_t(head.data(), head.size()), more) && first) return false;
  for (std::size_t i = 0; i < message.frames.size(); ++i) {
    bool last = i + 1 == message.frames.size();
    socket.send(message.frames[i], last ? zmq::send_flags::none : zmq::send_flags::sndmore);
  }
  return true;
}
}  // namespace

bool send_message(zmq::socket_t& socket, Message&& message, const zmq::message_t* routing) {
  if (routing) {
    if (!socket.send(zmq::buffer(routing->data(), routing->size()), zmq::send_flags::sndmore)) return false;
    return send_header_and_frames(socket, message, false);
  }
  return send_header_and_frames(socket, message, true);
}

bool send_message(zmq::socket_t& socket, Message&& message, std::string_view routing) {
  if (!socket.send(zmq::buffer(routing.data(), routing.size()), zmq::send_flags::sndmore)) return false;
  return send_header_and_frames(socket, message, false);
}

bool recv_message(zmq::socket_t& socket, Message& out, std::string* routing, bool dont_wait) {
  return recv_message(socket, out, routing, dont_wait, nullptr);
}

bool recv_message(zmq::socket_t& socket, Message& out, std::string* routing, bool dont_wait, int* source_fd) {
  std::vector<zmq::message_t> parts;
  zmq::message_t part;
  auto flags = dont_wait ? zmq::recv_flags::dontwait : zmq::recv_flags::none;
  if (!socket.recv(part, flags)) return false;
  parts.push_back(std::move(part));
  while (parts.back().more()) {
    zmq::message_t next;
    (void)socket.recv(next);
    parts.push_back(std::move(next));
  }
  std::size_t first = 0;
  if (routing) {
    *routing = parts[0].to_string();
    first = 1;
  }
  if (parts.size() <= first) throw ProtocolError("message has no header frame");
  if (source_fd) *source_fd = zmq_msg_get(parts[first].handle(), ZMQ_SRCFD);  // a frame from the wire
  json header;
  try {
    auto* bytes = static_cast<const std::uint8_t*>(parts[first].data());
    header = json::from_msgpack(bytes, bytes + parts[first].size());
  } catch (const std::exception& e) {
    throw ProtocolError(std::string("header is not msgpack: ") + e.what());
  }
  if (!header.is_object() || !header.contains("op") || !header["op"].is_string())
    throw ProtocolError("header is not a map with an \"op\" string");
  out.header = std::move(header);
  out.frames.clear();
  for (std::size_t i = first + 1; i < parts.size(); ++i) out.frames.push_back(std::move(parts[i]));
  return true;
}

}  // namespace treadle
