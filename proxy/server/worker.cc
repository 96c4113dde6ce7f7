#include "proxy/server/worker.h"

#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proxy/base/check.h"
#include "proxy/base/logging.h"
#include "proxy/base/status.h"
#include "proxy/server/buffer.h"
#include "proxy/server/client_session.h"
#include "proxy/server/socket.h"

namespace realip::server {

SessionStore::SessionStore() : slots_(sizeof(ClientSession), alignof(ClientSession)) {}

SessionStore::~SessionStore() { Clear(); }

bool SessionStore::Destroy(ClientSession* session) {
  // A slot's links come before the session, so a freed slot is recognised without touching
  // the destroyed object; a live one is released with the list it is on.
  if (!slots_.live(session)) return false;
  slots_.Release(session, session->reusable());
  session->~ClientSession();
  return true;
}

void SessionStore::Clear() {
  for (ClientSession* s : All()) Destroy(s);
}

std::vector<ClientSession*> SessionStore::All() const {
  std::vector<ClientSession*> all;
  all.reserve(size());
  for (void* s : slots_.All()) all.push_back(static_cast<ClientSession*>(s));
  return all;
}

Worker::Worker(int index, std::shared_ptr<const config::Config> config, const Lifecycle* lifecycle,
               metrics::Registry* registry)
    : index_(index),
      lifecycle_(lifecycle),
      registry_(registry),
      shard_(registry->NewShard()),
      request_metrics_(shard_),
      config_(std::move(config)) {
  // Before the thread starts, which orders this write before the owner's reads.
  shard_->set_collecting(config_->metrics_collection);
}

Worker::~Worker() {
  Join();
  sessions_.Clear();
  deadlines_.reset();
  upstream_deadlines_.reset();
  pool_.reset();
  listeners_.clear();
}

absl::Status Worker::Init(WorkerSockets sockets) {
  REALIP_ASSIGN_OR_RETURN(loop_, event::EventLoop::Create());
  loop_->SetAfterCallbacks([this] { RunFlushes(); });
  pool_ = std::make_unique<UpstreamPool>(*loop_);
  deadlines_ = std::make_unique<event::DeadlineQueue>(*loop_, &ClientSession::OnClientDeadline);
  upstream_deadlines_ =
      std::make_unique<event::DeadlineQueue>(*loop_, &ClientSession::OnUpstreamDeadline);
  balancers_.Prepare(*config_);
  REALIP_RETURN_IF_ERROR(waker_.Init(*loop_, [this] { OnWake(); }));
  REALIP_RETURN_IF_ERROR(access_log_.Init(*loop_));
  REALIP_RETURN_IF_ERROR(shutdown_timer_.Init(*loop_, [this] {
    // worker_shutdown_timeout passed: whatever is still open is closed now.
    for (ClientSession* s : sessions_.All()) s->Abort();
    MaybeFinishStop();
  }));
  REALIP_RETURN_IF_ERROR(trim_timer_.Init(*loop_, [this] { OnTrimTimer(); }));
  REALIP_RETURN_IF_ERROR(accept_retry_timer_.Init(*loop_, [this] {
    for (ListenSocket& l : listeners_) l.watcher->Enable();
  }));
  return WatchListeners(std::move(sockets));
}

absl::Status Worker::WatchListeners(WorkerSockets sockets) {
  // Watchers go first: a socket the new configuration dropped may close with them.
  listeners_.clear();
  for (size_t i = 0; i < sockets.size(); ++i) {
    ListenSocket l;
    l.socket = std::move(sockets[i]);
    l.watcher = std::make_unique<event::ReadWatcher>();
    REALIP_RETURN_IF_ERROR(
        l.watcher->Watch(*loop_, l.socket->fd(), [this, i] { OnAcceptable(i); }));
    listeners_.push_back(std::move(l));
  }
  return absl::OkStatus();
}

void Worker::Start() {
  thread_ = std::thread([this] {
    // Signals belong to the main thread.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    loop_->Run();
    access_log_.FlushAll();
    finished_ = true;
  });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::RequestStop(bool graceful) {
  int want = graceful ? 1 : 2;
  int cur = stop_request_.load();
  while (cur < want && !stop_request_.compare_exchange_weak(cur, want)) {
  }
  waker_.Wake();
}

void Worker::SetConfig(std::shared_ptr<const config::Config> config, WorkerSockets sockets) {
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending_config_ = std::move(config);
    pending_sockets_ = std::move(sockets);
  }
  waker_.Wake();
}

void Worker::OnWake() {
  std::shared_ptr<const config::Config> next;
  WorkerSockets sockets;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    next = std::move(pending_config_);
    sockets = std::move(pending_sockets_);
  }
  if (next != nullptr && !stopping_) {
    config_ = std::move(next);
    // Workers pick metrics_collection up with the snapshot; connections still on the old
    // one follow the new setting too (the switch is per worker, not per connection).
    shard_->set_collecting(config_->metrics_collection);
    // Fresh balancers for the new snapshot's upstreams; those of snapshots no connection
    // uses any more go (and with them the addresses peer_seen_ is keyed by).
    balancers_.Prune();
    peer_seen_.Clear();
    // Before any connection uses the new snapshot, whose objects may sit where freed ones were.
    request_metrics_.Clear();
    balancers_.Prepare(*config_);
    if (absl::Status st = WatchListeners(std::move(sockets)); !st.ok()) {
      REALIP_LOG(kError, "worker ", index_, ": watching listeners: ", st.message());
    }
    // Backend TLS sessions are keyed by location settings of one configuration; a new one
    // may have different names or trust, so nothing of the old is offered.
    tls_sessions_.Clear();
    // Lines buffered for files the new configuration does not name go now (see
    // DestroySession), rather than keep such a file open until their flush= time.
    access_log_.FlushUnnamed(config_->log_files.get());
  }
  int stop = stop_request_.load();
  if (stop != 0) BeginStop(stop == 1);
}

