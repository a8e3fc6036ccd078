#pragma once
// Writing a whole buffer to a file descriptor: write() may write less than asked, or be
// interrupted by a signal; the loop goes on until all is written or a real error.
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace treadle {

// 0 once every byte is written, else the errno of the write that failed (fd left open).
inline int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return 0;
}

}  // namespace treadle
