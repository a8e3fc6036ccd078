// The server loop's handling of what workers send: finished tasks, uploaded data, output,
// redirects, heartbeat samples; and telling retired workers to stop.
#include "server_loop.hpp"
#include "wire_plan.hpp"

namespace treadle {

void ServerLoop::worker_data(Message& m) {
  Upload upload;
  std::uint64_t req = fields::unsigned_integer(m.header, "req");
  fields::list(m.header, "objects", fields::max_ids);  // the client decodes them
  if (fields::has(m.header, "packed")) fields::map(m.header, "packed");
  if (!requests_.take_upload(req, upload)) return;
  if (peers_.find(upload.client) == peers_.end()) return;
  m.header["req"] = upload.req;
  send_message(router_, std::move(m), upload.client);
}

// What tasks print goes to the client that submitted them, as it comes.
void ServerLoop::task_output(Message& m) {
  std::unordered_map<ClientId, json> by_client;
  fields::list(m.header, "items", fields::max_ids);
  for (auto& item : m.header["items"]) {
    if (!item.is_object()) throw ProtocolError("field 'items' must be a list of maps {id, stream, text}");
    TaskId id = fields::unsigned_integer(item, "id");
    fields::text(item, "stream", fields::max_name, true);
    fields::bytes(item, "text", fields::max_message);
    if (!scheduler_.exists(id)) continue;
    auto& items = by_client[scheduler_.plan_of(id).client];
    if (items.is_null()) items = json::array();
    item["label"] = scheduler_.label(id);
    items.push_back(std::move(item));
  }
  for (auto& [client, items] : by_client) {
    auto it = client_routing_.find(client);
    if (it == client_routing_.end()) continue;
    auto peer = peers_.find(it->second);
    if (peer != peers_.end() && peer->second.away) {
      hold_output(peer->second, std::move(items));
      continue;
    }
    send_message(router_, Message(json{{"op", op::output}, {"items", std::move(items)}}), it->second);
  }
}

void ServerLoop::redirect(Peer& peer, Message& m) {
  TaskId id = fields::unsigned_integer(m.header, "id");
  try {
    PlanRequest plan = decode_plan(m);
    scheduler_.redirect(peer.id, id, std::move(plan));
  } catch (const std::exception& e) {
    scheduler_.task_failed(peer.id, id, std::string("the task returned a plan that cannot run: ") + e.what());
  }
}

// A worker's heartbeat carries a sample of its cpu and memory use.
void ServerLoop::sample(Peer& peer, Message& m) {
  WorkerSample s;
  s.at_us = fields::has(m.header, "t") ? fields::integer(m.header, "t") : wall_us();
  s.cpu_percent = fields::number(m.header, "cpu", 0, 1e6);
  for (auto [name, value] : {std::pair{"rss", &s.rss}, {"store", &s.store}, {"spilled", &s.spilled},
                             {"objects", &s.objects}, {"fetched_bytes", &s.fetched_bytes},
                             {"handed_bytes", &s.handed_bytes}, {"receiving", &s.receiving},
                             {"receive_pool", &s.receive_pool},
                             {"reused_bytes", &s.reused_bytes}})
    *value = fields::has(m.header, name) ? fields::unsigned_integer(m.header, name) : 0;
  if (peer.id < samples_.size()) samples_[peer.id] = s;
  trace_.record_sample(peer.id, s);
}

void ServerLoop::finished(Peer& peer, Message& m) {
  FinishedBatch b = FinishedBatch::decode(m);
  record_finished(peer.id, b);
  for (TaskId id : b.started) scheduler_.task_started(peer.id, id);
  for (std::size_t i = 0; i < b.objects.size(); ++i)
    scheduler_.output_made(peer.id, b.objects[i], b.object_sizes[i], b.object_lengths[i], b.object_kinds[i]);
  for (std::size_t i = 0; i < b.ids.size(); ++i)
    scheduler_.task_finished(peer.id, b.ids[i], b.sizes[i], b.lengths[i], b.end_us[i] - b.start_us[i], b.kinds[i]);
  for (TaskId id : b.replicas) scheduler_.data_replicated(peer.id, id);
  for (TaskId id : b.aliased) scheduler_.alias_held(peer.id, id);
}

void ServerLoop::record_finished(WorkerId worker, const FinishedBatch& b) {
  for (std::size_t i = 0; i < b.ids.size(); ++i) {
    TaskId id = b.ids[i];
    if (!scheduler_.exists(id)) continue;
    trace_.record_task(scheduler_, worker, id, b.lanes[i], b.start_us[i], b.end_us[i], b.sizes[i]);
  }
  // The senders, by their data addresses: looked up once per peer, not once per copy.
  std::vector<WorkerId> senders;
  senders.reserve(b.transfer_peers.size());
  for (const std::string& address : b.transfer_peers) {
    auto it = worker_by_address_.find(address);
    senders.push_back(it == worker_by_address_.end() ? no_worker : it->second);
  }
  for (std::size_t i = 0; i < b.replicas.size(); ++i)
    trace_.record_transfer(worker, senders[b.transfer_from[i]], b.replicas[i], b.transfer_start_us[i],
                           b.transfer_end_us[i], b.transfer_sizes[i]);
  trace_.flush();  // a batch at a time: the file is readable while the run goes on
}

// A retiring worker with nothing running and its objects copied elsewhere is told to stop; it
// says goodbye and leaves, losing nothing. One that stays silent is dropped after 5 s.
void ServerLoop::stop_retired_workers() {
  const std::int64_t now = steady_ms();
  std::vector<WorkerId> silent;
  for (auto& [id, told_ms] : retiring_) {
    if (told_ms) {
      if (now - told_ms > 5000) silent.push_back(id);
      continue;
    }
    if (!scheduler_.retire_done(id)) continue;
    told_ms = now;
    send_message(router_, Message(json{{"op", op::retire}}), worker_routing_[id]);
  }
  for (WorkerId id : silent) lose_peer(worker_routing_[id], "retired, but it did not stop");
}

}  // namespace treadle
