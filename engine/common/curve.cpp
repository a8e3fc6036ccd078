#include "curve.hpp"

#include "listening_sockets.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sodium.h>

#include <stdexcept>

namespace treadle {

namespace {
// A 32-byte key for `purpose`, from the secret (BLAKE2b keyed by the purpose).
std::string derive(const std::string& secret, const std::string& purpose) {
  unsigned char out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size());
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string public_of(const std::string& secret_key) {
  unsigned char out[crypto_scalarmult_BYTES];
  if (crypto_scalarmult_base(out, reinterpret_cast<const unsigned char*>(secret_key.data())) != 0)
    throw std::runtime_error("cannot derive a CURVE public key");
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}
}  // namespace

CurveKeys curve_keys(const std::string& secret) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  CurveKeys k;
  k.server_secret = derive(secret, "treadle curve listener v1");
  k.server_public = public_of(k.server_secret);
  k.client_secret = derive(secret, "treadle curve peer v1");
  k.client_public = public_of(k.client_secret);
  return k;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "lo" || host == "::1" || host == "[::1]") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  if (host.empty() || host == "*" || host.find(':') != std::string::npos) return false;
  // A name (Debian maps the host's own name to 127.0.1.1): loopback if all it names is.
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_INET;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return false;
  bool loopback = found != nullptr;
  for (addrinfo* a = found; a; a = a->ai_next)
    loopback = loopback && (ntohl(reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr.s_addr) >> 24) == 127;
  freeaddrinfo(found);
  return loopback;
}

Mechanism mechanism_for_listener(const std::string& bind_host) {
  return is_loopback_host(bind_host) ? Mechanism::plain : Mechanism::curve;
}

Mechanism mechanism_for_peer(const std::string& host, int port) {
  if (!is_loopback_host(host)) return Mechanism::curve;
  return listening_beyond_loopback(port) ? Mechanism::curve : Mechanism::plain;
}

Mechanism mechanism_for_endpoint(const std::string& endpoint) {
  std::string rest = endpoint.rfind("tcp://", 0) == 0 ? endpoint.substr(6) : endpoint;
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return Mechanism::curve;
  int port = 0;
  try {
    port = std::stoi(rest.substr(colon + 1));
  } catch (const std::exception&) {
    return Mechanism::curve;
  }
  return mechanism_for_peer(rest.substr(0, colon), port);
}

}  // namespace treadle
