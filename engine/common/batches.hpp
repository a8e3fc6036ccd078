#pragma once
// The two hot messages between server and workers, as columns: "compute" (tasks to run)
// and "finished" (results made). One message carries every task of a loop turn.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ids.hpp"
#include "protocol.hpp"

namespace treadle {

struct ComputeBatch {
  static constexpr std::uint32_t local = ~std::uint32_t{0};  // input is here, or being made here

  std::vector<std::string> types;  // distinct task types of this batch
  std::vector<std::string> peers;  // data addresses of workers to fetch inputs from
  std::vector<TaskId> ids;
  std::vector<std::uint32_t> type_of;
  std::vector<std::uint32_t> cpus;
  std::vector<std::uint32_t> input_counts;
  std::vector<TaskId> inputs;
  std::vector<std::uint32_t> input_where;  // index into peers, or `local`
  std::vector<std::uint64_t> config_offsets{0};
  std::string configs;
  std::vector<std::pair<TaskId, std::string>> checkpoints;  // tasks that write their result to a file
  std::vector<std::pair<TaskId, std::uint32_t>> outputs;   // tasks with other than one output: how many
  // Objects to drop before the batch's tasks are taken: the frees the server held for this worker
  // (docs/protocol.md, `compute`), so a free costs no message of its own.
  std::vector<ObjectId> frees;

  bool empty() const { return ids.empty(); }  // frees ride on tasks, never alone
  Message encode() &&;
  // Empties every column but keeps its memory: encode copies small columns into their frames
  // (hands over only large ones), so a batch cleared after encode builds the next without
  // growing its columns again.
  void clear();
  static ComputeBatch decode(Message& message);  // throws ProtocolError
};

struct FinishedBatch {
  static constexpr std::uint8_t has_pieces_bit = 0x80;

  std::vector<TaskId> ids;
  std::vector<std::uint64_t> sizes;
  std::vector<std::uint64_t> lengths;
  std::vector<std::uint8_t> kinds;     // DataKind, | has_pieces_bit for objects dslice/dget can cut
  std::vector<std::int64_t> start_us;  // worker's clock, for traces
  std::vector<std::int64_t> end_us;
  std::vector<std::uint32_t> lanes;    // where it ran: 0 the event loop, 1 a thread, 2 + i executor i
  std::vector<TaskId> started;         // tasks that began on a thread (light inline ones don't say)
  std::vector<TaskId> replicas;        // objects this worker fetched and now also holds
  std::vector<TaskId> aliased;         // redirected tasks whose result it now holds (under both names)
  // The outputs of tasks with other than one output (ids: object_id(task, k)), before their tasks' rows.
  std::vector<ObjectId> objects;
  std::vector<std::uint64_t> object_sizes;
  std::vector<std::uint64_t> object_lengths;
  std::vector<std::uint8_t> object_kinds;
  // Those fetches, for traces: from which peer (index into transfer_peers), how big, when.
  std::vector<std::string> transfer_peers;
  std::vector<std::uint32_t> transfer_from;
  std::vector<std::uint64_t> transfer_sizes;
  std::vector<std::int64_t> transfer_start_us;
  std::vector<std::int64_t> transfer_end_us;

  bool empty() const { return ids.empty() && started.empty() && replicas.empty() && aliased.empty(); }
  Message encode() &&;
  static FinishedBatch decode(Message& message);
};

}  // namespace treadle
