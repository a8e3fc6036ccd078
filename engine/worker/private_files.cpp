#include "private_files.hpp"

#include <sys/stat.h>

namespace treadle::private_files {
namespace {
mode_t remembered = 022;
}

void make_private() { remembered = ::umask(077); }

mode_t user_umask() { return remembered; }

}  // namespace treadle::private_files