void Worker::BeginStop(bool graceful) {
  if (!stopping_) {
    stopping_ = true;
    // A socket closes once every worker and the main thread dropped it.
    listeners_.clear();
    accept_retry_timer_.Cancel();
    pool_->Clear();
    absl::Duration limit = config_->main.worker_shutdown_timeout;
    if (limit != absl::InfiniteDuration()) {
      shutdown_timer_.Arm(std::chrono::milliseconds(absl::ToInt64Milliseconds(limit)));
    }
  }
  for (ClientSession* s : sessions_.All()) {
    if (graceful) {
      s->Drain();
    } else {
      s->Abort();
    }
  }
  MaybeFinishStop();
}

void Worker::MaybeFinishStop() {
  if (stopping_ && sessions_.empty()) {
    shutdown_timer_.Cancel();
    loop_->Stop();
  }
}

void Worker::OnAcceptable(size_t listener_index) {
  const int listen_fd = listeners_[listener_index].socket->fd();
  // The listener is level-triggered, so connections left in the backlog are reported again by
  // the next epoll_wait. `multi_accept off` (nginx's default) takes one connection per report:
  // no accept4() that ends in EAGAIN. `multi_accept on` takes what is queued, up to 64 per
  // report so that one busy listener cannot starve the loop.
  const int max_accepts = config_->main.multi_accept ? 64 : 1;
  for (int i = 0; i < max_accepts && !stopping_; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd =
        accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      REALIP_LOG(kError, "accept4() failed (", err, ": ", std::strerror(err), ")");
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of descriptors (worker_rlimit_nofile): the listener stays readable, so stop
        // watching it for a while instead of spinning; queued connections wait in the backlog
        // (nginx does the same, ngx_disable_accept_events).
        for (ListenSocket& l : listeners_) l.watcher->Disable();
        accept_retry_timer_.Arm(std::chrono::milliseconds(500));
      }
      return;
    }
    if (sessions_.size() >= static_cast<size_t>(config_->main.worker_connections) &&
        !ReuseConnections()) {
      // worker_connections reached and nothing to reuse: refuse the newcomer, existing
      // connections are untouched.
      shard_->Add(metrics::Metric::kConnectionsRejected, {"worker_connections"});
      REALIP_LOG(kWarn, config_->main.worker_connections,
                 " worker_connections are not enough");
      close(fd);
      continue;
    }
    std::optional<net::SocketAddress> peer =
        net::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (!peer.has_value()) {
      close(fd);
      continue;
    }
    const config::Listener* listener = &config_->listeners[listener_index];
    shard_->Add(metrics::Metric::kConnectionsAccepted, {listener->text});
    ClientSession* raw = new (sessions_.Allocate())
        ClientSession(this, fd, *peer, config_, listener, ++next_connection_id_);
    sessions_.Add(raw);
    shard_->AddLevel(metrics::Metric::kConnectionsActive, 1);
    absl::Status st = raw->Start();
    if (!st.ok()) {
      REALIP_LOG(kError, "connection setup failed: ", st.message());
      sessions_.Destroy(raw);
      shard_->AddLevel(metrics::Metric::kConnectionsActive, -1);
      continue;
    }
    if (listener->socket_options.deferred && !listener->address.is_unix) {
      // TCP_DEFER_ACCEPT: the connection was accepted because data arrived, so it is read now
      // rather than after the loop reports it readable (nginx sets rev->ready for deferred
      // listeners). This is the read a readable event makes: PROXY header, TLS handshake and
      // timers as usual. If it would block (the kernel passed on a connection that sent
      // nothing once the deferral was over), the session waits for the event. The session
      // may be gone afterwards.
      raw->OnIo(/*readable=*/true, /*writable=*/false, /*peer_closed=*/false);
    }
  }
}

