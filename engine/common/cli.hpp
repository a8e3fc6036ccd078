#pragma once
// Minimal command-line parsing shared by the treadle programs: "--name value" options,
// "--flag" switches and positional arguments, with a one-line error for anything else.
#include <climits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace treadle {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  std::map<std::string, std::string> options;
  std::set<std::string> flags;
  std::vector<std::string> positional;

  // `with_value` names options that take a value; `switches` those that do not.
  CommandLine(int argc, char** argv, const std::set<std::string>& with_value, const std::set<std::string>& switches) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) == 0) {
        std::string name = a.substr(2), value;
        bool inline_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
          value = name.substr(eq + 1);
          name = name.substr(0, eq);
          inline_value = true;
        }
        if (with_value.count(name)) {
          if (!inline_value) {
            if (i + 1 >= argc) throw UsageError("--" + name + " needs a value");
            value = argv[++i];
          }
          options[name] = value;
        } else if (switches.count(name) && !inline_value) {
          flags.insert(name);
        } else {
          throw UsageError("unknown option --" + name);
        }
      } else {
        positional.push_back(a);
      }
    }
  }
  std::string get(const std::string& name, const std::string& fallback = {}) const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
  // The value of --name, which must be a whole number in [low, high].
  long number(const std::string& name, long fallback, long low, long high) const {
    auto it = options.find(name);
    if (it == options.end()) return fallback;
    return parse_number("--" + name, it->second, low, high);
  }
  static long parse_number(const std::string& what, const std::string& text, long low, long high) {
    long v = 0;
    try {
      std::size_t used = 0;
      v = std::stol(text, &used);
      if (used != text.size()) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw UsageError(what + " needs a number, got '" + text + "'");
    }
    if (v < low || v > high)
      throw UsageError(what + " must be between " + std::to_string(low) + " and " + std::to_string(high) + ", got " + text);
    return v;
  }
};

}  // namespace treadle
