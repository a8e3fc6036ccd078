#pragma once
// The kernel's input history, answering history_request as IPython's kernel does.
//
// xeus 2.4's in-memory manager answers with string session and line numbers, numbers every
// line 1 and gives the wrong row shape for output=True. Rows here are (session, line, input)
// or (session, line, (input, output)), numbered by the execution count of the cell; search
// takes a glob pattern as IPython's does (GLOB: * and ?, case-sensitive).
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "xeus/xhistory_manager.hpp"

namespace treadle::kernel {

class HistoryManager : public xeus::xhistory_manager {
 public:
  // `execution_count` gives the count of the cell being stored (xeus passes 1 always).
  explicit HistoryManager(std::function<int()> execution_count);

  static constexpr int session = 1;

 private:
  struct Entry {
    int line;
    std::string input;
  };

  void configure_impl() override {}
  void store_inputs_impl(int session, int line_num, const std::string& input, const std::string& output) override;
  nl::json get_tail_impl(int n, bool raw, bool output) const override;
  nl::json get_range_impl(int session, int start, int stop, bool raw, bool output) const override;
  nl::json search_impl(const std::string& pattern, bool raw, bool output, int n, bool unique) const override;

  nl::json row(const Entry& e, bool output) const;
  static nl::json reply(nl::json rows);

  std::function<int()> execution_count_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace treadle::kernel
