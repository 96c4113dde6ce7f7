#include "proxy/server/tls_transport.h"

#include <errno.h>

namespace realip::server {
namespace {

IoResult Convert(tls::Connection::Result r) {
  switch (r.kind) {
    case tls::Connection::Kind::kOk:
      return IoResult{IoResult::Kind::kOk, r.bytes, 0};
    case tls::Connection::Kind::kWouldBlock:
      return IoResult{IoResult::Kind::kWouldBlock};
    case tls::Connection::Kind::kEof:
      return IoResult{IoResult::Kind::kEof};
    case tls::Connection::Kind::kError:
      break;
  }
  return IoResult{IoResult::Kind::kError, 0, EPROTO};
}

}  // namespace

IoResult TlsTransport::Read(char* buf, size_t len) { return Convert(conn_->Read(buf, len)); }

IoResult TlsTransport::Write(std::string_view data) { return Convert(conn_->Write(data)); }

}  // namespace realip::server
