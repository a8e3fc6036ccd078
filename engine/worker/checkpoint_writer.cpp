#include "checkpoint_writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "builtin/builtin.hpp"
#include "task_api.hpp"

namespace treadle {

void write_checkpoint(const std::string& path, TaskId task, const DataPtr& result) {
  if (!result->is_dobject())
    throw TaskFailure("the result cannot be written to its checkpoint file " + path +
                      ": a checkpoint holds a plain or file object, the task gave " + result->describe());
  // Unique per worker and task: two workers computing the same task never share one.
  const std::string temporary = path + ".treadle-tmp." + std::to_string(::getpid()) + "." + std::to_string(task);
  try {
    builtin::write_file(temporary, result->raw());
  } catch (const TaskFailure& failure) {
    ::unlink(temporary.c_str());
    // The user gave `path`; the temporary name beside it would only puzzle them.
    std::string message = failure.what();
    if (auto at = message.find(temporary); at != std::string::npos) message.replace(at, temporary.size(), path);
    throw TaskFailure(message);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    int error = errno;
    ::unlink(temporary.c_str());
    throw TaskFailure("cannot write the checkpoint file " + path + ": " + std::strerror(error));
  }
}

}  // namespace treadle
