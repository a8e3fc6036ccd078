#pragma once
// Data objects on the wire: a msgpack description in the message header and the bytes in
// bulk frames. Sending shares the object's storage with ZeroMQ (no copy); receiving keeps the
// frame itself as the object's storage.
#include <vector>

#include "../common/protocol.hpp"
#include "data.hpp"

namespace treadle {

// A frame of `bytes` (which `owner` holds): shared with ZeroMQ, not copied, unless tiny.
zmq::message_t frame_sharing(const DataPtr& owner, std::string_view bytes);

// Appends the bytes of `data` to `frames` and returns its description.
json encode_data(const DataPtr& data, std::vector<zmq::message_t>& frames);
// Rebuilds an object from its description; takes the frames it names. Throws ProtocolError.
DataPtr decode_data(const json& description, std::vector<zmq::message_t>& frames);

// Many objects in one "data" message (worker to worker, worker to client): small plain ones
// packed into three frames (ids, bytes, offsets) under header["packed"], the others described
// one by one under header["objects"]. A null data means "missing here".
struct ObjectEntry {
  std::uint64_t id;
  DataPtr data;
};
void encode_objects(const std::vector<ObjectEntry>& objects, json& header, std::vector<zmq::message_t>& frames);
std::vector<ObjectEntry> decode_objects(const json& header, std::vector<zmq::message_t>& frames);
// How many objects a "data" message carries (from its header alone).
std::size_t count_objects(const json& header);

}  // namespace treadle
