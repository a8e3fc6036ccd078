#include "plain.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <zmq.hpp>

namespace treadle {

DataPtr PlainData::from_string(std::string bytes) {
  auto owner = std::make_shared<const std::string>(std::move(bytes));
  return std::make_shared<PlainData>(owner, owner->data(), owner->size());
}

DataPtr PlainData::from_frame(zmq::message_t&& frame) {
  auto owner = std::make_shared<zmq::message_t>(std::move(frame));
  return std::make_shared<PlainData>(owner, static_cast<const char*>(owner->data()), owner->size());
}

DataPtr PlainData::view(const DataPtr& base, std::size_t offset, std::size_t size) {
  auto bytes = base->raw();
  if (offset > bytes.size() || size > bytes.size() - offset) throw DataError("view out of range");
  auto out = std::make_shared<PlainData>(base, bytes.data() + offset, size);
  if (auto* plain = dynamic_cast<const PlainData*>(base.get())) out->in_memory_ = plain->in_memory_;
  else out->in_memory_ = false;
  return out;
}

namespace {
struct Mapping {
  void* address = nullptr;
  std::size_t size = 0;
  KeptFile kept;  // kept.path empty: the file is not ours to remove
  ~Mapping() {
    if (address && size) ::munmap(address, size);
    if (!kept.path.empty()) ::unlink(kept.path.c_str());
  }
};

std::shared_ptr<Mapping> map_whole_file(const std::string& path, struct stat& st);
}  // namespace

DataPtr PlainData::map_file(const std::string& path) {
  struct stat st {};
  auto mapping = map_whole_file(path, st);
  auto out = std::make_shared<PlainData>(mapping, static_cast<const char*>(mapping->address), mapping->size);
  out->in_memory_ = false;
  return out;
}

DataPtr PlainData::map_kept_file(const std::string& path) {
  struct stat st {};
  std::shared_ptr<Mapping> mapping;
  try {
    mapping = map_whole_file(path, st);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  mapping->kept = {path, static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                   static_cast<std::uint64_t>(st.st_size),
                   std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, st.st_uid};
  auto out = std::make_shared<PlainData>(mapping, static_cast<const char*>(mapping->address), mapping->size);
  out->in_memory_ = false;
  out->kept_file_ = &mapping->kept;
  return out;
}

namespace {
std::shared_ptr<Mapping> map_whole_file(const std::string& path, struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError("cannot open " + path + ": " + std::strerror(errno));
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw DataError("cannot stat " + path + ": " + std::strerror(errno));
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<std::size_t>(st.st_size);
  if (mapping->size > 0) {
    void* address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      ::close(fd);
      throw DataError("cannot map " + path + ": " + std::strerror(errno));
    }
    mapping->address = address;
  }
  ::close(fd);
  return mapping;
}
}  // namespace

}  // namespace treadle
