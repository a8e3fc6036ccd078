#pragma once
// Does this machine's host take freed memory back? On a VM whose balloon device reports free
// pages (virtio's free page reporting, as Firecracker does), the guest hands whole free blocks
// of 2 MiB and more back to the host, which unbacks them; the first write to such a page costs a
// fault on the host too (~10 µs per 4 KiB). Smaller free blocks are never reported, so memory
// taken in 4 KiB pages (which the kernel carves from the smallest free blocks first) is backed
// far more often than a transparent huge page (which needs a whole 2 MiB block): measured on
// the bench machine, fresh 4 KiB pages cost 0.04-0.06 s per 100 MiB for the first 1.7 GiB,
// fresh huge pages 0.01 s for the first ~100 MiB of recently freed blocks and 0.23 s beyond
// (bench/README.md, workload 5).
namespace treadle {

// True when a virtio balloon device on this machine has free page reporting on.
bool host_takes_back_free_memory();

}  // namespace treadle
