#pragma once
// Data objects on the wire: a msgpack description in the message header and the bytes in
// bulk frames. Sending shares the object's storage with ZeroMQ (no copy); receiving keeps the
// frame itself as the object's storage.
#include <vector>

#include "../common/protocol.hpp"
#include "data.hpp"

namespace treadle {

// Appends the bytes of `data` to `frames` and returns its description.
json encode_data(const DataPtr& data, std::vector<zmq::message_t>& frames);
// Rebuilds an object from its description; takes the frames it names. Throws ProtocolError.
DataPtr decode_data(const json& description, std::vector<zmq::message_t>& frames);

}  // namespace treadle
