#include "proxy/server/listeners.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "unit/temp_dir.h"

namespace realip::server {
namespace {

// A port that was free on 127.0.0.1 a moment ago.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sin), len), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  close(fd);
  return ntohs(sin.sin_port);
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0;
  close(fd);
  return ok;
}

std::shared_ptr<const config::Config> Load(const std::string& servers) {
  absl::StatusOr<std::shared_ptr<const config::Config>> c =
      config::LoadConfigFromString(absl::StrCat("http {\n", servers, "}\n"), "/tmp/t.conf");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

std::string Server(int port, const std::string& flags = "") {
  return absl::StrCat("server { listen 127.0.0.1:", port, " ", flags, "; }\n");
}

TEST(ListenerSetTest, SharedSocketOrOnePerWorker) {
  const int shared = FreePort(), per_worker = FreePort();
  ListenerSet set(3);
  ASSERT_TRUE(set.Apply(*Load(Server(shared) + Server(per_worker, "reuseport"))).ok());
  std::vector<WorkerSockets> w = {set.ForWorker(0), set.ForWorker(1), set.ForWorker(2)};
  for (const WorkerSockets& sockets : w) ASSERT_EQ(sockets.size(), 2u);
  EXPECT_EQ(w[0][0], w[1][0]);
  EXPECT_EQ(w[0][0], w[2][0]);
  EXPECT_NE(w[0][1], w[1][1]);
  EXPECT_NE(w[1][1], w[2][1]);
  EXPECT_NE(w[0][1]->fd(), w[2][1]->fd());
  EXPECT_TRUE(Accepts(shared));
  EXPECT_TRUE(Accepts(per_worker));
}

TEST(ListenerSetTest, ReloadKeepsUnchangedOpensAddedClosesRemoved) {
  const int kept = FreePort(), removed = FreePort(), added = FreePort();
  ListenerSet set(2);
  ASSERT_TRUE(set.Apply(*Load(Server(removed) + Server(kept, "reuseport"))).ok());
  WorkerSockets before = set.ForWorker(1);
  std::weak_ptr<ListenFd> gone = before[0];
  // The order changes and the backlog too: the kept address keeps its sockets.
  ASSERT_TRUE(set.Apply(*Load(Server(added) + Server(kept, "reuseport backlog=64"))).ok());
  WorkerSockets after = set.ForWorker(1);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1], before[1]);
  EXPECT_TRUE(Accepts(added));
  // The removed socket lives while a worker still holds it, then closes.
  EXPECT_FALSE(gone.expired());
  EXPECT_TRUE(Accepts(removed));
  before.clear();
  EXPECT_TRUE(gone.expired());
  EXPECT_FALSE(Accepts(removed));
  EXPECT_TRUE(Accepts(kept));
}

TEST(ListenerSetTest, FailedApplyChangesNothing) {
  const int port = FreePort(), fresh = FreePort();
  ListenerSet set(1);
  ASSERT_TRUE(set.Apply(*Load(Server(port))).ok());
  WorkerSockets before = set.ForWorker(0);
  // Something else holds the address a reload wants to add.
  ListenerSet other(1);
  const int taken = FreePort();
  ASSERT_TRUE(other.Apply(*Load(Server(taken))).ok());
  absl::Status st = set.Apply(*Load(Server(fresh) + Server(taken)));
  EXPECT_EQ(st.message(),
            absl::StrCat("bind() to 127.0.0.1:", taken, " failed (98: Address already in use)"));
  EXPECT_EQ(set.ForWorker(0), before);
  EXPECT_FALSE(Accepts(fresh));  // opened for the failed reload, closed again
  EXPECT_TRUE(Accepts(port));
}

int IntOption(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof(value);
  EXPECT_EQ(getsockopt(fd, level, name, &value, &len), 0);
  return value;
}

TEST(ListenerSetTest, SocketOptionsAreSetAndChangedOnReload) {
  const int port = FreePort();
  ListenerSet set(2);
  ASSERT_TRUE(
      set.Apply(*Load(Server(port, "deferred so_keepalive=2m:30s:4 rcvbuf=16k sndbuf=24k"))).ok());
  const std::shared_ptr<ListenFd> socket = set.ForWorker(0)[0];
  const int fd = socket->fd();
  // The kernel doubles the buffer sizes it is given (socket(7)).
  EXPECT_EQ(IntOption(fd, SOL_SOCKET, SO_RCVBUF), 2 * 16 * 1024);
  EXPECT_EQ(IntOption(fd, SOL_SOCKET, SO_SNDBUF), 2 * 24 * 1024);
  EXPECT_EQ(IntOption(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(IntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE), 120);
  EXPECT_EQ(IntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL), 30);
  EXPECT_EQ(IntOption(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
  EXPECT_GT(IntOption(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT), 0);

  // A reload keeps the socket and sets what changed; deferred not given any more is removed.
  ASSERT_TRUE(set.Apply(*Load(Server(port, "so_keepalive=off rcvbuf=32k"))).ok());
  ASSERT_EQ(set.ForWorker(0)[0], socket);
  EXPECT_EQ(IntOption(fd, SOL_SOCKET, SO_RCVBUF), 2 * 32 * 1024);
  EXPECT_EQ(IntOption(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(IntOption(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT), 0);
  // As nginx: values no longer given stay on the socket until a restart.
  EXPECT_EQ(IntOption(fd, SOL_SOCKET, SO_SNDBUF), 2 * 24 * 1024);
  EXPECT_EQ(IntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE), 120);

  ASSERT_TRUE(set.Apply(*Load(Server(port, "deferred"))).ok());
  ASSERT_EQ(set.ForWorker(0)[0], socket);
  EXPECT_GT(IntOption(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT), 0);
  EXPECT_EQ(IntOption(fd, SOL_SOCKET, SO_RCVBUF), 2 * 32 * 1024);
  EXPECT_TRUE(Accepts(port));
}

TEST(ListenerSetTest, SocketOptionsOnEveryReuseportSocket) {
  const int port = FreePort();
  ListenerSet set(2);
  ASSERT_TRUE(set.Apply(*Load(Server(port, "reuseport sndbuf=20k"))).ok());
  for (int w = 0; w < 2; ++w) {
    EXPECT_EQ(IntOption(set.ForWorker(w)[0]->fd(), SOL_SOCKET, SO_SNDBUF), 2 * 20 * 1024);
  }
  ASSERT_TRUE(set.Apply(*Load(Server(port, "reuseport sndbuf=28k"))).ok());
  for (int w = 0; w < 2; ++w) {
    EXPECT_EQ(IntOption(set.ForWorker(w)[0]->fd(), SOL_SOCKET, SO_SNDBUF), 2 * 28 * 1024);
  }
}

TEST(ListenerSetTest, UnixSocketFileGoesWithTheSocket) {
  const ScopedTempDir tmp;
  const std::string path = tmp.File("s.sock");
  struct stat st {};
  {
    ListenerSet set(2);
    ASSERT_TRUE(set.Apply(*Load(absl::StrCat("server { listen unix:", path, "; }\n"))).ok());
    EXPECT_EQ(set.ForWorker(0), set.ForWorker(1));
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    set.Clear();
    EXPECT_NE(stat(path.c_str(), &st), 0);
  }
}

}  // namespace
}  // namespace realip::server
