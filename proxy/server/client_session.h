// One client connection: optional PROXY header, then HTTP/1.1 requests one at a time
// (pipelined ones wait in the input buffer), each answered locally or proxied to an upstream
// with streaming in both directions and backpressure; WebSocket-style upgrades become a tunnel.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/access/conn_limiter.h"
#include "proxy/config/config.h"
#include "proxy/event/deadline_queue.h"
#include "proxy/event/loop.h"
#include "proxy/http/parser.h"
#include "proxy/net/socket_address.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/server/buffer.h"
#include "proxy/server/request_context.h"
#include "proxy/server/rewrite.h"
#include "proxy/server/socket.h"
#include "proxy/server/tls_transport.h"
#include "proxy/server/upstream.h"
#include "proxy/upstream/balancer.h"
#include "proxy/upstream/next_upstream.h"

namespace realip::server {

class Worker;

// The deadline queue's node is a private base: the client-side timeout (header, keep-alive,
// body, send...) is a list node in the worker's queue, not a libevent event of its own.
class ClientSession : public event::IoHandler,
                      public UpstreamDelegate,
                      private event::DeadlineQueue::Node {
 public:
  // Takes ownership of `fd`. `listener` belongs to `config`, which the session keeps alive.
  ClientSession(Worker* worker, int fd, const net::SocketAddress& peer,
                std::shared_ptr<const config::Config> config, const config::Listener* listener,
                uint64_t id);
  ~ClientSession() override;
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Registers the socket and arms the first timeout. On error the caller destroys the session.
  [[nodiscard]] absl::Status Start();
  // Graceful shutdown: an idle connection closes now, a busy one after its current response.
  void Drain();
  // Closes the connection immediately (fast shutdown, shutdown timeout).
  void Abort();
  // nginx's reusable connection: nothing of a request is under way (a new connection that
  // received nothing, an idle keep-alive connection with nothing buffered, a lingering close),
  // so the worker may close it for a newcomer when worker_connections runs out. Updated at the
  // end of every event and by Start(); the worker's SessionStore lists follow it.
  bool reusable() const { return reusable_; }
  // The configuration the connection was accepted with.
  const config::Config* config() const { return config_.get(); }
  // Closes a reusable connection for a newcomer: a plain close, as its timeout would.
  void Reuse();
  // What a reusable connection is waiting in: "new" (no request yet), "keepalive" or
  // "lingering" (the label of realip_connections_reused_total).
  std::string_view reuse_state() const;

  void OnIo(bool readable, bool writable, bool peer_closed) override;
  // The worker's end-of-iteration flush: sends what FlushClient/FlushUpstream left queued.
  void RunScheduledFlush();
  void OnUpstreamIo(bool readable, bool writable) override;

  // Frees the request states and parsers this thread keeps for reuse (after a burst, before
  // returning memory to the system).
  static void FreeSpares();
  // The worker's deadline queue calls this when a session's client timeout passed.
  static void OnClientDeadline(event::DeadlineQueue::Node* node);
  // The worker's upstream deadline queue calls this when a request's upstream timeout passed
  // (`node` is the request state's, see Active).
  static void OnUpstreamDeadline(event::DeadlineQueue::Node* node);

 private:
  enum class Phase : uint8_t {
    kProxyHeader,  // waiting for the PROXY header
    kIdle,         // between requests, nothing of the next one received
    kReadingHead,  // part of a request head received
    kRequest,      // a request is being served
    kTunnel,       // bytes flow both ways unchanged after a 101
    kFinishing,    // the request is done, its response's last bytes are being written; then
                   // its log line and kIdle (a next request waits in the input meanwhile)
    kClosing,      // flushing the last bytes, then close
    kLingering,    // answered and half-closed: reading and dropping input until the client
                   // closes (lingering_close)
  };
  enum class ClientTimer : uint8_t {
    kNone,
    kProxyHeader,
    kHandshake,
    kHeader,
    kKeepalive,
    kBody,
    kSend,
    kLingering,      // lingering_timeout, or the end of lingering_time if sooner
    kLingeringRead,  // a lingering read stopped before the socket was drained: go on
  };
  enum class UpstreamTimer : uint8_t { kNone, kConnect, kRead, kSend };

  class RequestBodySink;
  class ResponseBodySink;
  friend class RequestBodySink;
  friend class ResponseBodySink;

  // Runs `fn` as an event entry point: a session closed inside it is deleted afterwards.
  template <typename Fn>
  void Enter(Fn&& fn);

  void ReadClient();
  void ReadClientLoop();
  void ProcessClientInput();
  bool ProcessProxyHeader();
  // Switches the connection to TLS; `in_` (what followed a PROXY header) feeds the handshake.
  bool StartTls();
  // After each client read while the TLS handshake is unfinished: notes its end or failure.
  void CheckHandshake(const IoResult& r);
  // Drops `n` parsed request bytes from the input, counting them for $request_length.
  void ConsumeRequestBytes(size_t n);
  void StartRequest();
  void RouteAndResolve();
  // nginx's phases once the location is chosen (first, or again after an error_page
  // redirect): `return`, else limit_req unless it already ran for the request, then
  // ContinueRequest.
  void RunLocationPhases();
  // limit_req (preaccess): false if the request was refused or must wait limit_req_timer_.
  bool RunLimitReq();
  // The request after limit_req: limit_conn, allow/deny, then the content handler.
  void ContinueRequest();
  // Parses what followed a request head at once (a bodiless request completes here).
  void ParseAfterHead();
  void StartProxy();
  // Starts an attempt: on `chosen` (already picked, or the same peer again with `fresh_only`)
  // or on a newly picked peer. False when the client was answered instead.
  bool ConnectUpstream(std::optional<upstream::PeerIndex> chosen = std::nullopt,
                       bool fresh_only = false);
  // Queues request bytes for the upstream, keeping a copy for a retry while it is small.
  void QueueUpstream(std::string_view bytes, bool chunk);
  // Whether the whole request (so far) can be sent again on another connection.
  bool CanReplay() const;
  // Puts the whole request (so far) back into up_out_ for another attempt; false if it cannot.
  bool RestoreRequestBytes();
  // proxy_next_upstream's verdict on a failed attempt on `peer`, reported to the balancer.
  upstream::NextUpstreamDecision DecideAndReport(upstream::PeerIndex peer,
                                                 upstream::FailureKind kind);
  // After a failed attempt on `peer`: reports it and decides (proxy_next_upstream). True: pick
  // another peer; false: the client was answered or closed.
  bool NextAttempt(upstream::PeerIndex peer, upstream::FailureKind kind, int status,
                   const std::string& why);
  // Closes the attempt's connection (not pooled) and stops its timer.
  void DropUpstream();
  // A listed proxy_next_upstream status in the response head: true if the request went to
  // another peer (this response is dropped). `now`: when the head arrived, `elapsed` after
  // the attempt started.
  bool RetryOnStatus(int status, absl::Time now, absl::Duration elapsed);
  // Wraps the new upstream connection to `peer` in TLS (`proxy_pass https://`).
  bool StartUpstreamTls(const net::SocketAddress& peer);
  // The settings a pooled upstream connection must have been made with (TlsScope): the
  // request's with `proxy_pass https://`, none for plain TCP.
  const void* UpstreamTlsSettings() const {
    return settings_->proxy_pass.scheme == "https" ? settings_ : nullptr;
  }
  void OnRequestMessageComplete();
  // Both directions of the request are done: releases the upstream side, then ends the
  // request now if its response is written, else once it is (kFinishing).
  void FinishRequest();
  // The finished request's response is written: its log line and metrics, then the next
  // request (keep-alive) or the close.
  void EndRequest();
  void FlushClient();
  // TCP_NODELAY, set the first time the connection needs it (nginx's rule): a response written
  // in pieces, a keep-alive connection's next responses, a tunnel. A connection that carries
  // one response written at once never needs it and saves the system call.
  void EnsureNoDelay();
  // nginx's reset_timedout_connection: the next close sends a RST, when the request's location
  // (the default server's before routing) has it on. Called for a client timeout (header,
  // body, send) and a 444, as nginx sets c->timedout for those.
  void ResetIfConfigured();
  void FlushUpstream();
  void ReadUpstream();
  void ReadUpstreamLoop();
  void ProcessUpstreamInput();
  void OnUpstreamHead();
  void OnUpstreamMessageComplete();
  void UpstreamFailed(upstream::FailureKind kind, int status, const std::string& why);
  void ReleaseUpstream(bool reusable);
  void StartTunnel();
  static std::string_view ServerToken(const config::HttpSettings* settings);
  // Without text, 444, 408 and 499 close the connection instead (nginx's); a status below 200
  // is sent alone and closes it. `location_made_absolute`: see http::LocalResponse.
  void SendLocal(int status, bool keep_alive, std::string_view text, bool use_text,
                 std::string_view content_type = {}, bool location_made_absolute = false);
  void SendErrorAndClose(int status, const std::string& why);
  // An error the proxy answers itself (`return CODE`, deny, limits, no handler, an
  // intercepted upstream status): the location's error_page for it, else the standard page.
  // 444, 408 and 499 close the connection instead, as SendLocal.
  void SendError(int status);
  // nginx's ngx_http_special_response_handler(): the request's answer becomes `status`; an
  // error_page of the location for it takes the request over (true: answered or under way),
  // unless one was already used and recursive_error_pages is off, or the redirects ran out.
  bool RunErrorPage(int status);
  // A request head the parser refused with `status`, its line whole: the error_page of the
  // server it reached takes it over, as nginx's (true), else nothing changed (false).
  bool ErrorPageForHead(int status);
  // error_page's redirect to "/uri?args": the location is chosen again for `uri`
  // (nginx's ngx_http_internal_redirect(), at most 10 per request, then 500).
  void InternalRedirect(std::string uri, std::string args);
  // proxy_intercept_errors: the upstream's `status` response (head read) is dropped with its
  // connection and answered by the error_page for it.
  void InterceptUpstreamError(int status, absl::Duration elapsed);
  // Queues a response the proxy made itself (head and body in `bytes`), with add_header's
  // fields, as the request's whole response.
  void QueueLocalResponse(int status, std::string bytes);
  // Adds the effective settings' add_header fields that apply to `status` to the response
  // head at the start of *bytes (a body may follow). `upstream`: the upstream response the
  // head was made from ($upstream_http_*), or null.
  void AddResponseHeaders(int status, const http::MessageHead* upstream, std::string* bytes);
  void CloseAfterFlush();
  // The last response is written: closes now, or lingers (ShouldLinger).
  void CloseOrLinger();
  // nginx's rule for a lingering close: lingering_close always, or on while more input may
  // come (the body not read whole, unread or pipelined bytes, a request cut short).
  bool ShouldLinger() const;
  // The request's location settings once routed, before that the default server's.
  const config::HttpSettings& EffectiveSettings() const {
    return settings_ != nullptr ? *settings_ : listener_->default_server->settings;
  }
  // Half-closes (TLS: close_notify first) and reads what the client still sends, dropping it,
  // until it closes, lingering_timeout passes without a byte or lingering_time is over, so
  // that a close with unread input does not reset the connection under the response.
  void StartLingering();
  void ReadLingering();
  void Close();
  // Whether the session is reusable now (see reusable()).
  bool ComputeReusable() const;
  // No input or output buffered, reading not paused, no upstream, no partial request head and
  // no request held by a timer: what lets an idle session give back its request state and be
  // reusable.
  bool NothingUnderWay() const;
  // Moves the session to the worker's other list if ComputeReusable() changed.
  void UpdateReusable();
  // Deletes the closed session (outside its callbacks).
  void Destroy();
  // Queues this session for the worker's flush (`client`: out_, else up_out_).
  void ScheduleFlush(bool client);
  void ArmClientTimer(ClientTimer kind);
  void ArmUpstreamTimer(UpstreamTimer kind);
  void OnClientTimer();
  void OnUpstreamTimer();
  bool ClientReadAllowed() const;
  bool UpstreamReadAllowed() const;
  // The whole request is with the upstream (or its response has begun): proxy_read_timeout
  // applies.
  bool AwaitingUpstream() const;
  // realip_upstream_requests_total and realip_upstream_response_seconds for a response head
  // that arrived `elapsed` after the attempt started.
  void CountUpstreamResponse(int status, absl::Duration elapsed);
  // Writes the access-log line of the current request once, and counts it in the request
  // metrics: after its response's last byte was written (EndRequest, CloseOrLinger), or when
  // the connection closes. `output_lost`: the connection closes with response bytes unsent
  // ($request_completion stays empty).
  void LogRequest(bool output_lost = false);
  // Callbacks of the Active timers.
  void OnResumeTimer();
  void OnLimitReqTimer();

  // Members are ordered by size: every idle keep-alive connection pays for this object
  // (sizeof is checked in client_session.cc).
  Worker* worker_;
  std::shared_ptr<const config::Config> config_;
  const config::Listener* listener_;
  uint64_t id_;
  [[no_unique_address]] PlainTransport plain_transport_;
  // When the connection was accepted ($connection_time): Unix milliseconds modulo 2^32, in
  // the tail padding of plain_transport_, so the session does not grow.
  uint32_t accepted_ms_;
  Transport* transport_ = &plain_transport_;  // plain_transport_ or *tls_
  std::unique_ptr<TlsTransport> tls_;
  event::IoWatcher watcher_;
  std::unique_ptr<realip::ProxyHeader> proxy_header_;  // only on PROXY connections
  const config::HttpSettings* settings_ = nullptr;     // of the request being served
  // The upstream side of the request.
  std::unique_ptr<UpstreamConnection> upstream_;

  // The request-processing state (parser, heads, request context, the client's input and
  // output buffers, upstream buffers, the per-request timers, the upstream timeout's node in
  // the worker's upstream deadline queue): attached from a per-thread pool
  // when a request starts and given back when the connection goes idle, so that an idle
  // keep-alive connection keeps little more than its socket, its watcher and its keep-alive
  // timer. Defined in client_session.cc.
  struct Active;
  // The attached state, attaching one first if needed.
  Active& A();
  const Active& A() const;
  // Gives the state back to the pool (idle connection, nothing of a request left).
  void ReleaseActive();
  static std::vector<std::unique_ptr<Active>>& SpareActives();
  std::unique_ptr<Active> a_;
  // The client's input and output (in the Active state; these attach it). The const ones do
  // not attach: an idle connection has empty buffers.
  Buffer& In();
  Buffer& Out();
  bool InEmpty() const;
  bool OutEmpty() const;
  size_t InSize() const;
  size_t OutSize() const;

  int fd_;
  int requests_ = 0;
  uint16_t depth_ = 0;
  net::SocketAddress peer_;
  net::SocketAddress local_;
  ClientTimer client_timer_kind_ = ClientTimer::kNone;
  UpstreamTimer upstream_timer_kind_ = UpstreamTimer::kNone;
  Phase phase_ = Phase::kIdle;
  // Flags as single bits: every idle connection carries them.
  bool handshake_noted_ : 1 = false;
  bool closed_ : 1 = false;
  bool draining_ : 1 = false;
  bool processing_input_ : 1 = false;
  // Set while the read loops run, so that a flush inside them does not start a nested read
  // loop (which could leave read bytes unprocessed, or recurse once per 16 KiB).
  bool reading_client_ : 1 = false;
  bool reading_upstream_ : 1 = false;
  // A read loop stopped before the socket was drained (backpressure or the input cap); only
  // then does the session read again on its own, otherwise it waits for the next edge.
  bool client_read_paused_ : 1 = false;
  bool upstream_read_paused_ : 1 = false;
  bool client_peer_closed_ : 1 = false;
  bool client_eof_ : 1 = false;
  bool client_write_blocked_ : 1 = false;
  // Bytes wait in out_ / up_out_ for the worker's flush at the end of the loop iteration.
  bool client_flush_scheduled_ : 1 = false;
  bool upstream_flush_scheduled_ : 1 = false;
  bool nodelay_ : 1 = false;
  // The request being served.
  bool keep_alive_ : 1 = false;
  bool head_request_ : 1 = false;
  bool request_complete_ : 1 = false;   // the whole request (with body) was read
  bool response_complete_ : 1 = false;  // the whole response was queued for the client
  bool response_started_ : 1 = false;   // a response head was queued for the client
  bool discard_body_ : 1 = false;       // read the request body but do not forward it
  bool body_too_large_ : 1 = false;
  bool request_logged_ : 1 = true;  // false while a request awaits its access-log line
  bool limit_req_delayed_ : 1 = false;
  bool reusable_ : 1 = false;  // on the worker's reusable list (see reusable())
  // While lingering: when lingering_time is over, in whole seconds of the steady clock (as
  // nginx's r->lingering_time). Fits the padding at the end of the object.
  uint32_t lingering_end_s_ = 0;
};

}  // namespace realip::server
