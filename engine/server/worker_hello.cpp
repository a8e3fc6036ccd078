#include "worker_hello.hpp"

#include "../common/message_fields.hpp"

namespace treadle {

WorkerHello check_worker_hello(const json& header) {
  WorkerHello w;
  w.cpus = static_cast<std::uint32_t>(fields::unsigned_integer(header, "cpus", 1, max_worker_cpus));
  w.data_address = fields::text(header, "data_address", fields::max_name, true);
  // Other workers connect there: tcp://HOST:PORT with a port in range.
  auto colon = w.data_address.rfind(':');
  bool ok = w.data_address.rfind("tcp://", 0) == 0 && colon != std::string::npos && colon > 6 &&
            colon + 1 < w.data_address.size() && colon + 6 >= w.data_address.size();
  unsigned long port = 0;
  for (std::size_t i = colon + 1; ok && i < w.data_address.size(); ++i) {
    ok = w.data_address[i] >= '0' && w.data_address[i] <= '9';
    port = port * 10 + static_cast<unsigned long>(w.data_address[i] - '0');
  }
  if (!ok || port == 0 || port > 65535)
    throw ProtocolError("field 'data_address' must be tcp://HOST:PORT, not '" + w.data_address + "'");
  w.types = fields::texts(header, "types", 65535 - 64, fields::max_name);  // the scheduler's type table
  for (auto& t : w.types)
    if (t.empty()) throw ProtocolError("field 'types' must not hold an empty symbol");
  return w;
}

}  // namespace treadle
