#include "request_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace treadle {

std::string& RequestWriter::tail() {
  if (queue_.empty() || queue_.back().owner) queue_.emplace_back();
  return queue_.back().copied;
}

void RequestWriter::append(std::string_view bytes, std::shared_ptr<const void> owner) {
  if (bytes.empty()) return;
  if (!owner) return append(bytes);
  Piece piece;
  piece.large = bytes;
  piece.owner = std::move(owner);
  queued_ += bytes.size();
  queue_.push_back(std::move(piece));
}

RequestWriter::WriteResult RequestWriter::write(int fd, std::size_t budget) {
  WriteResult result;
  while (!queue_.empty() && result.bytes < budget) {
    Piece& piece = queue_.front();
    const std::string_view rest = piece.bytes().substr(piece.written);
    if (rest.empty()) {  // an empty tail
      queue_.pop_front();
      continue;
    }
    // At most the budget's rest per call: a pipe that its reader empties as fast as it is
    // written would otherwise take the whole blob in one call.
    const ssize_t n = ::write(fd, rest.data(), std::min(rest.size(), budget - result.bytes));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;  // full: poll says when it takes more
      const int error = errno;
      queue_.clear();
      throw std::runtime_error(std::string("cannot write to the executor: ") + std::strerror(error));
    }
    result.bytes += static_cast<std::size_t>(n);
    written_ += static_cast<std::uint64_t>(n);
    piece.written += static_cast<std::size_t>(n);
    if (piece.written == piece.bytes().size()) queue_.pop_front();
  }
  result.done = !pending();
  return result;
}

}  // namespace treadle
