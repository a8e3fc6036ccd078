#include "page_reporting.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace treadle {

bool host_takes_back_free_memory() {
  // VIRTIO_BALLOON_F_REPORTING is feature bit 5; sysfs shows the features as '0'/'1' by bit.
  constexpr std::size_t reporting_bit = 5;
  std::error_code ec;
  std::filesystem::directory_iterator it("/sys/bus/virtio/drivers/virtio_balloon", ec), end;
  for (; !ec && it != end; it.increment(ec)) {  // the driver's entries: its devices, and others
    std::string features;
    if (std::ifstream(it->path() / "features") >> features)
      if (features.size() > reporting_bit && features[reporting_bit] == '1') return true;
  }
  return false;
}

}  // namespace treadle
