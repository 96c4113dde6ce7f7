#include "proxy/server/buffer.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "proxy/config/config.h"
#include "proxy/net/ip_address.h"
#include "proxy/server/upstream.h"

namespace realip::server {
namespace {

TEST(BufferTest, AppendConsumeReserveCommit) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  b.Append("hello ");
  char* p = b.Reserve(16);
  std::memcpy(p, "world", 5);
  b.Commit(5);
  EXPECT_EQ(b.view(), "hello world");
  b.Consume(6);
  EXPECT_EQ(b.view(), "world");
  b.Consume(5);
  EXPECT_TRUE(b.empty());
  b.AppendChunk("abc");
  b.AppendChunk("");
  EXPECT_EQ(b.view(), "3\r\nabc\r\n");
  b.Release();
  EXPECT_EQ(b.size(), 0u);
}

TEST(BufferTest, LongStreamStaysCompact) {
  Buffer b;
  std::string block(4096, 'x');
  for (int i = 0; i < 1000; ++i) {
    b.Append(block);
    b.Consume(block.size() - 1);  // leave one byte each time: never fully empty
  }
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.view(), std::string(1000, 'x'));
}

TEST(RoundRobinPickerTest, RotatesOverPrimariesAndFallsBackToBackups) {
  config::Upstream upstream;
  upstream.name = "pool";
  auto server = [](const char* ip, bool backup, bool down) {
    config::UpstreamServer s;
    s.addresses.push_back(net::SocketAddress{*net::IpAddress::Parse(ip), 80, false});
    s.backup = backup;
    s.down = down;
    return s;
  };
  upstream.servers = {server("10.0.0.1", false, false), server("10.0.0.2", false, false),
                      server("10.0.0.3", false, true), server("10.0.0.9", true, false)};
  RoundRobinPicker picker;
  std::string seen;
  for (int i = 0; i < 4; ++i) seen += picker.Pick(upstream, 0)->ip.ToString() + " ";
  EXPECT_EQ(seen, "10.0.0.2 10.0.0.1 10.0.0.2 10.0.0.1 ");
  // A retry within one request moves to the next peer and stops after all were tried.
  const net::SocketAddress* first = picker.Pick(upstream, 0);
  const net::SocketAddress* second = picker.Pick(upstream, 1);
  EXPECT_NE(first->ip, second->ip);
  EXPECT_EQ(picker.Pick(upstream, 2), nullptr);
  upstream.servers[0].down = true;
  upstream.servers[1].down = true;
  EXPECT_EQ(picker.Pick(upstream, 0)->ip.ToString(), "10.0.0.9");
}

}  // namespace
}  // namespace realip::server
