// realip-floor-relay: the bench's floor, not a product. A one-thread relay that makes the
// system calls a proxy must make for each request and does nothing else: no HTTP parsing
// beyond finding where a request and a response end, no headers added, no client-IP
// resolution, no logging, no metrics, no timeouts. Its rate in a scenario is the most that
// any one-thread proxy with the same system calls (read and write on each side, keep-alive
// to the backend) could reach on this machine in that run; docs/performance.md uses it to
// tell the kernel's share from ours.
//
//   realip-floor-relay BACKEND_PORT PLAIN_PORT [PROXY_PORT...]
//
// Everything is on 127.0.0.1. Connections on PLAIN_PORT carry HTTP; those on a PROXY_PORT
// start with a PROXY v1 or v2 header, which is dropped. Requests are GETs without a body,
// one at a time per connection (wrk and realip-loadgen send them so), forwarded as they were
// read once their head is whole; a request with
// "Connection: close" is forwarded without that line, and the client's connection is closed
// after the response (its last bytes sent with MSG_MORE, as realip-proxy does). Responses
// must carry Content-Length. Backend connections are kept in a pool (last in, first out)
// and shared by all client connections. Each socket is registered once, edge-triggered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kReadSize = 16384;
constexpr std::string_view kCloseLine = "\r\nConnection: close";

struct Conn;
std::vector<Conn*> pool;       // idle backend connections
std::vector<Conn*> graveyard;  // closed this batch, freed after it (events may still name them)
int backend_port = 0;
int epfd = -1;

struct Conn {
  int fd = -1;
  bool backend = false;
  bool proxy_header = false;  // a client whose PROXY header is still to be dropped
  bool close_after = false;   // a client that asked for the close
  Conn* peer = nullptr;       // the backend serving this client's request, or its client
  std::string pending;        // bytes that did not fit in the socket
  // Backend side: bytes of the current response still to come (head + body), or
  // std::string::npos while the head is incomplete.
  size_t remaining = std::string::npos;
  std::string head;     // backend side: a response head split across reads
  std::string partial;  // client side: a PROXY header or request head split across reads
};

void Fail(const char* what) {
  std::perror(what);
  std::exit(1);
}

void Register(Conn* c) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = c;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) Fail("epoll_ctl");
}

void Destroy(Conn* c) {
  close(c->fd);  // also leaves the epoll set
  c->fd = -1;
  graveyard.push_back(c);
}

void CloseClient(Conn* client) {
  if (client->peer != nullptr) {  // a request in flight: its backend connection is unusable
    client->peer->peer = nullptr;
    Destroy(client->peer);
  }
  Destroy(client);
}

// Sends iov in full or keeps the rest in c->pending (sent when the socket is writable).
bool SendAll(Conn* c, iovec* iov, int n, int flags) {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(n);
  ssize_t w = sendmsg(c->fd, &msg, flags | MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN) return false;
  size_t sent = w < 0 ? 0 : static_cast<size_t>(w);
  for (int i = 0; i < n; ++i) {
    if (sent >= iov[i].iov_len) {
      sent -= iov[i].iov_len;
      continue;
    }
    c->pending.append(static_cast<const char*>(iov[i].iov_base) + sent, iov[i].iov_len - sent);
    sent = 0;
  }
  return true;
}

// A nonblocking TCP socket with `option` set to 1, and 127.0.0.1:port.
int LoopbackSocket(int port, int level, int option, sockaddr_in* sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) Fail("socket");
  int one = 1;
  setsockopt(fd, level, option, &one, sizeof one);
  *sa = sockaddr_in{};
  sa->sin_family = AF_INET;
  sa->sin_port = htons(static_cast<uint16_t>(port));
  sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return fd;
}

Conn* TakeBackend() {
  if (!pool.empty()) {
    Conn* b = pool.back();
    pool.pop_back();
    return b;
  }
  sockaddr_in sa;
  int fd = LoopbackSocket(backend_port, IPPROTO_TCP, TCP_NODELAY, &sa);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    Fail("connect");
  }
  auto* b = new Conn;
  b->fd = fd;
  b->backend = true;
  Register(b);
  return b;
}

// Length of the PROXY header at the start of data, 0 while incomplete.
size_t ProxyHeaderLength(std::string_view data) {
  constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
  if (kV2Signature.starts_with(data.substr(0, kV2Signature.size()))) {  // v2, or a part of it
    if (data.size() < 16) return 0;
    size_t len = 16 + (size_t{static_cast<unsigned char>(data[14])} << 8 |
                       size_t{static_cast<unsigned char>(data[15])});
    return data.size() >= len ? len : 0;
  }
  size_t eol = data.find("\r\n");
  return eol == std::string_view::npos ? 0 : eol + 2;
}

void ForwardRequest(Conn* c, std::string_view data) {
  if (c->peer == nullptr) c->peer = TakeBackend(), c->peer->peer = c;
  iovec iov[2];
  int n = 1;
  iov[0] = {const_cast<char*>(data.data()), data.size()};
  if (size_t at = data.find(kCloseLine); at != std::string_view::npos) {
    c->close_after = true;  // forward the request without its "Connection: close" line
    size_t after = at + kCloseLine.size();
    iov[0].iov_len = at;
    iov[1] = {const_cast<char*>(data.data() + after), data.size() - after};
    n = 2;
  }
  if (!SendAll(c->peer, iov, n, 0)) Fail("send to backend");
}

