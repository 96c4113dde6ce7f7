// realip-loadgen: the benchmark driver for scenarios that wrk cannot express: every
// connection opened with a PROXY v1 or v2 header (scenarios B and C), and open-loop load at
// a fixed rate, where latency is counted from the time a request was scheduled so that a
// stall is not hidden (coordinated omission).
//
//   realip-loadgen --port P [--host 127.0.0.1] [--connections 64] [--duration 10]
//                  [--mode keepalive|close] [--proxy none|v1|v2] [--rate R]
//                  [--path /] [--xff "a, b, c"]
//
// Prints one JSON object: requests, errors, seconds, rps, p50_ms, p99_ms, max_ms.
#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 64;
  double duration = 10;
  bool keepalive = true;
  std::string proxy = "none";
  double rate = 0;  // requests per second in total; 0 = closed loop (as fast as answered)
  std::string path = "/";
  std::string xff;
};

struct Stats {
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::vector<double> latencies_ms;
};

struct Loadgen;

struct Conn {
  Loadgen* gen = nullptr;
  int fd = -1;
  event* ev = nullptr;
  std::string out;
  size_t out_off = 0;
  std::string in;
  bool busy = false;
  bool watch_write = false;
  bool sent_proxy = false;
  Clock::time_point started;  // scheduled (open loop) or sent (closed loop) time
  int index = 0;
};

struct Loadgen {
  Options opt;
  event_base* base = nullptr;
  sockaddr_in addr{};
  std::string request;
  std::vector<Conn> conns;
  std::deque<Clock::time_point> backlog;  // open loop: scheduled but not yet sent
  Stats stats;
  Clock::time_point end;
  bool stopping = false;
  uint16_t next_port = 10000;

  void Start(Conn& c);
  void Close(Conn& c, bool error);
  void Issue(Conn& c, Clock::time_point scheduled);
  void IssueNext(Conn& c);
  void Flush(Conn& c);
  void OnReadable(Conn& c);
};

std::string ProxyHeader(const std::string& kind, int index) {
  // A distinct client per connection, from the documentation range 203.0.113.0/24.
  std::string src = "203.0.113." + std::to_string(1 + index % 250);
  int sport = 20000 + index % 40000;
  if (kind == "v1") {
    return "PROXY TCP4 " + src + " 127.0.0.1 " + std::to_string(sport) + " 8080\r\n";
  }
  if (kind == "v2") {
    static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                          0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    std::string h(reinterpret_cast<const char*>(sig), 12);
    h.push_back(static_cast<char>(0x21));  // version 2, PROXY
    h.push_back(static_cast<char>(0x11));  // INET, STREAM
    h.push_back(0);
    h.push_back(12);
    in_addr a{}, b{};
    inet_pton(AF_INET, src.c_str(), &a);
    inet_pton(AF_INET, "127.0.0.1", &b);
    h.append(reinterpret_cast<const char*>(&a), 4);
    h.append(reinterpret_cast<const char*>(&b), 4);
    uint16_t sp = htons(static_cast<uint16_t>(sport)), dp = htons(8080);
    h.append(reinterpret_cast<const char*>(&sp), 2);
    h.append(reinterpret_cast<const char*>(&dp), 2);
    return h;
  }
  return "";
}

void OnEvent(evutil_socket_t, short what, void* arg) {
  Conn& c = *static_cast<Conn*>(arg);
  Loadgen& g = *c.gen;
  // A failed connect shows as an error on the write or the read that follows.
  if (what & EV_WRITE) g.Flush(c);
  if ((what & EV_READ) && c.fd >= 0) g.OnReadable(c);
}

// The connection's event: readable only, or also writable while a write waits for room. A
// connection registers once and is written to at once; only a write that would block (the
// connection not yet established, or a full socket buffer) asks for writability.
void Watch(Conn& c, bool write) {
  if (c.ev != nullptr && c.watch_write == write) return;
  if (c.ev != nullptr) event_free(c.ev);
  c.watch_write = write;
  c.ev = event_new(c.gen->base, c.fd, EV_READ | (write ? EV_WRITE : 0) | EV_ET | EV_PERSIST,
                   OnEvent, &c);
  event_add(c.ev, nullptr);
}

