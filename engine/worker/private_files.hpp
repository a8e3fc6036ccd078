#pragma once
// What a worker creates is its user's alone: its directory, the tasks' run directories, their
// input, stdout and stderr files, spilled objects (0700 directories, 0600 files), by the
// worker's umask 077. Programs and Python executors get the user's own umask back: what tasks
// write elsewhere (a shared project folder) keeps the modes the user expects, and what they
// write in their run directory is out of others' reach by the 0700 directories above it.
#include <sys/types.h>

namespace treadle::private_files {

// Sets the umask to 077, remembering the user's (call once, first thing).
void make_private();
// The umask the worker started with (022 if make_private was not called).
mode_t user_umask();

}  // namespace treadle::private_files
