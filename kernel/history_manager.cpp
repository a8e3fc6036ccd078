#include "history_manager.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <set>

namespace treadle::kernel {

HistoryManager::HistoryManager(std::function<int()> execution_count) : execution_count_(std::move(execution_count)) {}

void HistoryManager::store_inputs_impl(int, int line_num, const std::string& input, const std::string&) {
  int line = execution_count_ ? execution_count_() : line_num;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!entries_.empty() && line <= entries_.back().line) line = entries_.back().line + 1;
  entries_.push_back(Entry{line, input});
}

nl::json HistoryManager::row(const Entry& e, bool output) const {
  // Outputs are not kept (IPython's default too): the pair carries null.
  if (output) return nl::json::array({session, e.line, nl::json::array({e.input, nullptr})});
  return nl::json::array({session, e.line, e.input});
}

nl::json HistoryManager::reply(nl::json rows) {
  return nl::json{{"status", "ok"}, {"history", std::move(rows)}};
}

nl::json HistoryManager::get_tail_impl(int n, bool, bool output) const {
  std::lock_guard<std::mutex> lock(mutex_);
  nl::json rows = nl::json::array();
  std::size_t count = n < 0 ? entries_.size() : std::min<std::size_t>(static_cast<std::size_t>(n), entries_.size());
  for (std::size_t i = entries_.size() - count; i < entries_.size(); ++i) rows.push_back(row(entries_[i], output));
  return reply(std::move(rows));
}

nl::json HistoryManager::get_range_impl(int which, int start, int stop, bool, bool output) const {
  std::lock_guard<std::mutex> lock(mutex_);
  nl::json rows = nl::json::array();
  // Session 0 (and negative offsets, which IPython counts back from the current one) name
  // this session only if 0: there are no earlier sessions in memory.
  if (which != 0 && which != session) return reply(std::move(rows));
  for (const Entry& e : entries_)
    if (e.line >= start && (stop <= 0 || e.line < stop)) rows.push_back(row(e, output));
  return reply(std::move(rows));
}

nl::json HistoryManager::search_impl(const std::string& pattern, bool, bool output, int n, bool unique) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<const Entry*> found;  // newest first
  std::set<std::string> seen;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (fnmatch(pattern.c_str(), it->input.c_str(), 0) != 0) continue;
    if (unique && !seen.insert(it->input).second) continue;
    found.push_back(&*it);
    if (n > 0 && static_cast<int>(found.size()) >= n) break;
  }
  nl::json rows = nl::json::array();
  for (auto it = found.rbegin(); it != found.rend(); ++it) rows.push_back(row(**it, output));
  return reply(std::move(rows));
}

}  // namespace treadle::kernel