void Loadgen::Start(Conn& c) {
  c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (opt.keepalive) {
    // Later requests follow a response; a connection that writes once needs no option.
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  c.sent_proxy = false;
  c.in.clear();
  c.out.clear();
  c.out_off = 0;
  if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno != EINPROGRESS) {
    stats.errors++;
    close(c.fd);
    c.fd = -1;
    return;
  }
  Watch(c, false);
}

void Loadgen::Close(Conn& c, bool error) {
  if (error) stats.errors++;
  if (c.ev != nullptr) {
    event_free(c.ev);
    c.ev = nullptr;
  }
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
  c.busy = false;
  if (stopping) return;
  if (error) {
    // Reopen a millisecond later from the event loop, not from here: a refused connection fails
    // on its first write, and would otherwise reopen and fail again without ever returning to
    // the loop (which would then never see the end of the run).
    static const timeval kRetry{0, 1000};
    event_base_once(
        base, -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* arg) {
          Conn& conn = *static_cast<Conn*>(arg);
          if (conn.gen->stopping || conn.fd >= 0) return;
          conn.gen->Start(conn);
          conn.gen->IssueNext(conn);
        },
        &c, &kRetry);
    return;
  }
  Start(c);
  IssueNext(c);
}

// The next request for an idle connection: at once in closed loop, else the oldest one the
// schedule has already made due (none yet: the connection waits for the ticker).
void Loadgen::IssueNext(Conn& c) {
  if (opt.rate <= 0) {
    Issue(c, Clock::now());
  } else if (!backlog.empty()) {
    Clock::time_point t = backlog.front();
    backlog.pop_front();
    Issue(c, t);
  }
}

void Loadgen::Issue(Conn& c, Clock::time_point scheduled) {
  if (c.fd < 0) return;
  c.busy = true;
  c.started = opt.rate > 0 ? scheduled : Clock::now();
  if (!c.sent_proxy) {
    c.out += ProxyHeader(opt.proxy, c.index);
    c.sent_proxy = true;
  }
  c.out += request;
  Flush(c);
}

void Loadgen::Flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = write(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off);
    if (n < 0) {
      if (errno == EAGAIN) {
        Watch(c, true);
        return;
      }
      Close(c, true);
      return;
    }
    c.out_off += static_cast<size_t>(n);
  }
  c.out.clear();
  c.out_off = 0;
  Watch(c, false);
}

void Loadgen::OnReadable(Conn& c) {
  char buf[16384];
  bool eof = false;
  // Edge-triggered: read until a short read, which emptied the socket. A connection that closes
  // after its response reads it once and closes without waiting to read the end of input.
  for (;;) {
    ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof(buf)) break;
      continue;
    }
    if (n < 0 && errno == EAGAIN) break;
    eof = true;
    break;
  }
  for (;;) {
    size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      // Closed by the server: fine between responses, an error in the middle of one.
      if (eof) Close(c, c.busy);
      return;
    }
    size_t body = 0;
    size_t cl = c.in.find("Content-Length:");
    if (cl == std::string::npos) cl = c.in.find("content-length:");
    if (cl != std::string::npos && cl < head_end) body = std::strtoul(c.in.c_str() + cl + 15, nullptr, 10);
    if (c.in.size() < head_end + 4 + body) {
      if (eof) Close(c, true);
      return;
    }
    bool ok = c.in.compare(0, 12, "HTTP/1.1 200") == 0 || c.in.compare(0, 12, "HTTP/1.0 200") == 0;
    c.in.erase(0, head_end + 4 + body);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - c.started).count();
    if (ok) {
      stats.requests++;
      stats.latencies_ms.push_back(ms);
    } else {
      stats.errors++;
    }
    c.busy = false;
    if (Clock::now() >= end) stopping = true;
    if (stopping) return;
    if (!opt.keepalive) {
      Close(c, false);
      return;
    }
    IssueNext(c);
  }
}

struct Ticker {
  Loadgen* gen;
  Clock::time_point next;
  std::chrono::nanoseconds interval;
};

