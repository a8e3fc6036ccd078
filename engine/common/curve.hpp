#pragma once
// Which ZeroMQ security mechanism a link uses, and the CURVE keys for the ones that encrypt.
//
// PLAIN sends the secret in clear, so it is kept for listeners bound to loopback only (where
// nobody else can watch the traffic and copying bytes costs nothing extra). Every other
// listener (a network address, or all addresses) uses CURVE: peers are authenticated by key
// and the traffic is encrypted. Both key pairs (one for listeners, one shared by connecting
// peers) are derived from the shared secret, so they are stored exactly as the secret is
// (0600) and every peer that knows the secret has them; CurveZMQ's per-connection short-term
// keys keep each connection's traffic private.
#include <string>

namespace treadle {

enum class Mechanism { plain, curve };

struct CurveKeys {
  std::string server_public, server_secret;  // 32 bytes each
  std::string client_public, client_secret;
};

CurveKeys curve_keys(const std::string& secret);

// The listening side: PLAIN only for a loopback address (127.0.0.0/8, ::1, localhost).
Mechanism mechanism_for_listener(const std::string& bind_host);
// The connecting side, which must choose as the listener did. A non-loopback host: CURVE. A
// loopback one: the listener may be bound to all addresses (and so use CURVE), which this
// host's listening sockets tell (listening_sockets.hpp).
Mechanism mechanism_for_peer(const std::string& host, int port);
// Same, from a ZeroMQ endpoint "tcp://host:port".
Mechanism mechanism_for_endpoint(const std::string& endpoint);

bool is_loopback_host(const std::string& host);

}  // namespace treadle
