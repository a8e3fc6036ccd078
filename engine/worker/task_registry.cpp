#include "task_api.hpp"

#include <algorithm>

namespace treadle {

void TaskRegistry::add(std::string symbol, Function run, Threading threading) {
  entries_[std::move(symbol)] = Entry{std::move(run), threading};
}

const TaskRegistry::Entry* TaskRegistry::find(std::string_view symbol) const {
  auto it = entries_.find(std::string(symbol));
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> TaskRegistry::symbols() const {
  std::vector<std::string> out;
  for (auto& [name, entry] : entries_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace treadle
