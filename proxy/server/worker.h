// A worker thread: its own event loop, client sessions, upstream pool, metrics shard and
// access-log buffers. Listening sockets come from the main thread's ListenerSet (shared, or this
// worker's own SO_REUSEPORT socket); everything else is not shared with other workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "proxy/config/config.h"
#include "proxy/event/deadline_queue.h"
#include "proxy/event/loop.h"
#include "proxy/http/date.h"
#include "proxy/metrics/metrics.h"
#include "proxy/server/access_log.h"
#include "proxy/server/access_phase.h"
#include "proxy/server/lifecycle.h"
#include "proxy/server/listeners.h"
#include "proxy/server/observability.h"
#include "proxy/server/remembered_map.h"
#include "proxy/server/session_store.h"
#include "proxy/server/upstream.h"
#include "proxy/tls/tls.h"

namespace realip::server {

class ClientSession;

// The client sessions of one worker, each in a slot of a SlotStore (see there): an idle
// connection costs its slot (plus libevent's record of its descriptor, see
// event::UseCompactLibeventMemory). A session is on the reusable list while nginx would call
// it reusable (ClientSession::reusable()), so that a worker out of worker_connections can
// close the oldest of them for a newcomer.
class SessionStore {
 public:
  SessionStore();
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Memory for one ClientSession: construct it there with placement new, then Add() it (busy).
  void* Allocate() { return slots_.Allocate(); }
  void Add(ClientSession* session) { slots_.Add(session); }
  // The session's reusable() changed to `reusable`: to the tail of that list.
  void SetReusable(ClientSession* session, bool reusable) { slots_.SetReusable(session, reusable); }
  // Destroys a live session and frees its slot; false if it is not live.
  bool Destroy(ClientSession* session);
  // Whether `session` is live (not yet destroyed); reads only the slot.
  bool live(ClientSession* session) const { return slots_.live(session); }
  // Destroys every live session.
  void Clear();
  size_t size() const { return slots_.size(); }
  bool empty() const { return slots_.size() == 0; }
  size_t reusable_size() const { return slots_.reusable_size(); }
  // The session that became reusable longest ago, or nullptr.
  ClientSession* OldestReusable() const {
    return static_cast<ClientSession*>(slots_.OldestReusable());
  }
  std::vector<ClientSession*> All() const;

 private:
  SlotStore slots_;
};

// Per-worker counters the sessions increment; read by metrics when scraped (relaxed loads).
class Worker {
 public:
  // `lifecycle` and `registry` are shared by all workers and outlive them; the worker counts
  // into a shard of its own.
  Worker(int index, std::shared_ptr<const config::Config> config, const Lifecycle* lifecycle,
         metrics::Registry* registry);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the loop and watches `sockets` (indexed like config->listeners).
  [[nodiscard]] absl::Status Init(WorkerSockets sockets);
  // Runs the loop on a new thread.
  void Start();
  // Thread-safe. Graceful: stop accepting, close idle connections, let requests in flight
  // finish (bounded by worker_shutdown_timeout). Not graceful: close everything now.
  void RequestStop(bool graceful);
  // Thread-safe: new connections use `config` from now on, accepted from `sockets` (indexed
  // like config->listeners); existing connections keep their configuration.
  void SetConfig(std::shared_ptr<const config::Config> config, WorkerSockets sockets);
  void Join();
  // True once the worker's loop has returned (thread-safe).
  bool finished() const { return finished_.load(); }

