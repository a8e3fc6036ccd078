#include "wire.hpp"

#include "array.hpp"
#include "file.hpp"
#include "index.hpp"
#include "plain.hpp"
#include "pyobj.hpp"

namespace treadle {
namespace {

// Worth packing: at least a few items, all plain, none large (large ones go zero-copy).
bool packable(const std::vector<DataPtr>& items) {
  if (items.size() < 8) return false;
  for (auto& item : items)
    if (item->kind() != DataKind::plain || item->size() >= 4096) return false;
  return true;
}

std::size_t frame_index(const json& d, const char* key, std::vector<zmq::message_t>& frames) {
  if (!d.contains(key) || !d[key].is_number_unsigned()) throw ProtocolError("data description lacks a frame index");
  auto i = d[key].get<std::size_t>();
  if (i >= frames.size()) throw ProtocolError("data description names a missing frame");
  return i;
}

}  // namespace

// A frame whose bytes belong to `owner`: ZeroMQ calls release() when it is done with them.
zmq::message_t frame_sharing(const DataPtr& owner, std::string_view bytes) {
  if (bytes.size() < 1024) return zmq::message_t(bytes.data(), bytes.size());  // copying is cheaper
  auto* keep = new DataPtr(owner);
  auto release = [](void*, void* hint) { delete static_cast<DataPtr*>(hint); };
  return zmq::message_t(const_cast<char*>(bytes.data()), bytes.size(), release, keep);
}

json encode_data(const DataPtr& data, std::vector<zmq::message_t>& frames) {
  switch (data->kind()) {
    case DataKind::plain: {
      frames.push_back(frame_sharing(data, data->raw()));
      return {{"k", "plain"}, {"f", frames.size() - 1}};
    }
    case DataKind::file: {
      return {{"k", "file"}, {"path", static_cast<const FileData&>(*data).path()}};
    }
    case DataKind::array: {
      auto& items = static_cast<const ArrayData&>(*data).items();
      if (packable(items)) {
        // Many small plain items travel as one frame of their bytes and one of offsets:
        // a description per item would cost more than the bytes themselves.
        std::string bytes;
        bytes.reserve(data->size());
        std::vector<std::uint64_t> offsets{0};
        for (auto& item : items) {
          bytes.append(item->raw());
          offsets.push_back(bytes.size());
        }
        frames.emplace_back(bytes.data(), bytes.size());
        frames.push_back(frame_of(offsets));
        return {{"k", "plains"}, {"f", frames.size() - 2}, {"o", frames.size() - 1}};
      }
      json described = json::array();
      for (auto& item : items) described.push_back(encode_data(item, frames));
      return {{"k", "array"}, {"items", std::move(described)}};
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
      frames.push_back(frame_sharing(obj.pickled(), obj.pickled()->raw()));
      json out = {{"k", "pyobj"}, {"f", frames.size() - 1}, {"size", obj.size()}};
      if (obj.has_pieces()) out["len"] = obj.sequence_length();
      return out;
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
    if (k == "plains") {
      DataPtr base = PlainData::from_frame(std::move(frames[frame_index(d, "f", frames)]));
      auto offsets = column_of<std::uint64_t>(frames[frame_index(d, "o", frames)]);
      if (offsets.empty() || offsets.back() != base->size()) throw ProtocolError("packed array offsets do not match");
      std::vector<DataPtr> items;
      items.reserve(offsets.size() - 1);
      for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
        if (offsets[i] > offsets[i + 1]) throw ProtocolError("packed array offsets decrease");
        items.push_back(PlainData::view(base, offsets[i], offsets[i + 1] - offsets[i]));
      }
      return std::make_shared<ArrayData>(std::move(items));
    }
    if (k == "index") {
      DataPtr base = decode_data(d.at("base"), frames);
      auto bounds64 = column_of<std::uint64_t>(frames[frame_index(d, "b", frames)]);
      return std::make_shared<IndexData>(std::move(base), std::vector<std::size_t>(bounds64.begin(), bounds64.end()));
    }
    if (k == "pyobj") {
      DataPtr pickled = PlainData::from_frame(std::move(frames[frame_index(d, "f", frames)]));
      return std::make_shared<PyObjData>(std::move(pickled), d.at("size").get<std::size_t>(),
                                         d.value("len", PyObjData::not_a_sequence));
    }
    throw ProtocolError("unknown data kind '" + k + "'");
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("bad data description: ") + e.what());
  }
}

