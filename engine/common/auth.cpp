#include "auth.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "log.hpp"

namespace treadle {
namespace fs = std::filesystem;

namespace {
constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";
constexpr const char* user_name = "treadle";

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read secret file " + path);
  std::string secret;
  std::getline(in, secret);
  if (secret.empty()) throw std::runtime_error("secret file " + path + " is empty");
  return secret;
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::ostringstream out;
  for (std::size_t i = 0; i < bytes; ++i) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned>(rd() & 0xff));
    out << buf;
  }
  return out.str();
}

// Creates the file with O_EXCL so two processes starting at once agree on one secret.
std::string create_or_read(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd >= 0) {
    std::string secret = random_hex(32);
    std::string line = secret + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write secret file " + path);
    return secret;
  }
  // Someone else created it; it may still be being written.
  for (int i = 0; i < 50; ++i) {
    try {
      return read_secret_file(path);
    } catch (const std::exception&) {
      ::usleep(10000);
    }
  }
  return read_secret_file(path);
}

bool equal_constant_time(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}
}  // namespace

std::string default_secret_path() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    return std::string(xdg) + "/treadle/secret";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.local/share/treadle/secret";
}

std::string load_secret(const std::string& explicit_file) {
  if (!explicit_file.empty()) return read_secret_file(explicit_file);
  if (const char* env = std::getenv("TREADLE_SECRET"); env && *env) return env;
  if (const char* env = std::getenv("TREADLE_SECRET_FILE"); env && *env) return read_secret_file(env);
  return create_or_read(default_secret_path());
}

void forget_secret_variables() {
  for (const char* name : {"TREADLE_SECRET", "TREADLE_SECRET_FILE"}) {
    // The value may live in the block the kernel shows as /proc/PID/environ: blank it there.
    if (char* value = std::getenv(name)) std::memset(value, 0, std::strlen(value));
    ::unsetenv(name);
  }
}

void authenticate_as_client(zmq::socket_t& socket, const std::string& secret, const std::string& endpoint) {
  if (mechanism_for_endpoint(endpoint) == Mechanism::plain) {
    socket.set(zmq::sockopt::plain_username, user_name);
    socket.set(zmq::sockopt::plain_password, secret);
    return;
  }
  CurveKeys keys = curve_keys(secret);
  socket.set(zmq::sockopt::curve_serverkey, zmq::buffer(keys.server_public));
  socket.set(zmq::sockopt::curve_publickey, zmq::buffer(keys.client_public));
  socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(keys.client_secret));
}

void require_authentication(zmq::socket_t& socket, const std::string& secret, const std::string& bind_host) {
  if (mechanism_for_listener(bind_host) == Mechanism::plain) {
    socket.set(zmq::sockopt::plain_server, 1);
  } else {
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(curve_keys(secret).server_secret));
  }
  socket.set(zmq::sockopt::zap_domain, "treadle");
}

ZapAuthenticator::ZapAuthenticator(zmq::context_t& context, std::string secret)
    : context_(context), secret_(std::move(secret)), peer_public_key_(curve_keys(secret_).client_public) {
  // Bind before any listening socket exists, so no handshake can slip past unanswered.
  socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::rep);
  socket_->set(zmq::sockopt::linger, 0);
  socket_->bind(zap_endpoint);
  thread_ = std::thread([this] { serve(); });
}

ZapAuthenticator::~ZapAuthenticator() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::serve() {
  zmq::pollitem_t item{static_cast<void*>(*socket_), 0, ZMQ_POLLIN, 0};
  while (!stop_) {
    try {
      refusals_.tick();
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> req;
      zmq::message_t part;
      do {
        (void)socket_->recv(part);
        req.push_back(std::move(part));
      } while (req.back().more());
      // version, request id, domain, address, identity, mechanism, credentials...
      std::string request_id = req.size() > 1 ? req[1].to_string() : std::string();
      std::string address = req.size() > 3 ? req[3].to_string() : std::string();
      std::string mechanism = req.size() > 5 ? req[5].to_string() : std::string();
      // PLAIN: user name and password; CURVE: the peer's long-term public key.
      bool ok = (mechanism == "PLAIN" && req.size() >= 8 && req[6].to_string() == user_name &&
                 equal_constant_time(req[7].to_string(), secret_)) ||
                (mechanism == "CURVE" && req.size() >= 7 && equal_constant_time(req[6].to_string(), peer_public_key_));
      if (!ok) {
        ++refused_;
        refusals_.warn(address, "refused a peer from ", address, ": ",
                       mechanism == "PLAIN"   ? "wrong secret"
                       : mechanism == "CURVE" ? "a key not made from the secret"
                                              : "no credentials (mechanism " + mechanism + ")");
      }
      const char* code = ok ? "200" : "400";
      const char* text = ok ? "OK" : "bad secret";
      socket_->send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(std::string_view(code)), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(std::string_view(text)), zmq::send_flags::sndmore);
      socket_->send(zmq::buffer(std::string_view(ok ? user_name : "")), zmq::send_flags::sndmore);
      socket_->send(zmq::str_buffer(""), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (e.num() != EINTR) log::error("authenticator: ", e.what());
    }
  }
  socket_.reset();
}

}  // namespace treadle
