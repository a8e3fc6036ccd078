#include "reply_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../data/plain.hpp"

namespace treadle {
namespace {

constexpr std::size_t read_chunk = 65536;

template <typename T>
T read_le(const std::string& in, std::size_t at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof value);
  return value;
}

}  // namespace

DataPtr ReplyMessage::plain(std::size_t i) const {
  if (i < owned_.size()) return owned_[i];
  return PlainData::from_string(std::string(blobs_.at(i)));
}

ReplyReader::Storage ReplyReader::heap_storage(std::size_t size) {
  std::shared_ptr<char[]> bytes(new char[size]);  // not value-initialized: no page is touched here
  char* at = bytes.get();
  return {std::move(bytes), at};
}

ReplyReader::ReadResult ReplyReader::read(int fd, std::size_t budget) {
  ReadResult result;
  if (consumed_ > 0) {  // what was handed out goes now, not per message: a batch of replies moves once
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  char chunk[read_chunk];
  while (result.bytes < budget && !result.drained && !result.closed) {
    if (large_) {
      // Its bytes still in the read buffer go first (next() moves them); then straight from the pipe.
      if (!buffer_.empty() || large_got_ == large_size_) break;
      read_into_large_blob(fd, budget - result.bytes, result);
      continue;
    }
    // Enough for next() to see whether a message is large: it is assembled before reading on.
    if (result.bytes >= own_storage_bytes) break;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      result.bytes += static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < sizeof chunk) result.drained = true;  // the pipe is empty
    } else if (n == 0) {
      result.closed = true;
    } else if (errno != EINTR) {
      result.drained = true;  // EAGAIN (an error shows as end of file at the next poll)
    }
  }
  return result;
}

// Until the pipe is empty or the budget spent: the writer refills the pipe meanwhile, and going
// back to the loop for each pipe's worth (64 KiB) would cost a loop turn per 64 KiB.
void ReplyReader::read_into_large_blob(int fd, std::size_t budget, ReadResult& result) {
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(large_size_ - large_got_, budget));
  const ssize_t n = ::read(fd, large_bytes_ + large_got_, want);
  if (n > 0) {
    large_got_ += static_cast<std::uint64_t>(n);
    result.bytes += static_cast<std::size_t>(n);
    if (large_got_ == large_size_) result.drained = true;  // next() takes the blob; then read on
  } else if (n == 0) {
    result.closed = true;
  } else if (errno != EINTR) {
    result.drained = true;
  }
}

bool ReplyReader::next(ReplyMessage& out) {
  out.owned_.clear();
  out.owned_head_.clear();
  out.blobs_.clear();
  return assembling_ ? next_assembled(out) : next_in_place(out);
}

bool ReplyReader::next_in_place(ReplyMessage& out) {
  const std::size_t start = consumed_, end = buffer_.size();
  if (end - start < 4) return false;
  const auto head_len = read_le<std::uint32_t>(buffer_, start);
  std::size_t at = start + 4 + head_len;
  if (end < at + 4) {
    buffer_.reserve(at + 4);  // once, as soon as the header's length is known
    return false;
  }
  const auto count = read_le<std::uint32_t>(buffer_, at);
  at += 4;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint64_t len = 0;
    const bool len_known = end - at >= 8;
    if (len_known) {
      len = read_le<std::uint64_t>(buffer_, at);
      if (end - at - 8 >= len) {
        out.blobs_.emplace_back(buffer_.data() + at + 8, static_cast<std::size_t>(len));
        at += 8 + static_cast<std::size_t>(len);
        continue;
      }
    }
    if (len >= own_storage_bytes || end - start >= own_storage_bytes) {
      // Too large to wait for whole here: the header and the blobs before this one are taken
      // out, and the rest is assembled from the blob at `at` on.
      head_.assign(buffer_, start + 4, head_len);
      count_ = count;
      blobs_.clear();
      for (std::string_view blob : out.blobs_) blobs_.push_back(PlainData::from_string(std::string(blob)));
      out.blobs_.clear();
      consumed_ = at;
      assembling_ = true;
      return next_assembled(out);
    }
    if (len_known) buffer_.reserve(at + 8 + static_cast<std::size_t>(len));
    return false;
  }
  out.head_ = std::string_view(buffer_).substr(start + 4, head_len);
  consumed_ = at;
  return true;
}

void ReplyReader::start_large_blob(std::uint64_t size) {
  Storage storage = memory_(static_cast<std::size_t>(size));
  large_ = std::make_shared<PlainData>(std::move(storage.owner), storage.bytes, static_cast<std::size_t>(size));
  large_bytes_ = storage.bytes;
  large_size_ = size;
  large_got_ = 0;
}

bool ReplyReader::next_assembled(ReplyMessage& out) {
  while (true) {
    if (large_) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size() - consumed_, large_size_ - large_got_));
      std::memcpy(large_bytes_ + large_got_, buffer_.data() + consumed_, take);
      consumed_ += take;
      large_got_ += take;
      if (large_got_ < large_size_) return false;
      blobs_.push_back(std::move(large_));
      large_ = nullptr;
      large_bytes_ = nullptr;
    }
    if (blobs_.size() == count_) break;
    if (buffer_.size() - consumed_ < 8) return false;
    const auto len = read_le<std::uint64_t>(buffer_, consumed_);
    if (len >= own_storage_bytes) {
      consumed_ += 8;
      start_large_blob(len);
      continue;
    }
    if (buffer_.size() - consumed_ - 8 < len) {
      buffer_.reserve(consumed_ + 8 + static_cast<std::size_t>(len));
      return false;
    }
    blobs_.push_back(PlainData::from_string(buffer_.substr(consumed_ + 8, static_cast<std::size_t>(len))));
    consumed_ += 8 + static_cast<std::size_t>(len);
  }
  out.owned_head_ = std::move(head_);
  out.head_ = out.owned_head_;
  out.owned_ = std::move(blobs_);
  for (const DataPtr& blob : out.owned_) out.blobs_.push_back(blob->raw());
  head_.clear();
  blobs_.clear();
  assembling_ = false;
  return true;
}

}  // namespace treadle
