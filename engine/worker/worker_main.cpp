// The worker program's main(), shared by treadle-worker and workers extended with own task
// types (see docs/extending.md): parse the command line, connect, serve until told to stop.
#include "worker_main.hpp"

#include "job_end.hpp"

#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "../common/auth.hpp"
#include "../common/cli.hpp"
#include "../common/log.hpp"
#include "cancellation.hpp"
#include "private_files.hpp"
#include "same_host_handoff.hpp"
#include "worker.hpp"
#include "worker_name.hpp"

namespace {
const char* usage =
    "usage: treadle-worker HOST:PORT [--cpus N] [--workdir DIR] [--listen HOST] [--secret-file FILE]\n"
    "                      [--memory-limit BYTES] [--python PATH] [--job ID] [--no-same-host-handoff]\n"
    "                      [--receive-pool BYTES] [--receive-pool-idle MS] [--receive-pool-prefault BYTES]\n"
    "                      [--receive-huge-pages auto|yes|no]\n"
    "  Runs tasks for the treadle server at HOST:PORT. --cpus defaults to 1; objects beyond\n"
    "  --memory-limit spill to the work directory. Python tasks run in --python\n"
    "  (default /usr/bin/python3) executors, one per cpu. --job names the batch job the worker\n"
    "  runs in (its name becomes 'HOST:PID (job ID)', which treadle-cluster status matches).\n"
    "  Large objects of workers on the same host are taken by their files, not copied, unless\n"
    "  --no-same-host-handoff (or TREADLE_SAME_HOST_HANDOFF=0) says to fetch them over the network.\n"
    "  The memory of large objects received over the network is kept when they are freed, for the\n"
    "  next ones: at most --receive-pool bytes (default a quarter of the memory limit, at most\n"
    "  1 GiB; 0: none), given back after --receive-pool-idle ms unused (default 60000).\n"
    "  --receive-pool-prefault touches that many bytes of it (at most --receive-pool) as the\n"
    "  worker starts, in the background, and keeps them when idle: the first large object\n"
    "  received lands in warm memory (default 0). Fresh memory for them comes in huge pages\n"
    "  unless --receive-huge-pages no, or auto (the default) on a VM whose host takes freed\n"
    "  memory back (free page reporting), where 4 KiB pages are much likelier to be backed.\n";
treadle::Worker* g_worker = nullptr;
void on_signal(int) {
  treadle::note_stop_signal();
  if (g_worker) g_worker->stop();
}
}  // namespace

namespace treadle {

int run_worker_main(int argc, char** argv, TaskRegistry registry) {
  private_files::make_private();  // before anything is created
  try {
    CommandLine cli(argc, argv, {"cpus", "workdir", "listen", "secret-file", "memory-limit", "server-timeout", "python", "job",
                                     "receive-pool", "receive-pool-idle", "receive-pool-prefault", "receive-huge-pages"},
                    {"help", "debug", "no-same-host-handoff"});
    if (cli.flags.count("help")) {
      std::cout << usage;
      return 0;
    }
    if (cli.positional.size() != 1) throw UsageError("give the server as HOST:PORT");
    if (cli.flags.count("debug")) log::set_level(log::Level::debug);
    const std::string& target = cli.positional[0];
    auto colon = target.rfind(':');
    if (colon == std::string::npos || colon == 0) throw UsageError("give the server as HOST:PORT, not '" + target + "'");
    WorkerOptions options;
    options.server_host = target.substr(0, colon);
    options.server_port = static_cast<int>(CommandLine::parse_number("the port in '" + target + "'", target.substr(colon + 1), 1, 65535));
    options.cpus = static_cast<unsigned>(cli.number("cpus", 1, 1, 4096));
    options.work_dir = cli.get("workdir");
    options.listen_host = cli.get("listen");
    if (cli.options.count("secret-file")) options.secret = load_secret(cli.get("secret-file"));
    options.memory_limit = static_cast<std::uint64_t>(cli.number("memory-limit", 0, 0, LONG_MAX));
    options.receive_pool_bytes = cli.number("receive-pool", -1, 0, LONG_MAX);
    options.receive_pool_idle_ms = cli.number("receive-pool-idle", 60000, 0, 86400000);
    options.receive_pool_prefault_bytes = cli.number("receive-pool-prefault", 0, 0, LONG_MAX);
    const std::string huge = cli.get("receive-huge-pages", "auto");
    if (huge != "auto" && huge != "yes" && huge != "no") throw UsageError("--receive-huge-pages: auto, yes or no");
    options.receive_huge_pages = huge == "auto" ? -1 : huge == "yes";
    options.server_timeout_ms = static_cast<int>(cli.number("server-timeout", 10000, 100, 86400000));
    options.python = cli.get("python", options.python);
    options.job = cli.get("job");
    options.same_host_handoff = !cli.flags.count("no-same-host-handoff") && same_host_handoff_allowed_by_environment();
    if (options.job.size() > 100) throw UsageError("--job: a job id of at most 100 characters");
    // Named from its first line on (its executors start before it says hello).
    log::set_role("worker " + worker_name(options.job));

    // Read once: each Worker below forgets the environment's secret when it starts.
    if (options.secret.empty()) options.secret = load_secret();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);  // a dead executor's pipe must give EPIPE, not kill us
    // A worker the server declared lost (a network partition, a long stall) comes back as a new
    // one: a fresh Worker, with an empty store and work directory, says hello again.
    while (true) {
      // The Worker before ended by cancelling all its tasks (their threads are gone): the new
      // one's sleeps and programs must not read that as theirs.
      cancellation::reset();
      Worker worker(options, registry);
      g_worker = &worker;
      int code = worker.run();
      g_worker = nullptr;
      if (!worker.forgotten() || stop_signal_received()) return code;
    }
  } catch (const UsageError& e) {
    std::cerr << "treadle-worker: " << e.what() << "\n" << usage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "treadle-worker: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace treadle
