#include "chunked_transfer.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "../common/message_fields.hpp"
#include "../data/plain.hpp"
#include "../data/wire.hpp"

namespace treadle {
namespace {

// A peer may announce an object of at most this size (the chunks must then fill it).
constexpr std::uint64_t max_object_bytes = std::uint64_t{1} << 40;

// ZeroMQ's I/O thread reads the pieces straight from the object's memory. Where that is a
// mapping whose page tables are not filled yet (a program's output, a spilled object), each
// fault in the middle of the socket's copy costs a trip through the hypervisor on a VM:
// filling them all in one call first costs ~10 ms per 100 MB and saves about twice that
// (bench/README.md, workload 5). Only when every page is in memory already (mincore): a
// cold file would be read from disk here, on the loop; it is only asked to be read ahead.
void map_before_sending(std::string_view bytes) {
  static const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<std::uintptr_t>(bytes.data()) / page * page;
  const std::size_t length = reinterpret_cast<std::uintptr_t>(bytes.data()) + bytes.size() - first;
  void* start = reinterpret_cast<void*>(first);
  std::vector<unsigned char> resident((length + page - 1) / page);
  if (::mincore(start, length, resident.data()) != 0) return;  // not a mapping of ours: leave it
  for (unsigned char r : resident)
    if (!(r & 1)) {
      ::madvise(start, length, MADV_WILLNEED);
      return;
    }
  ::madvise(start, length, MADV_POPULATE_READ);  // advice only: an older kernel says EINVAL
}

}  // namespace

void keep_memory_for_pieces() {
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(4 * chunk_bytes));
  ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

bool goes_in_chunks(const DataPtr& data) {
  return data && data->kind() == DataKind::plain && data->size() >= chunked_min_bytes;
}

std::vector<Message> chunk_messages(std::uint64_t req, ObjectId id, const DataPtr& data) {
  std::string_view bytes = data->raw();
  map_before_sending(bytes);
  std::vector<Message> out;
  out.reserve(bytes.size() / chunk_bytes + 1);
  for (std::size_t at = 0; at < bytes.size(); at += chunk_bytes) {
    Message m(json{{"op", op::data_chunk}, {"req", req}, {"id", id}, {"at", at}, {"total", bytes.size()}});
    m.frames.push_back(frame_sharing(data, bytes.substr(at, chunk_bytes)));
    out.push_back(std::move(m));
  }
  return out;
}

void ChunkAssembler::add(const std::string& peer, Message& chunk) {
  ObjectId id = fields::unsigned_integer(chunk.header, "id");
  std::uint64_t at = fields::unsigned_integer(chunk.header, "at");
  std::uint64_t total = fields::unsigned_integer(chunk.header, "total", 1, max_object_bytes);
  if (chunk.frames.size() != 1) throw ProtocolError("a data chunk must have one frame");
  std::uint64_t req = fields::unsigned_integer(chunk.header, "req");
  const zmq::message_t& piece = chunk.frames[0];
  auto key = std::make_pair(peer, id);
  if (auto d = dropped_.find(key); d != dropped_.end()) {
    if (d->second == req) return;  // the rest of a dropped transfer
    dropped_.erase(d);             // a new fetch of the object
  }
  auto it = assemblies_.find(key);
  if (at == 0 || it == assemblies_.end() || it->second.object->size() != total) {
    // A first piece (or a peer sending this object again, after a fetch it did not finish).
    ReceiveMemory::Buffer buffer = memory_->take(total);
    Assembly a;
    a.bytes = buffer.bytes;
    a.object = std::make_shared<PlainData>(std::move(buffer.owner), a.bytes, total);
    a.req = req;
    it = assemblies_.insert_or_assign(key, std::move(a)).first;
  }
  if (at > total || piece.size() > total - at) throw ProtocolError("a data chunk lies beyond its object");
  std::memcpy(it->second.bytes + at, piece.data(), piece.size());
  it->second.received += piece.size();
}

std::uint64_t ChunkAssembler::pending_bytes() const {
  std::uint64_t bytes = 0;
  for (auto& [key, a] : assemblies_) bytes += a.object->size();
  return bytes;
}

bool ChunkAssembler::dropped(const std::string& peer, ObjectId id, std::uint64_t req) {
  auto d = dropped_.find({peer, id});
  if (d == dropped_.end() || d->second != req) return false;
  dropped_.erase(d);
  return true;
}

DataPtr ChunkAssembler::take(const std::string& peer, ObjectId id) {
  auto it = assemblies_.find({peer, id});
  if (it == assemblies_.end()) throw ProtocolError("object " + std::to_string(id) + " was announced in chunks that never came");
  Assembly a = std::move(it->second);
  assemblies_.erase(it);
  if (a.received != a.object->size())
    throw ProtocolError("object " + std::to_string(id) + " came incomplete: " + std::to_string(a.received) + " of " +
                        std::to_string(a.object->size()) + " bytes");
  return a.object;
}

}  // namespace treadle