void OnClientReadable(Conn* c) {
  char buf[kReadSize];
  for (;;) {
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
      CloseClient(c);
      return;
    }
    if (r < 0) return;
    std::string_view data(buf, static_cast<size_t>(r));
    if (!c->partial.empty()) data = c->partial.append(data);
    size_t skip = c->proxy_header ? ProxyHeaderLength(data) : 0;
    if (c->proxy_header && skip != 0) c->proxy_header = false;
    data.remove_prefix(skip);
    if (c->proxy_header || data.find("\r\n\r\n") == std::string_view::npos) {
      c->partial = std::string(data);  // the rest of the header or of the request is to come
    } else {
      ForwardRequest(c, data);
      c->partial.clear();
    }
    if (static_cast<size_t>(r) < sizeof buf) return;  // a short read emptied the socket
  }
}

// Finds the end of the response head and its Content-Length; false while incomplete.
bool ParseHead(Conn* b, std::string_view data) {
  size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) return false;
  size_t at = data.find("Content-Length: ");
  if (at == std::string_view::npos || at > end) Fail("response without Content-Length");
  b->remaining = end + 4 + std::strtoul(data.data() + at + 16, nullptr, 10);
  return true;
}

void OnBackendReadable(Conn* b) {
  char buf[kReadSize];
  for (;;) {
    ssize_t r = recv(b->fd, buf, sizeof buf, 0);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {  // the backend closed a connection
      if (b->peer != nullptr) {
        CloseClient(b->peer);
      } else {
        pool.erase(std::find(pool.begin(), pool.end(), b));
        Destroy(b);
      }
      return;
    }
    if (r < 0) return;
    Conn* client = b->peer;
    if (client == nullptr) Fail("response with no request");
    std::string_view data(buf, static_cast<size_t>(r));
    if (b->remaining == std::string::npos) {
      // The head so far: this read, or the reads before it and this one.
      if (!b->head.empty()) data = b->head.append(data);
      if (!ParseHead(b, data)) {
        if (b->head.empty()) b->head.assign(data);
        if (static_cast<size_t>(r) < sizeof buf) return;
        continue;
      }
    }
    b->remaining -= std::min(b->remaining, data.size());
    bool last = b->remaining == 0;
    iovec iov{const_cast<char*>(data.data()), data.size()};
    bool closing = last && client->close_after;
    bool sent = SendAll(client, &iov, 1, closing ? MSG_MORE : 0);
    b->head.clear();  // sent, or copied into the client's pending bytes
    if (!sent) {
      CloseClient(client);
      return;
    }
    if (last) {
      b->remaining = std::string::npos;
      b->peer = nullptr;
      client->peer = nullptr;
      pool.push_back(b);
      if (closing && client->pending.empty()) Destroy(client);
      return;
    }
    if (static_cast<size_t>(r) < sizeof buf) return;
  }
}

void OnWritable(Conn* c) {
  if (c->pending.empty()) return;
  ssize_t w = send(c->fd, c->pending.data(), c->pending.size(), MSG_NOSIGNAL);
  if (w < 0) {
    if (errno == EAGAIN) return;
    if (c->backend) Fail("send to backend");
    CloseClient(c);
    return;
  }
  c->pending.erase(0, static_cast<size_t>(w));
  if (c->pending.empty() && !c->backend && c->close_after && c->peer == nullptr) Destroy(c);
}

int Listen(int port) {
  sockaddr_in sa;
  int fd = LoopbackSocket(port, SOL_SOCKET, SO_REUSEADDR, &sa);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) Fail("bind");
  if (listen(fd, 4096) != 0) Fail("listen");
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s BACKEND_PORT PLAIN_PORT [PROXY_PORT...]\n", argv[0]);
    return 2;
  }
  backend_port = std::atoi(argv[1]);
  epfd = epoll_create1(0);
  // Listeners are told apart from connections by their data: a tagged small integer.
  std::vector<int> listeners;
  for (int i = 2; i < argc; ++i) {
    int fd = Listen(std::atoi(argv[i]));
    listeners.push_back(fd);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(listeners.size() - 1) << 1 | 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) Fail("epoll_ctl");
  }
  epoll_event events[512];
  for (;;) {
    int n = epoll_wait(epfd, events, 512, -1);
    if (n < 0 && errno != EINTR) Fail("epoll_wait");
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 & 1) {
        size_t index = events[i].data.u64 >> 1;
        for (;;) {
          int fd = accept4(listeners[index], nullptr, nullptr, SOCK_NONBLOCK);
          if (fd < 0) break;
          auto* c = new Conn;
          c->fd = fd;
          c->proxy_header = index > 0;
          Register(c);
        }
        continue;
      }
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c->fd >= 0 && (events[i].events & EPOLLOUT)) OnWritable(c);
      if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        if (c->backend)
          OnBackendReadable(c);
        else
          OnClientReadable(c);
      }
    }
    for (Conn* c : graveyard) delete c;
    graveyard.clear();
  }
}
