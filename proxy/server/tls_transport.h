// The TLS transport: tls::Connection behind the session's Transport seam.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proxy/server/socket.h"
#include "proxy/tls/tls.h"

namespace realip::server {

class TlsTransport : public Transport {
 public:
  explicit TlsTransport(std::unique_ptr<tls::Connection> conn) : conn_(std::move(conn)) {}
  IoResult Read(char* buf, size_t len) override;
  IoResult Write(std::string_view data) override;
  void ShutdownWrite() override { conn_->Shutdown(); }
  bool ShortReadDrains() const override { return conn_->drained(); }
  bool ReadWantsWrite() const override { return conn_->read_wants_write(); }
  bool WriteWantsRead() const override { return conn_->write_wants_read(); }

  tls::Connection& connection() { return *conn_; }

 private:
  std::unique_ptr<tls::Connection> conn_;
};

// nginx's answer to plain HTTP on a TLS port: a 400 page whose title says why.
inline constexpr std::string_view kPlainHttpToHttpsPage =
    "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n"
    "<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
    "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
    "<hr><center>realip-proxy</center>\r\n</body>\r\n</html>\r\n";

}  // namespace realip::server