  // For sessions, on the worker thread.
  event::EventLoop& loop() { return *loop_; }
  // The Date of a response sent now (the loop's time): formatted once per second, as nginx's
  // ngx_cached_http_time; valid until the next call.
  std::string_view HttpDate() { return http_date_.Get(absl::ToUnixSeconds(loop_->Now())); }
  UpstreamPool& pool() { return *pool_; }
  // The sessions' client timeouts.
  event::DeadlineQueue& deadlines() { return *deadlines_; }
  // The requests' upstream timeouts (proxy_connect_timeout, proxy_send_timeout,
  // proxy_read_timeout): a queue of their own, whose nodes are the request states'.
  event::DeadlineQueue& upstream_deadlines() { return *upstream_deadlines_; }
  UpstreamBalancers& balancers() { return balancers_; }
  // Sessions offered to TLS backends, per upstream peer (proxy_ssl_session_reuse).
  tls::ClientSessionCache& tls_sessions() { return tls_sessions_; }
  // realip_limit_req_total and realip_access_denied_total of this worker.
  const Lifecycle& lifecycle() const { return *lifecycle_; }
  metrics::Shard& metrics() { return *shard_; }
  // The series every request counts into, kept for this worker's shard.
  RequestMetrics& request_metrics() { return request_metrics_; }
  metrics::Registry& registry() { return *registry_; }
  AccessLogWriter& access_log() { return access_log_; }
  // After a report to `balancer`: keeps realip_upstream_peer_up of `peer` in step with the
  // balancer's view (the shared gauge is only touched when this worker sees a change).
  void NotePeerState(const config::Upstream& upstream, const upstream::Balancer& balancer,
                     upstream::PeerIndex peer);
  bool stopping() const { return stopping_; }
  // 0-based worker number (metrics shard, log context).
  int index() const { return index_; }
  // Deletes a session that finished (called by the session itself, outside its callbacks).
  void DestroySession(ClientSession* session);
  // The session's reusable() changed (called by the session itself).
  void SetReusable(ClientSession* session, bool reusable) {
    sessions_.SetReusable(session, reusable);
  }
  // Writes wait for the end of the loop iteration (see docs/engine.md, "Write batching"):
  // while a callback runs, a session that has bytes to send schedules itself here, and the
  // worker sends them for every scheduled session once the iteration's callbacks are done.
  // Outside callbacks (during that flush), writes go out at once.
  bool deferring_writes() const { return deferring_writes_; }
  void ScheduleFlush(ClientSession* session) { flush_queue_.push_back(session); }
  // A scheduled session that goes away before the flush (called from its Destroy).
  void CancelFlush(ClientSession* session);
  // A session attached (+1) or gave back (-1) its request state. Once the load is over, the
  // memory it used goes back to the system (see kTrimAfterQuiet), so that idle keep-alive
  // connections do not keep a busy moment's footprint.
  void NoteRequestState(int delta);

 private:
  void OnAcceptable(size_t listener_index);
  // worker_connections reached: closes the oldest reusable sessions, as nginx's
  // ngx_drain_connections. False if none was reusable (the newcomer is refused).
  bool ReuseConnections();
  void OnWake();
  void BeginStop(bool graceful);
  void MaybeFinishStop();
  [[nodiscard]] absl::Status WatchListeners(WorkerSockets sockets);
  // The loop's after-callbacks hook: sends what the scheduled sessions queued.
  void RunFlushes();

  int index_;
  http::HttpDateCache http_date_;
  const Lifecycle* lifecycle_;
  metrics::Registry* registry_;
  metrics::Shard* shard_;
  RequestMetrics request_metrics_;  // cleared with each new configuration (keyed by its objects)
  AccessLogWriter access_log_;
  // Last reported state per "upstream\0peer": the shared gauge is only touched on a change.
  absl::flat_hash_map<std::string, bool> peer_up_;
  std::string peer_key_;  // NotePeerState's lookup key, reused
  // The last state seen per balancer and peer (none yet: nullopt), checked first; cleared
  // when balancers are pruned, the only time one is destroyed.
  RememberedMap<std::pair<const upstream::Balancer*, upstream::PeerIndex>, std::optional<bool>>
      peer_seen_;
  std::shared_ptr<const config::Config> config_;  // worker thread only
  std::mutex pending_mu_;
  std::shared_ptr<const config::Config> pending_config_;  // guarded by pending_mu_
  WorkerSockets pending_sockets_;                         // guarded by pending_mu_
  std::atomic<int> stop_request_{0};  // 0 none, 1 graceful, 2 fast
  std::unique_ptr<event::EventLoop> loop_;
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<event::DeadlineQueue> deadlines_;
  std::unique_ptr<event::DeadlineQueue> upstream_deadlines_;
  UpstreamBalancers balancers_;
  struct ListenSocket {
    std::shared_ptr<ListenFd> socket;
    std::unique_ptr<event::ReadWatcher> watcher;  // destroyed before `socket` may close
  };
  std::vector<ListenSocket> listeners_;
  event::Waker waker_;
  event::Timer shutdown_timer_;
  event::Timer accept_retry_timer_;  // re-enables accepting after running out of descriptors
  SessionStore sessions_;
  std::vector<ClientSession*> flush_queue_;  // null: cancelled
  bool deferring_writes_ = true;
  tls::ClientSessionCache tls_sessions_;
  uint64_t next_connection_id_ = 0;
  // When the "reusing connections" warning was last logged (Unix seconds): once a second.
  int64_t reuse_warned_s_ = -1;
  // Returning memory after load: once at least kTrimAfterRequests request states were attached
  // since the last trim and none was attached for kTrimAfterQuiet, the worker frees its reuse
  // caches and calls malloc_trim(0). Never under steady load, where it would only churn.
  static constexpr uint64_t kTrimAfterRequests = 64;
  static constexpr std::chrono::milliseconds kTrimAfterQuiet{500};
  void OnTrimTimer();
  event::Timer trim_timer_;
  size_t request_states_ = 0;             // sessions with request state attached now
  uint64_t request_states_attached_ = 0;  // attachments ever
  uint64_t attached_at_last_trim_ = 0;
  uint64_t attached_at_trim_arm_ = 0;
  bool stopping_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace realip::server