namespace {
// Small objects of one kind, packed: their ids, their bytes back to back, the offsets.
struct Pack {
  std::vector<std::uint64_t> ids, offsets{0}, sizes, lengths;
  std::string bytes;
  void add(std::uint64_t id, std::string_view raw, std::uint64_t size,
           std::uint64_t length = PyObjData::not_a_sequence) {
    ids.push_back(id);
    bytes.append(raw);
    offsets.push_back(bytes.size());
    sizes.push_back(size);
    lengths.push_back(length);
  }
  json emit(std::vector<zmq::message_t>& frames, bool with_sizes) {
    frames.push_back(frame_of(ids));
    frames.emplace_back(bytes.data(), bytes.size());
    frames.push_back(frame_of(offsets));
    json out = {{"n", ids.size()}, {"ids", frames.size() - 3}, {"f", frames.size() - 2}, {"o", frames.size() - 1}};
    if (with_sizes) {  // PyObjs: their sizes and sequence lengths
      frames.push_back(frame_of(sizes));
      out["s"] = frames.size() - 1;
      frames.push_back(frame_of(lengths));
      out["l"] = frames.size() - 1;
    }
    return out;
  }
};

void unpack(const json& p, std::vector<zmq::message_t>& frames, bool pyobj, std::vector<ObjectEntry>& out) {
  auto ids = column_of<std::uint64_t>(frames.at(frame_index(p, "ids", frames)));
  auto offsets = column_of<std::uint64_t>(frames.at(frame_index(p, "o", frames)));
  std::vector<std::uint64_t> sizes, lengths;
  if (pyobj) {
    sizes = column_of<std::uint64_t>(frames.at(frame_index(p, "s", frames)));
    lengths = column_of<std::uint64_t>(frames.at(frame_index(p, "l", frames)));
  }
  DataPtr base = PlainData::from_frame(std::move(frames[frame_index(p, "f", frames)]));
  if (offsets.size() != ids.size() + 1 || offsets.back() != base->size() || (pyobj && (sizes.size() != ids.size() || lengths.size() != ids.size())))
    throw ProtocolError("packed objects do not match their offsets");
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (offsets[i] > offsets[i + 1]) throw ProtocolError("packed offsets decrease");
    DataPtr bytes = PlainData::view(base, offsets[i], offsets[i + 1] - offsets[i]);
    out.push_back({ids[i], pyobj ? std::make_shared<PyObjData>(std::move(bytes), sizes[i], lengths[i]) : bytes});
  }
}
}  // namespace

void encode_objects(const std::vector<ObjectEntry>& objects, json& header, std::vector<zmq::message_t>& frames) {
  json described = json::array();
  Pack plain, pyobj;
  for (auto& o : objects) {
    if (!o.data) {
      described.push_back({{"id", o.id}, {"missing", true}});
    } else if (o.data->kind() == DataKind::plain && o.data->size() < 4096) {
      plain.add(o.id, o.data->raw(), o.data->size());
    } else if (o.data->kind() == DataKind::pyobj &&
               static_cast<const PyObjData&>(*o.data).pickled()->size() < 4096) {
      auto& obj = static_cast<const PyObjData&>(*o.data);
      pyobj.add(o.id, obj.pickled()->raw(), obj.size(), obj.sequence_length());
    } else {
      described.push_back({{"id", o.id}, {"d", encode_data(o.data, frames)}, {"size", o.data->size()}});
    }
  }
  header["objects"] = std::move(described);
  if (!plain.ids.empty()) header["packed"] = plain.emit(frames, false);
  if (!pyobj.ids.empty()) header["packed_py"] = pyobj.emit(frames, true);
}

std::vector<ObjectEntry> decode_objects(const json& header, std::vector<zmq::message_t>& frames) {
  std::vector<ObjectEntry> out;
  try {
    for (auto& object : header.at("objects")) {
      std::uint64_t id = object.at("id").get<std::uint64_t>();
      if (object.value("missing", false)) out.push_back({id, nullptr});
      else out.push_back({id, decode_data(object.at("d"), frames)});
    }
    if (header.contains("packed")) unpack(header["packed"], frames, false, out);
    if (header.contains("packed_py")) unpack(header["packed_py"], frames, true, out);
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("bad data message: ") + e.what());
  } catch (const std::out_of_range&) {
    throw ProtocolError("data message names a missing frame");
  }
  return out;
}

std::size_t count_objects(const json& header) {
  std::size_t n = 0;
  auto objects = header.find("objects");
  if (objects != header.end() && objects->is_array()) n += objects->size();
  for (const char* key : {"packed", "packed_py"}) {
    auto packed = header.find(key);
    if (packed != header.end() && packed->is_object()) n += packed->value("n", std::size_t{0});
  }
  return n;
}

}  // namespace treadle
