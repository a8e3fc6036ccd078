#include "client_requests.hpp"

namespace treadle {

void ClientRequests::drop_client(const std::string& client) {
  for (auto it = requests_.begin(); it != requests_.end();)
    it = it->second.client == client ? requests_.erase(it) : std::next(it);
  for (auto it = uploads_.begin(); it != uploads_.end();)
    it = it->second.client == client ? uploads_.erase(it) : std::next(it);
  // Watcher entries of dropped requests are skipped when they fire.
}

bool ClientRequests::take_upload(std::uint64_t id, Upload& out) {
  auto it = uploads_.find(id);
  if (it == uploads_.end()) return false;
  out = std::move(it->second);
  uploads_.erase(it);
  return true;
}

std::vector<Upload> ClientRequests::take_uploads_from(WorkerId worker) {
  std::vector<Upload> out;
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (it->second.worker == worker) {
      out.push_back(std::move(it->second));
      it = uploads_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace treadle
