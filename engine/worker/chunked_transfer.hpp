#pragma once
// Large objects between workers over the network: in pieces, pipelined, into their final buffer.
//
// One ZeroMQ message of 100 MB is received into a buffer ZeroMQ allocates whole: 25,000 fresh
// 4 KiB pages, and on a VM whose host backs guest memory lazily the first touch of each costs
// ~13 µs (0.3 s of CPU per 100 MB on the bench machine, more than the copies; bench/README.md).
// So a holder sends a plain object of at least `chunked_min_bytes` as `data_chunk` messages of
// `chunk_bytes` (each frame shares the object's storage: nothing is copied on the way out), then
// its `data` reply naming the object under `chunked`. The fetcher copies each piece, as it
// arrives, into one buffer for the whole object, made of the pages of freed received objects
// where it can (receive_memory.hpp: touched already) and of fresh memory with transparent huge
// pages advised for the rest, and ZeroMQ reuses the freed piece's memory for the next one. Messages between two sockets arrive in order, so the pieces precede the reply.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../common/ids.hpp"
#include "../common/protocol.hpp"
#include "../data/data.hpp"
#include "receive_memory.hpp"

namespace treadle {

constexpr std::size_t chunked_min_bytes = std::size_t{4} << 20;
constexpr std::size_t chunk_bytes = std::size_t{1} << 20;
// Messages ZeroMQ's I/O thread reads ahead of the loop from one peer (its receive high-water
// mark). Each piece waits in a buffer of its own on the heap: unbounded, a fresh worker's first
// 100 MB object grew the heap by up to as much, faulting fresh pages on that thread.
constexpr int pieces_read_ahead = 16;

// Process-wide malloc settings (once, at the worker's start): pieces come from the heap, and up
// to 128 MiB freed there stays for the next ones instead of going back to the kernel.
void keep_memory_for_pieces();

// True for an object sent to a peer in pieces.
bool goes_in_chunks(const DataPtr& data);

// The `data_chunk` messages of `data` (answering request `req`), in order. Fills the page
// tables of the object's memory first when all of it is in memory (the sends read it).
std::vector<Message> chunk_messages(std::uint64_t req, ObjectId id, const DataPtr& data);

// The objects being received in pieces, per peer.
class ChunkAssembler {
 public:
  explicit ChunkAssembler(std::shared_ptr<ReceiveMemory> memory) : memory_(std::move(memory)) {}
  // Copies a `data_chunk` message's piece into its object's buffer. Throws ProtocolError.
  void add(const std::string& peer, Message& chunk);
  // The object whose pieces all came from `peer`. Throws ProtocolError if some are missing.
  DataPtr take(const std::string& peer, ObjectId id);
  // Drops the objects being received for which `wanted(peer, id)` is false: nobody waits for
  // their remaining pieces (the peer died, the fetch was dropped), and their memory goes back.
  // Pieces of that request still on their way are ignored, and so is its reply (`dropped`).
  template <class Wanted>
  void drop_unless(Wanted wanted) {
    for (auto it = assemblies_.begin(); it != assemblies_.end();) {
      if (wanted(it->first.first, it->first.second)) {
        ++it;
        continue;
      }
      dropped_[it->first] = it->second.req;
      it = assemblies_.erase(it);
    }
  }
  // True (once) for an object of reply `req` whose pieces were dropped: the reply is stale and
  // says nothing about a later fetch of the object.
  bool dropped(const std::string& peer, ObjectId id, std::uint64_t req);
  std::size_t pending() const { return assemblies_.size(); }
  std::uint64_t pending_bytes() const;  // the buffers of objects not yet whole

 private:
  struct Assembly {
    DataPtr object;  // plain, over its own buffer
    char* bytes = nullptr;
    std::uint64_t received = 0;
    std::uint64_t req = 0;  // the fetch it answers
  };
  std::shared_ptr<ReceiveMemory> memory_;  // the objects' buffers
  std::map<std::pair<std::string, ObjectId>, Assembly> assemblies_;
  std::map<std::pair<std::string, ObjectId>, std::uint64_t> dropped_;  // -> the request dropped
};

}  // namespace treadle
