#pragma once
// Gives memory freed inside the process back to the system. glibc keeps freed memory for
// reuse: big arrays freed in the middle of its heaps, and whole arenas of a thread, stay in
// the process's RSS. After a million-task plan was freed the server stayed at several times
// its starting size; malloc_trim releases the free pages of every arena (madvise), without
// moving anything that is still in use.
#include <cstddef>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace treadle {

inline void return_freed_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// For a process that is only a server: blocks of 128 KiB and more get mappings of their own,
// returned to the system the moment they are freed. glibc otherwise raises that threshold after
// the first big free (to 32 MiB), and a thread's arena keeps freed space at its top, which
// malloc_trim does not release: a freed 200,000-task plan left ~20 MB behind. Not for processes
// that embed the server (the kernel runs the user's code, whose big allocations it would slow).
inline void return_big_blocks_when_freed() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

}  // namespace treadle
