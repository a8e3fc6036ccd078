// treadle-server: the scheduler as a standalone program, for scripts and clusters.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "common/auth.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/return_memory.hpp"
#include "server/server.hpp"

namespace {
const char* usage =
    "usage: treadle-server [--host HOST] [--port PORT] [--secret-file FILE] [--worker-timeout MS]\n"
    "                      [--client-timeout MS] [--client-grace SECONDS] [--worker-grace SECONDS]\n"
    "  Runs a treadle server. It listens on 127.0.0.1 unless --host says otherwise; port 0 picks\n"
    "  a free port. Peers must know the secret (--secret-file, $TREADLE_SECRET, $TREADLE_SECRET_FILE\n"
    "  or the per-user file). Prints 'listening HOST PORT' on stdout once ready.\n"
    "  A client silent for --client-timeout (15000 ms) whose connection is still open (a paused\n"
    "  process, a laptop asleep) keeps its session for --client-grace seconds (300); one whose\n"
    "  connection closed is dropped then, and its futures released.\n"
    "  A task that only a worker that left could run (its cpus, its type) waits --worker-grace\n"
    "  seconds (30) for a worker that fits to join, then fails.\n";
volatile std::sig_atomic_t g_stop = 0;
}  // namespace

int main(int argc, char** argv) {
  using namespace treadle;
  return_big_blocks_when_freed();
  try {
    CommandLine cli(argc, argv, {"host", "port", "secret-file", "worker-timeout", "client-timeout", "client-grace", "worker-grace"}, {"help", "debug"});
    if (cli.flags.count("help")) {
      std::cout << usage;
      return 0;
    }
    if (!cli.positional.empty()) throw UsageError("unexpected argument '" + cli.positional[0] + "'");
    if (cli.flags.count("debug")) log::set_level(log::Level::debug);
    log::set_role("server");
    ServerOptions options;
    options.host = cli.get("host", "127.0.0.1");
    options.port = static_cast<int>(cli.number("port", 9010, 0, 65535));
    options.secret = load_secret(cli.get("secret-file"));
    options.worker_timeout_ms = static_cast<int>(cli.number("worker-timeout", 3000, 100, 86400000));
    options.client_timeout_ms = static_cast<int>(cli.number("client-timeout", 15000, 100, 86400000));
    options.client_grace_s = static_cast<int>(cli.number("client-grace", options.client_grace_s, 0, 31 * 86400));
    options.worker_grace_s = static_cast<int>(cli.number("worker-grace", options.worker_grace_s, 0, 31 * 86400));

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // only the main thread takes them, below

    Server server(options);
    server.start();
    std::printf("listening %s %d\n", options.host.c_str(), server.port());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    log::info("stopping on signal ", sig);
    server.stop();
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "treadle-server: " << e.what() << "\n" << usage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "treadle-server: " << e.what() << "\n";
    return 1;
  }
}