void OnTick(evutil_socket_t, short, void* arg) {
  Ticker& t = *static_cast<Ticker*>(arg);
  Loadgen& g = *t.gen;
  Clock::time_point now = Clock::now();
  if (now >= g.end) {
    g.stopping = true;
    event_base_loopexit(g.base, nullptr);
    return;
  }
  // Schedule every request whose time has come; hand each to an idle connection or queue it.
  while (t.next <= now) {
    g.backlog.push_back(t.next);
    t.next += t.interval;
  }
  for (Conn& c : g.conns) {
    if (g.backlog.empty()) break;
    if (!c.busy && c.fd >= 0) {
      Clock::time_point s = g.backlog.front();
      g.backlog.pop_front();
      g.Issue(c, s);
    }
  }
}

void OnEnd(evutil_socket_t, short, void* arg) {
  Loadgen& g = *static_cast<Loadgen*>(arg);
  g.stopping = true;
  event_base_loopexit(g.base, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  Loadgen g;
  Options& o = g.opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--host") o.host = v;
    else if (k == "--port") o.port = std::atoi(v.c_str());
    else if (k == "--connections") o.connections = std::atoi(v.c_str());
    else if (k == "--duration") o.duration = std::atof(v.c_str());
    else if (k == "--mode") o.keepalive = v != "close";
    else if (k == "--proxy") o.proxy = v;
    else if (k == "--rate") o.rate = std::atof(v.c_str());
    else if (k == "--path") o.path = v;
    else if (k == "--xff") o.xff = v;
    else {
      std::fprintf(stderr, "realip-loadgen: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.port <= 0 || (o.proxy != "none" && o.proxy != "v1" && o.proxy != "v2")) {
    std::fprintf(stderr, "usage: realip-loadgen --port P [--proxy none|v1|v2] ...\n");
    return 2;
  }
  g.addr.sin_family = AF_INET;
  g.addr.sin_port = htons(static_cast<uint16_t>(o.port));
  inet_pton(AF_INET, o.host.c_str(), &g.addr.sin_addr);
  g.request = "GET " + o.path + " HTTP/1.1\r\nHost: bench.test\r\n";
  if (!o.xff.empty()) g.request += "X-Forwarded-For: " + o.xff + "\r\n";
  if (!o.keepalive) g.request += "Connection: close\r\n";
  g.request += "\r\n";

  // Precise timers (timerfd): the open-loop schedule needs sub-millisecond ticks.
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
  g.base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  g.end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(o.duration));
  g.conns.resize(static_cast<size_t>(o.connections));
  for (int i = 0; i < o.connections; ++i) {
    g.conns[i].gen = &g;
    g.conns[i].index = i;
    g.Start(g.conns[i]);
    if (o.rate <= 0) g.Issue(g.conns[i], Clock::now());
  }
  Ticker ticker{&g, Clock::now(),
                std::chrono::nanoseconds(o.rate > 0 ? static_cast<int64_t>(1e9 / o.rate) : 0)};
  event* tick = nullptr;
  if (o.rate > 0) {
    tick = event_new(g.base, -1, EV_PERSIST, OnTick, &ticker);
    timeval tv{0, 100};
    event_add(tick, &tv);
  }
  event* stop = evtimer_new(g.base, OnEnd, &g);
  timeval d{static_cast<time_t>(o.duration), static_cast<suseconds_t>((o.duration - static_cast<time_t>(o.duration)) * 1e6)};
  evtimer_add(stop, &d);
  Clock::time_point began = Clock::now();
  event_base_dispatch(g.base);
  double secs = std::chrono::duration<double>(Clock::now() - began).count();
  // Requests scheduled but never sent count as late: their latency runs to the end.
  for (Clock::time_point t : g.backlog) {
    g.stats.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  std::vector<double>& l = g.stats.latencies_ms;
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) { return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))]; };
  std::printf("{\"requests\": %llu, \"errors\": %llu, \"seconds\": %.3f, \"rps\": %.1f, "
              "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
              static_cast<unsigned long long>(g.stats.requests),
              static_cast<unsigned long long>(g.stats.errors), secs, g.stats.requests / secs,
              pct(0.5), pct(0.99), l.empty() ? 0.0 : l.back());
  for (Conn& c : g.conns) {
    if (c.ev) event_free(c.ev);
    if (c.fd >= 0) close(c.fd);
  }
  if (tick) event_free(tick);
  event_free(stop);
  event_base_free(g.base);
  return 0;
}