bool Worker::ReuseConnections() {
  const size_t reusable = sessions_.reusable_size();
  if (reusable == 0) return false;
  const int64_t now_s = absl::ToUnixSeconds(loop_->Now());
  if (now_s != reuse_warned_s_) {
    reuse_warned_s_ = now_s;
    REALIP_LOG(kWarn, config_->main.worker_connections,
               " worker_connections are not enough, reusing connections");
  }
  // nginx's batch: an eighth of the reusable connections, at least one and at most 32, so
  // that the next newcomers find room without a close each.
  const size_t n = std::max<size_t>(std::min<size_t>(32, reusable / 8), 1);
  for (size_t i = 0; i < n; ++i) {
    ClientSession* oldest = sessions_.OldestReusable();
    if (oldest == nullptr) break;
    shard_->Add(metrics::Metric::kConnectionsReused, {oldest->reuse_state()});
    oldest->Reuse();  // destroys it, which takes it off the list
  }
  return sessions_.size() < static_cast<size_t>(config_->main.worker_connections);
}

void Worker::NoteRequestState(int delta) {
  if (delta > 0) {
    ++request_states_;
    ++request_states_attached_;
    return;
  }
  if (request_states_ > 0) --request_states_;
  if (request_states_ == 0 && !trim_timer_.armed() &&
      request_states_attached_ - attached_at_last_trim_ >= kTrimAfterRequests) {
    attached_at_trim_arm_ = request_states_attached_;
    trim_timer_.Arm(kTrimAfterQuiet);
  }
}

void Worker::OnTrimTimer() {
  if (request_states_ != 0) return;  // busy again: the next idle moment arms the timer again
  if (request_states_attached_ != attached_at_trim_arm_) {
    // Requests came and went meanwhile: wait for a quiet period.
    attached_at_trim_arm_ = request_states_attached_;
    trim_timer_.Arm(kTrimAfterQuiet);
    return;
  }
  attached_at_last_trim_ = request_states_attached_;
  // The reuse caches refill within a few requests; until then, what they held goes back too.
  ClientSession::FreeSpares();
  Buffer::FreeCachedBlocks();
  malloc_trim(0);
}

void Worker::CancelFlush(ClientSession* session) {
  for (ClientSession*& scheduled : flush_queue_) {
    if (scheduled == session) scheduled = nullptr;
  }
}

void Worker::RunFlushes() {
  deferring_writes_ = false;
  // A flush can end a session (its Destroy nulls its entry, or another's) but adds none:
  // writes made now go out at once.
  for (size_t i = 0; i < flush_queue_.size(); ++i) {
    ClientSession* session = flush_queue_[i];
    flush_queue_[i] = nullptr;
    if (session != nullptr) session->RunScheduledFlush();
  }
  flush_queue_.clear();
  deferring_writes_ = true;
}

void Worker::DestroySession(ClientSession* session) {
  const bool older = sessions_.live(session) && session->config() != config_.get();
  if (sessions_.Destroy(session)) shard_->AddLevel(metrics::Metric::kConnectionsActive, -1);
  // A connection on an older configuration may have written the last lines of a file the
  // current one does not name: written now, they no longer keep it open until flush=.
  if (older) access_log_.FlushUnnamed(config_->log_files.get());
  MaybeFinishStop();
}

void Worker::NotePeerState(const config::Upstream& upstream, const upstream::Balancer& balancer,
                           upstream::PeerIndex peer) {
  if (!shard_->collecting()) return;
  bool up = balancer.IsUp(peer);
  // The usual case, no change since the last report of this balancer's peer: the peer of the
  // report before (two compares) or one lookup of two words, no key built.
  std::optional<bool>& seen = peer_seen_.Get(std::make_pair(&balancer, peer));
  if (seen == up) return;
  seen = up;
  const std::string& name = balancer.peer(peer).address_text;
  // Called for every response: the key is built in reused memory, and nothing is inserted or
  // published unless the state changed.
  peer_key_.assign(upstream.name);
  peer_key_.push_back('\0');
  peer_key_.append(name);
  auto it = peer_up_.find(peer_key_);
  if (it != peer_up_.end() && it->second == up) return;
  if (it == peer_up_.end()) it = peer_up_.emplace(peer_key_, up).first;
  it->second = up;
  registry_->Set(metrics::Metric::kUpstreamPeerUp, {upstream.name, name}, up ? 1 : 0);
}

}  // namespace realip::server
