#include "wire.hpp"

#include "array.hpp"
#include "file.hpp"
#include "index.hpp"
#include "plain.hpp"
#include "pyobj.hpp"

namespace treadle {
namespace {

// A frame whose bytes belong to `owner`: ZeroMQ calls release() when it is done with them.
zmq::message_t shared_frame(const DataPtr& owner, std::string_view bytes) {
  if (bytes.size() < 1024) return zmq::message_t(bytes.data(), bytes.size());  // copying is cheaper
  auto* keep = new DataPtr(owner);
  auto release = [](void*, void* hint) { delete static_cast<DataPtr*>(hint); };
  return zmq::message_t(const_cast<char*>(bytes.data()), bytes.size(), release, keep);
}

std::size_t frame_index(const json& d, const char* key, std::vector<zmq::message_t>& frames) {
  if (!d.contains(key) || !d[key].is_number_unsigned()) throw ProtocolError("data description lacks a frame index");
  auto i = d[key].get<std::size_t>();
  if (i >= frames.size()) throw ProtocolError("data description names a missing frame");
  return i;
}

}  // namespace

json encode_data(const DataPtr& data, std::vector<zmq::message_t>& frames) {
  switch (data->kind()) {
    case DataKind::plain: {
      frames.push_back(shared_frame(data, data->raw()));
      return {{"k", "plain"}, {"f", frames.size() - 1}};
    }
    case DataKind::file: {
      return {{"k", "file"}, {"path", static_cast<const FileData&>(*data).path()}};
    }
    case DataKind::array: {
      json items = json::array();
      for (auto& item : static_cast<const ArrayData&>(*data).items()) items.push_back(encode_data(item, frames));
      return {{"k", "array"}, {"items", std::move(items)}};
    }
    case DataKind::index: {
      auto& index = static_cast<const IndexData&>(*data);
      json base = encode_data(index.base(), frames);
      std::vector<std::uint64_t> bounds(index.bounds().begin(), index.bounds().end());
      frames.push_back(frame_of(bounds));
      return {{"k", "index"}, {"base", std::move(base)}, {"b", frames.size() - 1}};
    }
    case DataKind::pyobj: {
      auto& obj = static_cast<const PyObjData&>(*data);
      frames.push_back(shared_frame(obj.pickled(), obj.pickled()->raw()));
      return {{"k", "pyobj"}, {"f", frames.size() - 1}, {"size", obj.size()}};
    }
  }
  throw ProtocolError(std::string("cannot send a ") + kind_name(data->kind()) + " object");
}

DataPtr decode_data(const json& d, std::vector<zmq::message_t>& frames) {
  try {
    const std::string& k = d.at("k").get_ref<const std::string&>();
    if (k == "plain") return PlainData::from_frame(std::move(frames[frame_index(d, "f", frames)]));
    if (k == "file") return std::make_shared<FileData>(d.at("path").get<std::string>());
    if (k == "array") {
      std::vector<DataPtr> items;
      for (auto& item : d.at("items")) items.push_back(decode_data(item, frames));
      return std::make_shared<ArrayData>(std::move(items));
    }
    if (k == "index") {
      DataPtr base = decode_data(d.at("base"), frames);
      auto bounds64 = column_of<std::uint64_t>(frames[frame_index(d, "b", frames)]);
      return std::make_shared<IndexData>(std::move(base), std::vector<std::size_t>(bounds64.begin(), bounds64.end()));
    }
    if (k == "pyobj") {
      DataPtr pickled = PlainData::from_frame(std::move(frames[frame_index(d, "f", frames)]));
      return std::make_shared<PyObjData>(std::move(pickled), d.at("size").get<std::size_t>());
    }
    throw ProtocolError("unknown data kind '" + k + "'");
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("bad data description: ") + e.what());
  }
}

}  // namespace treadle
