// Which links encrypt (CURVE) and the keys they use, made from the shared secret.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/curve.hpp"

using namespace treadle;

namespace {
// A TCP socket listening on `address` (port chosen by the kernel); closed on destruction.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(const char* address) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, address, &a.sin_addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
};
}  // namespace

TEST_CASE("CURVE keys are made from the secret, the same in every process") {
  CurveKeys a = curve_keys("s3cret"), b = curve_keys("s3cret"), other = curve_keys("s3cret!");
  CHECK(a.server_public.size() == 32);
  CHECK(a.client_secret.size() == 32);
  CHECK(a.server_public == b.server_public);
  CHECK(a.client_public == b.client_public);
  CHECK(a.server_public != a.client_public);
  CHECK(a.server_public != other.server_public);
  CHECK(a.client_public != other.client_public);
}

TEST_CASE("Only loopback listeners use PLAIN") {
  CHECK(mechanism_for_listener("127.0.0.1") == Mechanism::plain);
  CHECK(mechanism_for_listener("127.3.2.1") == Mechanism::plain);
  CHECK(mechanism_for_listener("localhost") == Mechanism::plain);
  CHECK(mechanism_for_listener("::1") == Mechanism::plain);
  CHECK(mechanism_for_listener("10.213.7.1") == Mechanism::curve);
  CHECK(mechanism_for_listener("0.0.0.0") == Mechanism::curve);
  CHECK(mechanism_for_listener("*") == Mechanism::curve);
  CHECK(mechanism_for_listener("eth0") == Mechanism::curve);
}

TEST_CASE("A peer connecting through loopback chooses as the listener did") {
  Listener loopback("127.0.0.1"), everywhere("0.0.0.0");
  CHECK(mechanism_for_peer("127.0.0.1", loopback.port) == Mechanism::plain);
  CHECK(mechanism_for_peer("localhost", loopback.port) == Mechanism::plain);
  // Bound to all addresses, so it speaks CURVE, even to a peer that comes through 127.0.0.1.
  CHECK(mechanism_for_peer("127.0.0.1", everywhere.port) == Mechanism::curve);
  CHECK(mechanism_for_endpoint("tcp://127.0.0.1:" + std::to_string(everywhere.port)) == Mechanism::curve);
  CHECK(mechanism_for_endpoint("tcp://127.0.0.1:" + std::to_string(loopback.port)) == Mechanism::plain);
  CHECK(mechanism_for_endpoint("tcp://10.1.2.3:9010") == Mechanism::curve);
}
