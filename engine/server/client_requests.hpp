#pragma once
// Clients waiting on futures: "wait" and "fetch" requests, answered when every task they
// name has finished (or one failed), and the uploads that carry fetched data back.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

struct ClientRequest {
  std::string client;  // routing id
  std::uint64_t req = 0;
  bool fetch = false;
  std::vector<TaskId> ids;
  std::size_t remaining = 0;
};

struct Upload {
  std::string client;
  std::uint64_t req = 0;
  WorkerId worker = no_worker;
  std::vector<TaskId> ids;
};

class ClientRequests {
 public:
  std::uint64_t add(ClientRequest request) {
    std::uint64_t id = next_++;
    requests_.emplace(id, std::move(request));
    return id;
  }
  ClientRequest* find(std::uint64_t id) {
    auto it = requests_.find(id);
    return it == requests_.end() ? nullptr : &it->second;
  }
  void erase(std::uint64_t id) { requests_.erase(id); }
  void watch(TaskId task, std::uint64_t request) { watchers_[task].push_back(request); }
  std::vector<std::uint64_t> take_watchers(TaskId task) {
    auto it = watchers_.find(task);
    if (it == watchers_.end()) return {};
    auto out = std::move(it->second);
    watchers_.erase(it);
    return out;
  }
  // Tasks some wait or fetch request waits on (their entries go when the task ends).
  std::size_t awaited_tasks() const { return watchers_.size(); }
  void drop_client(const std::string& client);

  std::uint64_t add_upload(Upload upload) {
    std::uint64_t id = next_++;
    uploads_.emplace(id, std::move(upload));
    return id;
  }
  bool take_upload(std::uint64_t id, Upload& out);
  std::vector<Upload> take_uploads_from(WorkerId worker);

 private:
  std::uint64_t next_ = 1;
  std::unordered_map<std::uint64_t, ClientRequest> requests_;
  std::unordered_map<TaskId, std::vector<std::uint64_t>> watchers_;
  std::unordered_map<std::uint64_t, Upload> uploads_;
};

}  // namespace treadle
