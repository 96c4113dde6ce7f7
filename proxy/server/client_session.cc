#include "proxy/server/client_session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proxy/base/build_config.h"
#include "proxy/base/check.h"
#include "proxy/base/http_status.h"
#include "proxy/base/logging.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"
#include "proxy/http/serializer.h"
#include "proxy/http/status_codes.h"
#include "proxy/server/access_log.h"
#include "proxy/server/add_header.h"
#include "proxy/server/observability.h"
#include "proxy/server/redirect.h"
#include "proxy/server/worker.h"

namespace realip::server {
namespace {

// Bytes read per recv().
constexpr size_t kReadChunk = Buffer::kBlockSize;
// A read asks for at least this much room, and takes whatever else its block has free.
constexpr size_t kMinRead = 4 * 1024;
// Stop reading one side while more than this waits to be written to the other side.
constexpr size_t kHighWater = 64 * 1024;
// Pipelined input buffered beyond the request in flight.
constexpr size_t kInputCap = 64 * 1024;
// The PROXY header has its own short deadline, independent of client_header_timeout.
constexpr std::chrono::milliseconds kProxyHeaderTimeout{5000};
// A v2 header may carry TLVs; nginx reads at most 4096 bytes of it, so do we.
constexpr size_t kMaxProxyHeader = 4096;
// Request bytes (head and body) kept for sending again to another peer or on a fresh
// connection. A larger request can be retried only while none of it was written.
constexpr size_t kReplayLimit = 64 * 1024;
// nginx's NGX_HTTP_MAX_URI_CHANGES: internal redirects a request may make.
constexpr int kMaxUriChanges = 10;
// A lingering connection reads into a buffer on the stack and drops what it read; after this
// many reads in one event it goes on in the next loop iteration, so that a client sending
// without pause cannot hold the worker.
constexpr size_t kLingeringChunk = 16 * 1024;
constexpr int kLingeringReadsPerEvent = 16;

// The steady clock in whole seconds: lingering_time is kept in these units, as nginx keeps
// r->lingering_time in ngx_time() seconds.
uint32_t SteadySeconds() {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// The accepted connection's local address: the listener's own when it is bound to one address
// and port, without a getsockname() call; otherwise the socket is asked.
net::SocketAddress AcceptedLocalAddress(int fd, const config::Listener& listener) {
  const net::SocketAddress& a = listener.address;
  std::string_view ip = a.ip.Bytes();
  const bool wildcard = ip.find_first_not_of('\0') == std::string_view::npos;
  if (!a.is_unix && a.port != 0 && !wildcard) return a;
  return LocalAddress(fd);
}

std::chrono::milliseconds Ms(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return std::chrono::hours(24 * 365);
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

http::ParseLimits LimitsFor(const config::Listener& listener) {
  const config::HttpSettings& s = listener.default_server->settings;
  http::ParseLimits limits;
  // nginx: a request line or a header line must fit one large buffer; the whole head must
  // fit all of them (large_client_header_buffers, default 4 8k).
  limits.max_target_bytes = s.large_client_header_buffers_size;
  limits.max_header_line_bytes = s.large_client_header_buffers_size;
  limits.max_head_bytes = s.large_client_header_buffers_size *
                          static_cast<size_t>(s.large_client_header_buffers_number);
  limits.max_headers = 128;
  limits.ignore_invalid_names = s.ignore_invalid_headers;
  limits.underscores_in_names = s.underscores_in_headers;
  limits.merge_slashes = s.merge_slashes;
  return limits;
}

// The proxy_next_upstream condition a response status stands for, if any.
std::optional<upstream::FailureKind> StatusFailureKind(int status) {
  switch (status) {
    case 500:
      return upstream::FailureKind::kHttp500;
    case 502:
      return upstream::FailureKind::kHttp502;
    case 503:
      return upstream::FailureKind::kHttp503;
    case 504:
      return upstream::FailureKind::kHttp504;
    case 403:
      return upstream::FailureKind::kHttp403;
    case 404:
      return upstream::FailureKind::kHttp404;
    case 429:
      return upstream::FailureKind::kHttp429;
    default:
      return std::nullopt;
  }
}

// Response parsers of finished requests, kept for the next upstream attempt of any connection
// of this worker thread.
constexpr size_t kSpareCount = 64;
thread_local std::vector<std::unique_ptr<http::MessageParser>> spare_response_parsers;

// Where heads are serialised before they are queued: memory this thread reuses. Empty on
// return.
std::string& HeadScratch() {
  thread_local std::string scratch;
  scratch.clear();
  return scratch;
}

// An upstream response head may fill proxy_buffer_size, in as many lines as fit (nginx reads
// it into one buffer of that size).
http::ParseLimits ResponseLimits(const config::HttpSettings& s) {
  http::ParseLimits limits;
  limits.max_head_bytes = s.proxy_buffer_size;
  limits.max_header_line_bytes = s.proxy_buffer_size;
  return limits;
}

std::unique_ptr<http::MessageParser> TakeResponseParser() {
  if (spare_response_parsers.empty()) {
    return std::make_unique<http::MessageParser>(http::MessageKind::kResponse,
                                                 http::ParseLimits{});
  }
  std::unique_ptr<http::MessageParser> parser = std::move(spare_response_parsers.back());
  spare_response_parsers.pop_back();
  return parser;
}

void KeepResponseParser(std::unique_ptr<http::MessageParser> parser) {
  if (parser == nullptr || spare_response_parsers.size() >= kSpareCount) return;
  parser->Reset();
  spare_response_parsers.push_back(std::move(parser));
}

}  // namespace

// Request body bytes: forwarded to the upstream (re-chunked when chunked), counted against
// client_max_body_size, or dropped after a local answer.
class ClientSession::RequestBodySink : public http::BodySink {
 public:
  explicit RequestBodySink(ClientSession* s) : s_(s) {}
  ClientSession* s_;  // the session the owning Active is attached to
  void OnBody(std::string_view data) override;
};

// Response body bytes: framed for the client as chosen at the response head.
class ClientSession::ResponseBodySink : public http::BodySink {
 public:
  explicit ResponseBodySink(ClientSession* s) : s_(s) {}
  ClientSession* s_;  // the session the owning Active is attached to
  void OnBody(std::string_view data) override;
};

// Every idle keep-alive connection costs this much (plus a 16-byte slot header, see
// SessionStore): bench scenario D holds it to at most 512 bytes of RSS per connection.
static_assert(sizeof(ClientSession) <= 352, "an idle connection grew: see docs/performance.md");

ClientSession::ClientSession(Worker* worker, int fd, const net::SocketAddress& peer,
                             std::shared_ptr<const config::Config> config,
                             const config::Listener* listener, uint64_t id)
    : worker_(worker),
      config_(std::move(config)),
      listener_(listener),
      id_(id),
      plain_transport_(fd),
      accepted_ms_(static_cast<uint32_t>(absl::ToUnixMillis(worker->loop().Now()))),
      fd_(fd),
      peer_(peer),
      local_(AcceptedLocalAddress(fd, *listener)) {}

void ClientSession::OnClientDeadline(event::DeadlineQueue::Node* node) {
  auto* s = static_cast<ClientSession*>(node);
  s->Enter([s] { s->OnClientTimer(); });
}

// Attached while a request is in progress (see client_session.h). Pooled per worker thread:
// its timers are bound to that thread's loop, and its memory (parser, header strings, buffers
// within their block cache) stays warm for the next request of any connection. The node base
// is the upstream timeout's place in the worker's upstream deadline queue (OnUpstreamDeadline
// finds the session through `owner`): arming and cancelling it per request are list
// operations instead of a libevent timer's heap insertion and removal.
struct ClientSession::Active : event::DeadlineQueue::Node {
  explicit Active(event::EventLoop& loop)
      : parser_(http::MessageKind::kRequest, http::ParseLimits{}) {
    auto init = [&](event::Timer& timer, void (ClientSession::*fire)()) {
      absl::Status st = timer.Init(loop, [this, fire] {
        ClientSession* s = owner;
        if (s != nullptr) s->Enter([s, fire] { (s->*fire)(); });
      });
      REALIP_CHECK(st.ok());  // only fails when event_new has no memory
    };
    init(resume_timer_, &ClientSession::OnResumeTimer);
    init(limit_req_timer_, &ClientSession::OnLimitReqTimer);
  }

  ~Active() { REALIP_DCHECK(!armed()); }

  ClientSession* owner = nullptr;
  // Starts the next pipelined request from a fresh loop iteration, never from inside the
  // upstream callbacks that finished the previous one.
  event::Timer resume_timer_;
  // Holds a request that limit_req delayed; reading its body waits too.
  event::Timer limit_req_timer_;
  http::MessageParser parser_;
  std::unique_ptr<RequestBodySink> request_sink_;
  std::unique_ptr<ResponseBodySink> response_sink_;
  http::MessageHead request_;
  RequestContext ctx_;
  // limit_conn slots of the request in flight; released when it finishes (zones are owned by
  // the session's config, which outlives these).
  std::vector<access::ConnLimitLease> conn_leases_;
  upstream::TriedPeers tried_;
  std::string hash_key_;
  // Everything queued for the upstream for this request (head and body so far), for a retry,
  // while it stays within kReplayLimit; then A().replay_overflow_.
  Buffer replay_;
  std::string upstream_proxy_header_;  // proxy_protocol on: what a new connection starts with
  Buffer preamble_;                    // the PROXY header still to write on this connection
  Buffer up_out_;
  Buffer up_in_;
  // The client side's input and output: an idle connection holds neither.
  Buffer in_;
  Buffer out_;
  std::unique_ptr<http::MessageParser> response_parser_;
  // The response head sent to the client, kept only when the configuration prints
  // $sent_http_* (Config::variables); emptied when the request is logged.
  std::string sent_head_;

  // Scalars of the request; reset when the state goes back to the pool.
  uint64_t body_bytes_ = 0;
  uint64_t head_bytes_ = 0;  // of the request whose head is being parsed
  absl::Time head_start_;    // when its first byte was parsed: the request's start, as nginx's
  const config::Upstream* upstream_config_ = nullptr;
  upstream::Balancer* balancer_ = nullptr;  // the worker's, for upstream_config_
  upstream::PeerIndex upstream_peer_ = 0;   // the current attempt's, in balancer_
  int upstream_attempt_ = 0;                // peers picked for this request
  uint64_t upstream_attempt_id_ = 0;        // bumped by every ConnectUpstream attempt
  int last_failure_status_ = 502;
  absl::Time upstream_start_;  // when the current attempt's connection was taken or opened
  bool upstream_reused_ = false;
  bool upstream_got_bytes_ = false;
  bool upstream_write_blocked_ = false;
  bool upstream_sent_ = false;      // this attempt wrote request bytes
  bool any_upstream_sent_ = false;  // some attempt of this request wrote request bytes
  bool fresh_retry_done_ = false;   // the one retry after a stale pooled connection was used
  bool request_idempotent_ = true;
  bool request_has_body_ = false;
  bool replay_overflow_ = false;  // the request outgrew replay_
  // ResetIfConfigured ran: the close sends a RST and never lingers. Here, not in the session,
  // which an idle connection keeps: only a connection with a request times out or answers 444.
  bool reset_on_close_ = false;
  ClientFraming client_framing_ = ClientFraming::kNone;
  // error_page state of the request, as nginx's: redirects left (r->uri_changes, 10 and one
  // more), the status the answer goes out with (r->err_status; 0: the response's own), a page
  // used while recursive_error_pages was off (r->error_page), an error_page took the request
  // over (its body is discarded), limit_conn already counted it; the page's URI and arguments
  // after a redirect ($uri and $args point into them).
  int uri_changes_ = kMaxUriChanges + 1;
  int err_status_ = 0;
  bool error_page_done_ = false;
  bool in_error_page_ = false;
  bool limit_conn_done_ = false;
  std::string redirect_uri_;
  std::string redirect_args_;
  // The Location of a `return` redirect an error_page took over: nginx sends it with the
  // page's answer (http::LocalResponse::kept_location).
  std::string kept_location_;
  bool kept_location_absolute_ = false;

  void ResetErrorPages() {
    uri_changes_ = kMaxUriChanges + 1;
    err_status_ = 0;
    error_page_done_ = in_error_page_ = limit_conn_done_ = kept_location_absolute_ = false;
    redirect_uri_.clear();
    redirect_args_.clear();
    kept_location_.clear();
  }

  void ResetScalars() {
    body_bytes_ = head_bytes_ = 0;
    upstream_config_ = nullptr;
    balancer_ = nullptr;
    upstream_peer_ = 0;
    upstream_attempt_ = 0;
    last_failure_status_ = 502;
    upstream_start_ = absl::Time();
    upstream_reused_ = upstream_got_bytes_ = upstream_write_blocked_ = false;
    upstream_sent_ = any_upstream_sent_ = fresh_retry_done_ = false;
    request_idempotent_ = true;
    request_has_body_ = replay_overflow_ = reset_on_close_ = false;
    client_framing_ = ClientFraming::kNone;
    ResetErrorPages();
  }
};

void ClientSession::OnUpstreamDeadline(event::DeadlineQueue::Node* node) {
  // Armed only while the state is attached: ReleaseActive and ~ClientSession disarm it.
  ClientSession* s = static_cast<Active*>(node)->owner;
  if (s != nullptr) s->Enter([s] { s->OnUpstreamTimer(); });
}

ClientSession::~ClientSession() {
  worker_->deadlines().Cancel(this);
  watcher_.Stop();
  upstream_.reset();
  if (a_ != nullptr) worker_->upstream_deadlines().Cancel(a_.get());
  // Not pooled: sessions are also destroyed outside their worker thread (at exit).
  if (a_ != nullptr) worker_->NoteRequestState(-1);
  a_.reset();
  tls_.reset();  // may send close_notify: before the fd is closed
  if (fd_ >= 0) close(fd_);
}

void ClientSession::RequestBodySink::OnBody(std::string_view data) {
  s_->A().body_bytes_ += data.size();
  // An error_page answers the request: its body is read and dropped whatever its size, as
  // nginx's discarded body.
  if (s_->A().in_error_page_) return;
  uint64_t max = s_->settings_ != nullptr ? s_->settings_->client_max_body_size : 0;
  if (max != 0 && s_->A().body_bytes_ > max) s_->body_too_large_ = true;
  if (s_->discard_body_ || s_->body_too_large_) return;
  s_->QueueUpstream(data, s_->A().request_.chunked);
}

void ClientSession::ResponseBodySink::OnBody(std::string_view data) {
  if (s_->A().client_framing_ == ClientFraming::kChunked) {
    s_->Out().AppendChunk(data);
  } else if (s_->A().client_framing_ != ClientFraming::kNone) {
    s_->Out().Append(data);
  }
}

void ClientSession::FreeSpares() {
  SpareActives().clear();
  spare_response_parsers.clear();
}

std::vector<std::unique_ptr<ClientSession::Active>>& ClientSession::SpareActives() {
  // Bounded by kSpareCount. A worker thread's spares go with the thread, whose loop outlives
  // it (the Worker owns the loop and joins the thread first).
  thread_local std::vector<std::unique_ptr<Active>> spares;
  return spares;
}

Buffer& ClientSession::In() { return A().in_; }
Buffer& ClientSession::Out() { return A().out_; }
bool ClientSession::InEmpty() const { return a_ == nullptr || a_->in_.empty(); }
bool ClientSession::OutEmpty() const { return a_ == nullptr || a_->out_.empty(); }
size_t ClientSession::InSize() const { return a_ == nullptr ? 0 : a_->in_.size(); }
size_t ClientSession::OutSize() const { return a_ == nullptr ? 0 : a_->out_.size(); }

const ClientSession::Active& ClientSession::A() const {
  REALIP_DCHECK(a_ != nullptr);  // only asked while a request or tunnel is in progress
  return *a_;
}

ClientSession::Active& ClientSession::A() {
  if (a_ != nullptr) return *a_;
  std::vector<std::unique_ptr<Active>>& spares = SpareActives();
  if (!spares.empty()) {
    a_ = std::move(spares.back());
    spares.pop_back();
  } else {
    a_ = std::make_unique<Active>(worker_->loop());
    a_->request_sink_ = std::make_unique<RequestBodySink>(this);
    a_->response_sink_ = std::make_unique<ResponseBodySink>(this);
  }
  worker_->NoteRequestState(+1);
  a_->owner = this;
  a_->request_sink_->s_ = this;
  a_->response_sink_->s_ = this;
  a_->parser_.Reset(LimitsFor(*listener_));
  return *a_;
}

void ClientSession::ReleaseActive() {
  if (a_ == nullptr) return;
  Active& a = *a_;
  worker_->upstream_deadlines().Cancel(&a);
  a.resume_timer_.Cancel();
  a.limit_req_timer_.Cancel();
  a.owner = nullptr;
  a.request_.Reset();
  a.ctx_.Recycle();
  a.conn_leases_.clear();
  a.tried_.Clear();
  a.hash_key_.clear();
  a.upstream_proxy_header_.clear();
  a.in_.Release();
  a.out_.Release();
  a.replay_.Release();
  a.preamble_.Release();
  a.up_out_.Release();
  a.up_in_.Release();
  KeepResponseParser(std::move(a.response_parser_));
  a.ResetScalars();
  worker_->NoteRequestState(-1);
  std::vector<std::unique_ptr<Active>>& spares = SpareActives();
  if (spares.size() < kSpareCount) {
    spares.push_back(std::move(a_));
  } else {
    a_.reset();
  }
}

void ClientSession::OnResumeTimer() {
  ProcessClientInput();
  if (!closed_ && client_read_paused_) ReadClient();
}

void ClientSession::OnLimitReqTimer() {
  if (closed_ || !limit_req_delayed_) return;
  limit_req_delayed_ = false;
  ContinueRequest();
  if (!closed_ && phase_ == Phase::kRequest) ParseAfterHead();
  if (!closed_) ProcessClientInput();
  if (!closed_ && client_read_paused_) ReadClient();
}

absl::Status ClientSession::Start() {
  bool expect_proxy = listener_->proxy_protocol == config::ProxyProtocolMode::kRequired;
  // An optional PROXY header is honoured only from peers trusted for it; from anyone else
  // the bytes are parsed as HTTP, where "PROXY ..." is not a method and gets a 400.
  if (listener_->proxy_protocol == config::ProxyProtocolMode::kOptional &&
      listener_->proxy_protocol_trusted->Contains(peer_)) {
    expect_proxy = true;
  }
  phase_ = expect_proxy ? Phase::kProxyHeader : Phase::kIdle;
  ArmClientTimer(expect_proxy ? ClientTimer::kProxyHeader : ClientTimer::kHeader);
  if (listener_->ssl && !expect_proxy && !StartTls()) {
    return absl::InternalError("cannot start TLS on an accepted connection");
  }
  absl::Status st = watcher_.Watch(worker_->loop(), fd_, this);
  // Nothing read yet: reusable, as nginx's ngx_http_init_connection makes it.
  if (st.ok()) UpdateReusable();
  return st;
}

template <typename Fn>
void ClientSession::Enter(Fn&& fn) {
  ++depth_;
  fn();
  --depth_;
  if (depth_ != 0) return;
  if (closed_) {
    Destroy();  // deletes this
    return;
  }
  // An idle connection keeps no request state: it goes back to the pool once the event that
  // finished a request is done (code up the stack may still look at it), and after a read or
  // write on an idle connection that needed its buffers. Not while anything of a next request
  // (or of a PROXY header) arrived, waits to be read or to be written. A lingering connection
  // needs none of it: the input it still holds is dropped.
  if (a_ != nullptr &&
      (phase_ == Phase::kLingering ||
       ((phase_ == Phase::kIdle || phase_ == Phase::kProxyHeader) && NothingUnderWay()))) {
    ReleaseActive();
  }
  UpdateReusable();
}

bool ClientSession::NothingUnderWay() const {
  if (!InEmpty() || !OutEmpty() || client_read_paused_ || upstream_ != nullptr) return false;
  return a_ == nullptr || !(a_->parser_.message_started() || a_->resume_timer_.armed() ||
                            a_->limit_req_timer_.armed());
}

bool ClientSession::ComputeReusable() const {
  // ngx_reusable_connection(c, 1) in nginx: waiting for the first request (or the PROXY
  // header, or the ClientHello) with nothing received, idle keep-alive, lingering close.
  switch (phase_) {
    case Phase::kLingering:
      return !closed_;
    case Phase::kProxyHeader:
      return !closed_ && NothingUnderWay();
    case Phase::kIdle:
      break;
    default:
      return false;
  }
  if (closed_ || !NothingUnderWay()) return false;
  // TLS: before the first byte of the ClientHello, or after the handshake; not in between.
  if (tls_ != nullptr && !handshake_noted_) return tls_->connection().awaiting_first_byte();
  return true;
}

void ClientSession::UpdateReusable() {
  const bool reusable = ComputeReusable();
  if (reusable == reusable_) return;
  reusable_ = reusable;
  worker_->SetReusable(this, reusable);
}

void ClientSession::Reuse() {
  REALIP_DCHECK(reusable_ && depth_ == 0);
  Enter([this] { Close(); });  // destroys this
}

std::string_view ClientSession::reuse_state() const {
  if (phase_ == Phase::kLingering) return "lingering";
  return requests_ > 0 ? "keepalive" : "new";
}

void ClientSession::OnIo(bool readable, bool writable, bool peer_closed) {
  if (peer_closed) {
    client_peer_closed_ = true;
    readable = true;
  }
  // TLS: a read may wait for writability and a write for readability.
  if (writable && transport_->ReadWantsWrite()) readable = true;
  if (readable && transport_->WriteWantsRead()) writable = true;
  Enter([&] {
    if (phase_ == Phase::kLingering) {
      if (readable && !closed_) ReadLingering();
      return;
    }
    if (writable && !closed_) {
      client_write_blocked_ = false;
      FlushClient();
    }
    if (readable && !closed_) ReadClient();
  });
}

void ClientSession::OnUpstreamIo(bool readable, bool writable) {
  Enter([&] {
    if (closed_ || upstream_ == nullptr) return;
    // TLS: a read may wait for writability and a write for readability.
    if (upstream_->connected()) {
      if (writable && upstream_->transport().ReadWantsWrite()) readable = true;
      if (readable && upstream_->transport().WriteWantsRead()) writable = true;
    }
    if (writable) {
      if (!upstream_->connected()) {
        int err = ConnectResult(upstream_->fd());
        if (err != 0) {
          UpstreamFailed(upstream::FailureKind::kError, 502,
                         absl::StrCat("connect: ", std::strerror(err)));
          return;
        }
        upstream_->set_connected();
        A().ctx_.NoteUpstreamConnected(worker_->loop().Now() - A().upstream_start_);
        // A TLS upstream's handshake runs under proxy_connect_timeout again, as in nginx;
        // FlushUpstream sets the send or read timeout once the request's bytes can go.
        ArmUpstreamTimer(settings_->proxy_pass.scheme == "https" ? UpstreamTimer::kConnect
                                                                 : UpstreamTimer::kSend);
      }
      A().upstream_write_blocked_ = false;
      FlushUpstream();
    }
    if (readable && !closed_ && upstream_ != nullptr && upstream_->connected()) ReadUpstream();
  });
}

bool ClientSession::ClientReadAllowed() const {
  if (closed_ || client_eof_) return false;
  switch (phase_) {
    case Phase::kClosing:
    case Phase::kLingering:
      return false;
    case Phase::kTunnel:
      return A().up_out_.size() < kHighWater;
    case Phase::kRequest:
      if (limit_req_delayed_) return InSize() < kInputCap;
      if (A().up_out_.size() >= kHighWater) return false;
      // The request itself is read; only buffer a bounded amount of what follows.
      if (request_complete_) return InSize() < kInputCap;
      return true;
    default:
      return InSize() < kInputCap;
  }
}

void ClientSession::ReadClient() {
  if (reading_client_) return;
  reading_client_ = true;
  ReadClientLoop();
  reading_client_ = false;
}

void ClientSession::ReadClientLoop() {
  client_read_paused_ = false;
  while (true) {
    if (!ClientReadAllowed()) {
      client_read_paused_ = !closed_ && !client_eof_;
      return;
    }
    Buffer& in = In();  // attaches the request state once for the three uses
    const size_t room = in.ReadRoom(kMinRead, kReadChunk);
    IoResult r = transport_->Read(in.tail(), room);
    in.Commit(r.kind == IoResult::Kind::kOk ? r.bytes : 0);
    if (r.kind == IoResult::Kind::kOk) {
      worker_->metrics().Add(metrics::Metric::kBytesReceived, {},
                             static_cast<int64_t>(r.bytes));
    }
    if (tls_ != nullptr && !handshake_noted_) {
      CheckHandshake(r);
      if (closed_) return;
    }
    if (r.kind == IoResult::Kind::kWouldBlock) return;
    if (r.kind == IoResult::Kind::kError) {
      Close();
      return;
    }
    if (r.kind == IoResult::Kind::kEof) {
      client_eof_ = true;
      if (phase_ == Phase::kTunnel) {
        // Pass the half-close on once what we hold is written (see FlushUpstream).
        FlushUpstream();
        return;
      }
      ProcessClientInput();
      // A client that half-closes after a complete request still gets its response; one that
      // stops in the middle of a head or body cannot be answered sensibly (nginx: 499).
      bool request_read =
          (phase_ == Phase::kRequest && request_complete_) || phase_ == Phase::kFinishing;
      if (closed_ || request_read || phase_ == Phase::kClosing) return;
      if ((phase_ == Phase::kIdle || phase_ == Phase::kReadingHead) && !OutEmpty()) {
        // The previous request is finished but its response still waits to be written (the
        // iteration's write flush, or a full socket buffer): send it, then close. A partial
        // next head is dropped, as by Close().
        CloseAfterFlush();
        return;
      }
      Close();
      return;
    }
    if (phase_ == Phase::kRequest && !request_complete_ &&
        client_timer_kind_ == ClientTimer::kBody) {
      ArmClientTimer(ClientTimer::kBody);  // client_body_timeout: between two reads
    }
    // A short read drained the socket; with close reporting, the EAGAIN read is not needed.
    bool drained = r.bytes < room && watcher_.reports_peer_close() && !client_peer_closed_;
    ProcessClientInput();
    // Asked again: the input may have started TLS, whose short reads say nothing.
    if (drained && transport_->ShortReadDrains()) return;
  }
}

bool ClientSession::StartTls() {
  if (config_->tls == nullptr) return false;
  absl::StatusOr<std::unique_ptr<tls::Connection>> conn = tls::Connection::Accept(
      *config_->tls, *listener_, fd_, InEmpty() ? std::string() : std::string(In().view()));
  if (!conn.ok()) {
    REALIP_LOG(kError, "TLS on ", listener_->text, ": ", conn.status().message());
    return false;
  }
  if (a_ != nullptr) a_->in_.Clear();
  tls_ = std::make_unique<TlsTransport>(*std::move(conn));
  transport_ = tls_.get();
  ArmClientTimer(ClientTimer::kHandshake);
  return true;
}

void ClientSession::CheckHandshake(const IoResult& r) {
  tls::Connection& conn = tls_->connection();
  if (conn.handshake_done() || conn.plain_http()) {
    handshake_noted_ = true;
    if (!conn.plain_http()) worker_->metrics().Add(metrics::Metric::kSslHandshakes, {"success"});
    if (phase_ == Phase::kIdle && client_timer_kind_ == ClientTimer::kHandshake) {
      ArmClientTimer(ClientTimer::kHeader);
    }
    return;
  }
  if (r.kind == IoResult::Kind::kError || r.kind == IoResult::Kind::kEof) {
    worker_->metrics().Add(metrics::Metric::kSslHandshakes, {"failure"});
    REALIP_LOG(kInfo, "SSL_do_handshake() failed (", conn.error(),
               ") while SSL handshaking, client: ", peer_.ToString());
    handshake_noted_ = true;
    Close();
  }
}

bool ClientSession::ProcessProxyHeader() {
  realip::DecodeResult r = realip::DecodeProxyHeader(In().view());
  switch (r.status) {
    case realip::DecodeStatus::kNeedMore:
      if (In().size() > kMaxProxyHeader) {
        worker_->metrics().Add(metrics::Metric::kProxyProtocolErrors, {"too_large"});
        REALIP_LOG(kInfo, "broken header: PROXY header too large from ", peer_.ToString());
        Close();
      }
      return false;
    case realip::DecodeStatus::kDone:
      CountProxyHeader(worker_->metrics(), r.header);
      proxy_header_ = std::make_unique<realip::ProxyHeader>(std::move(r.header));
      In().Consume(r.consumed);
      phase_ = Phase::kIdle;
      ArmClientTimer(ClientTimer::kHeader);
      // The PROXY header comes before the TLS handshake (`listen ... ssl proxy_protocol`).
      if (listener_->ssl && !StartTls()) {
        Close();
        return false;
      }
      return true;
    case realip::DecodeStatus::kNotProxy:
      if (listener_->proxy_protocol == config::ProxyProtocolMode::kOptional) {
        // Optional means a trusted peer may also speak plain HTTP.
        phase_ = Phase::kIdle;
        ArmClientTimer(ClientTimer::kHeader);
        if (listener_->ssl && !StartTls()) {
          Close();
          return false;
        }
        return true;
      }
      [[fallthrough]];
    case realip::DecodeStatus::kError:
      worker_->metrics().Add(metrics::Metric::kProxyProtocolErrors,
                             {r.error.empty() ? std::string_view("not_proxy") : r.error});
      REALIP_LOG(kInfo, "broken header: ", r.error.empty() ? "not a PROXY header" : r.error,
                 " from ", peer_.ToString());
      Close();
      return false;
  }
  return false;
}

void ClientSession::ProcessClientInput() {
  if (processing_input_) return;  // the running loop below picks the new state up
  processing_input_ = true;
  while (!closed_) {
    if (phase_ == Phase::kProxyHeader) {
      if (!ProcessProxyHeader()) break;
      continue;
    }
    if (phase_ == Phase::kTunnel) {
      A().up_out_.Append(In().view());
      In().Clear();
      FlushUpstream();
      break;
    }
    if (phase_ == Phase::kClosing || phase_ == Phase::kFinishing) break;  // wait our turn
    if (phase_ == Phase::kRequest && request_complete_) break;  // pipelined: wait our turn
    if (phase_ == Phase::kRequest && limit_req_delayed_) break;  // the body waits as well
    bool resume_after_head =
        phase_ == Phase::kRequest && !request_complete_ && A().parser_.in_body() && InEmpty();
    if (InEmpty() && !resume_after_head) break;
    http::MessageParser::Result r = A().parser_.Parse(In().view(), A().request_sink_.get());
    ConsumeRequestBytes(r.consumed);
    if (body_too_large_) {
      SendErrorAndClose(413, "client intended to send too large body");
      break;
    }
    if (r.event == http::MessageParser::Event::kError) {
      SendErrorAndClose(A().parser_.error().status,
                        absl::StrCat("client sent invalid request: ", A().parser_.error().message));
      break;
    }
    if (r.event == http::MessageParser::Event::kNeedMore) {
      if (phase_ == Phase::kIdle && A().parser_.message_started()) {
        phase_ = Phase::kReadingHead;
        if (client_timer_kind_ != ClientTimer::kHeader) ArmClientTimer(ClientTimer::kHeader);
      }
      if (phase_ == Phase::kRequest && !A().up_out_.empty()) FlushUpstream();
      if (!In().empty()) continue;
      break;
    }
    if (r.event == http::MessageParser::Event::kHeadComplete) {
      if (A().parser_.ignored_lines() != 0) [[unlikely]] {
        // As nginx (ignore_invalid_headers), at info: the lines were dropped, not refused.
        REALIP_LOG(kInfo, "client sent invalid header line: \"", A().parser_.first_ignored_line(),
                   "\"", A().parser_.ignored_lines() > 1 ? " (and more)" : "",
                   " while reading client request headers, client: ", peer_.ToString());
      }
      StartRequest();
      if (!closed_ && phase_ == Phase::kRequest && !limit_req_delayed_) ParseAfterHead();
      continue;
    }
    if (r.event == http::MessageParser::Event::kMessageComplete) {
      OnRequestMessageComplete();
      continue;
    }
  }
  processing_input_ = false;
}

void ClientSession::ParseAfterHead() {
  // Parse again even without new bytes: a bodiless request completes right away.
  http::MessageParser::Result next = A().parser_.Parse(In().view(), A().request_sink_.get());
  ConsumeRequestBytes(next.consumed);
  if (body_too_large_) {
    SendErrorAndClose(413, "client intended to send too large body");
    return;
  }
  if (next.event == http::MessageParser::Event::kError) {
    SendErrorAndClose(A().parser_.error().status, A().parser_.error().message);
    return;
  }
  if (next.event == http::MessageParser::Event::kMessageComplete) {
    OnRequestMessageComplete();
  } else if (!A().up_out_.empty() && upstream_ != nullptr) {
    FlushUpstream();
  }
}

void ClientSession::ConsumeRequestBytes(size_t n) {
  In().Consume(n);
  // $request_length: the head is parsed before the request has a context, the body after.
  if (phase_ == Phase::kRequest) {
    A().ctx_.request_length += n;
  } else {
    if (A().head_bytes_ == 0) A().head_start_ = worker_->loop().Now();
    A().head_bytes_ += n;
  }
}

void ClientSession::StartRequest() {
  ++requests_;
  request_logged_ = false;
  phase_ = Phase::kRequest;
  worker_->deadlines().Cancel(this);
  client_timer_kind_ = ClientTimer::kNone;
  A().parser_.SwapHead(&A().request_);
  head_request_ = A().request_.method == "HEAD";
  request_complete_ = false;
  response_complete_ = false;
  response_started_ = false;
  discard_body_ = false;
  body_too_large_ = false;
  A().body_bytes_ = 0;
  A().upstream_attempt_ = 0;
  A().client_framing_ = ClientFraming::kNone;
  A().ResetErrorPages();
  RouteAndResolve();
  if (tls_ != nullptr && tls_->connection().plain_http()) {
    REALIP_LOG(kInfo, "client sent plain HTTP request to HTTPS port, client: ", peer_.ToString());
    discard_body_ = true;
    keep_alive_ = false;
    // nginx's 497, found before a location is chosen: the server level's error_page for it
    // (`error_page 497 https://$host$request_uri;`), else the standard answer.
    const config::Server& server = *A().ctx_.server;
    settings_ = &server.settings;
    A().ctx_.location = &server.fallback;
    if (RunErrorPage(http::kPlainHttpToHttps)) {
      if (!closed_ && phase_ == Phase::kRequest && response_complete_) CloseAfterFlush();
      return;
    }
    A().err_status_ = 0;  // the answer is a 400
    SendLocal(400, false, kPlainHttpToHttpsPage, true);
    CloseAfterFlush();
    return;
  }

  keep_alive_ = A().request_.keep_alive && !draining_ && !worker_->stopping() &&
                requests_ < settings_->keepalive_requests;
  uint64_t max = settings_->client_max_body_size;
  if (max != 0 && A().request_.content_length.has_value() && *A().request_.content_length > max) {
    SendErrorAndClose(413, absl::StrCat("client intended to send too large body: ",
                                        *A().request_.content_length, " bytes"));
    return;
  }
  RunLocationPhases();
}

void ClientSession::RunLocationPhases() {
  // nginx's rewrite phase (`return`) answers before the preaccess and access phases run;
  // limit_req counts a request once (r->main->limit_req_status), even if a redirect reaches
  // another location.
  if (settings_->handler == config::ContentHandler::kReturn || !A().ctx_.limit_req_status.empty() ||
      RunLimitReq()) {
    ContinueRequest();
  }
}

bool ClientSession::RunLimitReq() {
  const uint64_t now_ms = static_cast<uint64_t>(worker_->loop().SteadyMs());
  LimitReqVerdict verdict =
      ApplyLimitReq(settings_->access, A().ctx_, now_ms, &worker_->metrics());
  A().ctx_.limit_req_status = verdict.status_name;
  switch (verdict.action) {
    case LimitReqVerdict::Action::kContinue:
      return true;
    case LimitReqVerdict::Action::kDelay:
      limit_req_delayed_ = true;
      A().limit_req_timer_.Arm(std::chrono::milliseconds(verdict.delay_ms));
      return false;
    case LimitReqVerdict::Action::kReject:
      discard_body_ = true;
      SendError(verdict.status);
      return false;
  }
  return true;
}

void ClientSession::ContinueRequest() {
  const bool access_phases = settings_->handler != config::ContentHandler::kReturn;
  // limit_conn counts a request once (nginx's r->main->limit_conn_status); allow/deny are
  // checked again in a location an error_page redirect reaches.
  int refused = 0;
  if (access_phases && !A().limit_conn_done_) {
    refused = ApplyLimitConn(settings_->access, A().ctx_, &A().conn_leases_);
    A().limit_conn_done_ = !settings_->access.limit_conn.empty();
  }
  if (refused != 0) {
    discard_body_ = true;
    SendError(refused);
    return;
  }
  if (access_phases && !AccessAllowed(settings_->access, A().ctx_, &worker_->metrics())) {
    discard_body_ = true;
    SendError(403);
    return;
  }
  bool has_body = A().request_.chunked ||
                  (A().request_.content_length.has_value() && *A().request_.content_length > 0);
  if (has_body && !request_complete_) ArmClientTimer(ClientTimer::kBody);

  switch (settings_->handler) {
    case config::ContentHandler::kReturn: {
      discard_body_ = true;
      const config::ReturnAction& ret = settings_->ret;
      // 444, 408 and 499 close the connection (SendLocal). Below 400, nginx answers a code without
      // text with an empty text/plain body (ngx_http_send_response()); the page is for errors and
      // redirects. A redirect without a URL has an empty Location, as nginx's.
      const bool redirect = base::IsRedirectStatus(ret.code);
      const bool empty_body = !ret.has_text && ret.code < 400 && !redirect;
      std::string text;
      if (redirect) {
        EvaluateFieldTo(ret.text, A().ctx_, &text);  // the Location
      } else if (ret.has_text) {
        EvaluateTo(ret.text, A().ctx_, &text);
      }
      bool made_absolute = false;
      if (redirect && !text.empty() && text[0] == '/') {
        // A relative redirect goes out absolute, as nginx's header filter makes it.
        std::string location;
        AppendLocation(A().ctx_, text, &location);
        made_absolute = location.size() != text.size();
        text = std::move(location);
      }
      // ngx_http_script_return_code(): an error code without text and a redirect finalize the
      // request with their code, which error_page may take over (keeping the redirect's
      // Location); anything else is sent as is.
      if ((ret.code >= 400 && !ret.has_text) || redirect) {
        if (redirect) {
          A().kept_location_ = text;
          A().kept_location_absolute_ = made_absolute;
        }
        if (RunErrorPage(ret.code)) return;
        A().kept_location_.clear();
      }
      // The type of a text: nginx's ngx_http_set_content_type(), by the URI's extension in
      // `types`, else default_type (a redirect's page is text/html whatever it is).
      const std::string* by_extension = redirect ? nullptr : settings_->types->ForUri(A().ctx_.uri);
      SendLocal(ret.code, keep_alive_, text, ret.has_text || empty_body || redirect,
                by_extension != nullptr ? *by_extension : settings_->default_type, made_absolute);
      return;
    }
    case config::ContentHandler::kReadiness:
      // Listeners are bound and a configuration is loaded whenever a request is served here;
      // only a graceful stop makes the process not ready.
      discard_body_ = true;
      if (worker_->lifecycle().ready()) {
        SendLocal(200, keep_alive_, "ready\n", true);
      } else {
        SendLocal(503, keep_alive_, "shutting down\n", true);
      }
      return;
    case config::ContentHandler::kMetrics: {
      discard_body_ = true;
      std::string text = worker_->registry().Scrape();
      SendLocal(200, keep_alive_, text, true, "text/plain; version=0.0.4; charset=utf-8");
      return;
    }
    case config::ContentHandler::kRealipEcho: {
      discard_body_ = true;
      std::string text = RealipEchoJson(A().ctx_, EchoFacts{settings_, peer_, listener_->ssl});
      SendLocal(200, keep_alive_, text, true, "application/json");
      return;
    }
    case config::ContentHandler::kProxyPass:
      break;
    case config::ContentHandler::kNone:
      discard_body_ = true;
      SendError(404);
      return;
  }
  if (A().request_.upgrade && !head_request_) {
    // A tunnel cannot be followed by another request on this connection.
    keep_alive_ = false;
  }
  // Expect: 100-continue is answered here, as nginx does: the body is streamed upstream as it
  // arrives, so the client may send it right away (RFC 9110 section 10.1.1). Not for an
  // error page, which sends no body upstream.
  if (has_body && !A().in_error_page_ &&
      http::HasToken(A().request_.headers, "expect", "100-continue") &&
      A().request_.version_minor >= 1) {
    Out().Append("HTTP/1.1 100 Continue\r\n\r\n");
    FlushClient();
    if (closed_) return;
  }
  StartProxy();
}

void ClientSession::RouteAndResolve() {
  // nginx picks the server by the request line's host when the target is absolute-form.
  const config::Server& server = listener_->FindServer(RequestHost(A().request_));
  // Locations match the normalized path, as nginx's: "/x/../admin" and "/%61dmin" are
  // /admin's (the parser normalized it, and refused the paths that cannot be).
  const std::string_view path = A().request_.normalized_path.empty()
                                    ? SplitTarget(A().request_.target).path
                                    : std::string_view(A().request_.normalized_path);
  const config::Location& location = server.FindLocation(path);
  settings_ = &location.settings;

  absl::InlinedVector<realip::HeaderField, 32> fields;
  for (const http::Header& h : A().request_.headers) fields.push_back({h.name, h.value});
  realip::ResolveInput input;
  input.peer = peer_;
  input.proxy = proxy_header_.get();
  input.headers = fields;

  A().ctx_.Recycle();
  A().ctx_.server = &server;
  A().ctx_.location = &location;
  A().ctx_.head = &A().request_;
  A().ctx_.uri = path;
  A().ctx_.proxy_header = input.proxy;
  realip::Resolve(settings_->realip, input, &A().ctx_.resolution);
  A().ctx_.local = local_;
  A().ctx_.https = listener_->ssl;
  if (tls_ != nullptr && tls_->connection().handshake_done() && !tls_->connection().plain_http()) {
    A().ctx_.tls = &tls_->connection().info();
  }
  A().ctx_.connection_id = id_;
  A().ctx_.connection_requests = requests_;
  A().ctx_.accepted_ms = accepted_ms_;
  A().ctx_.start = A().head_start_;
  A().ctx_.access = &config_->access;
  A().ctx_.request_length = A().head_bytes_;
  A().head_bytes_ = 0;
  worker_->request_metrics().CountResolution(A().ctx_.resolution);
}

void ClientSession::StartProxy() {
  const std::shared_ptr<const config::Upstream>& upstream = settings_->proxy_pass.upstream;
  A().upstream_config_ = upstream.get();
  A().balancer_ = worker_->balancers().For(upstream);
  A().tried_.Clear();
  A().hash_key_ = HashKeyFor(*A().upstream_config_, A().ctx_);
  A().upstream_attempt_ = 0;
  A().last_failure_status_ = 502;
  A().any_upstream_sent_ = false;
  A().fresh_retry_done_ = false;
  A().request_idempotent_ = upstream::IsIdempotentMethod(RequestMethod(A().ctx_));
  // An error page's request goes without the client's body, which is discarded.
  A().request_has_body_ =
      !A().in_error_page_ && (A().request_.chunked || (A().request_.content_length.has_value() &&
                                                       *A().request_.content_length > 0));
  A().replay_.Clear();
  A().replay_overflow_ = false;
  const bool http10 = settings_->proxy_http_version_minor == 0;
  if (http10 && A().request_.chunked && !A().in_error_page_) {
    // The body is streamed, not buffered, so its length is unknown and HTTP/1.0 has no other
    // framing for it.
    SendErrorAndClose(411, "chunked request body needs proxy_http_version 1.1");
    return;
  }
  UpstreamRequestOptions options;
  options.version_minor = settings_->proxy_http_version_minor;
  options.keep_alive = A().upstream_config_->keepalive > 0 && !A().request_.upgrade && !http10;
  options.upgrade = A().request_.upgrade && !head_request_ && !http10 && !A().in_error_page_;
  options.send_body = !A().in_error_page_;
  options.peer_trusted = settings_->realip.trusted != nullptr &&
                         settings_->realip.trusted->Contains(A().ctx_.resolution.realip_remote);
  A().upstream_proxy_header_.clear();
  if (settings_->proxy_protocol) {
    A().upstream_proxy_header_ = UpstreamProxyHeader(
        settings_->proxy_protocol_version, A().ctx_.resolution.client, local_,
        proxy_header_.get());
  }
  A().up_out_.Clear();
  std::string& head = HeadScratch();
  AppendUpstreamHead(A().ctx_, options, &head);
  QueueUpstream(head, false);
  if (!ConnectUpstream()) return;
  FlushUpstream();
}

void ClientSession::QueueUpstream(std::string_view bytes, bool chunk) {
  if (chunk) {
    A().up_out_.AppendChunk(bytes);
  } else {
    A().up_out_.Append(bytes);
  }
  if (A().replay_overflow_) return;
  if (chunk) {
    A().replay_.AppendChunk(bytes);
  } else {
    A().replay_.Append(bytes);
  }
  if (A().replay_.size() > kReplayLimit) {
    A().replay_.Release();
    A().replay_overflow_ = true;
  }
}

bool ClientSession::CanReplay() const {
  // Too large to keep a copy: only a request none of whose bytes left is still whole.
  return !A().replay_overflow_ || !A().any_upstream_sent_;
}

bool ClientSession::RestoreRequestBytes() {
  if (!CanReplay()) return false;
  if (!A().replay_overflow_) {
    A().up_out_.Clear();
    A().up_out_.Append(A().replay_.view());
  }
  return true;
}

bool ClientSession::ConnectUpstream(std::optional<upstream::PeerIndex> chosen, bool fresh_only) {
  if (A().balancer_ == nullptr) {
    SendErrorAndClose(502, absl::StrCat("upstream \"", A().upstream_config_->name,
                                        "\" has no usable peers"));
    return false;
  }
  while (true) {
    // One clock read for the pick and the attempt's start.
    const absl::Time now = worker_->loop().Now();
    upstream::PeerIndex peer = 0;
    if (chosen.has_value()) {
      peer = *chosen;
      chosen.reset();
    } else {
      upstream::PickContext pick;
      pick.key = A().hash_key_;
      pick.tried = &A().tried_;
      pick.now = now;
      std::optional<upstream::PeerIndex> picked = A().balancer_->Pick(pick);
      if (!picked.has_value()) {
        // Every peer is down or was tried: answer now, never wait for one to come back.
        SendErrorAndClose(A().upstream_attempt_ == 0 ? 502 : A().last_failure_status_,
                          absl::StrCat("no live upstreams in \"", A().upstream_config_->name, "\""));
        return false;
      }
      peer = *picked;
      ++A().upstream_attempt_;
    }
    const net::SocketAddress& address = A().balancer_->peer(peer).address;
    const std::string& address_text = A().balancer_->peer(peer).address_text;
    if (A().ctx_.upstream_addr.empty()) {
      A().ctx_.upstream_addr = address_text;
    } else if (!fresh_only) {
      absl::StrAppend(&A().ctx_.upstream_addr, ", ", address_text);  // nginx's $upstream_addr
    }
    A().ctx_.BeginUpstreamAttempt(/*same_entry=*/fresh_only);
    ++A().upstream_attempt_id_;
    A().upstream_peer_ = peer;
    A().upstream_start_ = now;
    if (A().response_parser_ == nullptr) {
      A().response_parser_ = TakeResponseParser();  // reset when it was kept
    } else {
      A().response_parser_->Reset();
    }
    A().response_parser_->set_limits(ResponseLimits(*settings_));
    A().response_parser_->SetNextResponseHasNoBody(head_request_);
    A().up_in_.Clear();
    A().preamble_.Clear();
    A().upstream_got_bytes_ = false;
    A().upstream_write_blocked_ = false;
    upstream_read_paused_ = false;
    A().upstream_sent_ = false;
    if (!fresh_only) {
      upstream_ = worker_->pool().Take(*A().upstream_config_, address, A().upstream_proxy_header_,
                                       UpstreamTlsSettings(), config_);
    }
    fresh_only = false;
    A().upstream_reused_ = upstream_ != nullptr;
    if (upstream_ != nullptr) {
      A().ctx_.NoteUpstreamConnected(absl::ZeroDuration());
      upstream_->set_delegate(this);
      upstream_->count_request();
      upstream_->SetLease(A().balancer_, peer);
      // proxy_send_timeout runs only while a write waits (FlushUpstream, which follows).
      worker_->upstream_deadlines().Cancel(&A());
      upstream_timer_kind_ = UpstreamTimer::kSend;
      return true;
    }
    absl::StatusOr<std::unique_ptr<UpstreamConnection>> conn =
        UpstreamConnection::Connect(worker_->loop(), address, settings_->tcp_nodelay);
    if (!conn.ok()) {
      std::string why = absl::StrCat("connect: ", conn.status().message());
      worker_->metrics().Add(metrics::Metric::kUpstreamFailures,
                             {A().upstream_config_->name, address_text, "connect"});
      REALIP_LOG(kError, "upstream \"", A().upstream_config_->name, "\" ", address_text, ": ", why);
      A().last_failure_status_ = 502;
      A().ctx_.EndUpstreamAttempt(502, worker_->loop().Now() - now);
      if (!NextAttempt(peer, upstream::FailureKind::kError, 502, why)) return false;
      continue;
    }
    upstream_ = std::move(conn).value();
    upstream_->set_delegate(this);
    upstream_->count_request();
    upstream_->SetLease(A().balancer_, peer);
    if (!A().upstream_proxy_header_.empty()) {
      upstream_->set_proxy_header(A().upstream_proxy_header_);
      A().preamble_.Append(A().upstream_proxy_header_);
    }
    ArmUpstreamTimer(UpstreamTimer::kConnect);
    if (settings_->proxy_pass.scheme == "https") return StartUpstreamTls(address);
    return true;
  }
}

upstream::NextUpstreamDecision ClientSession::DecideAndReport(upstream::PeerIndex peer,
                                                              upstream::FailureKind kind) {
  upstream::AttemptFacts facts;
  facts.failure = kind;
  facts.attempts = A().upstream_attempt_;
  facts.request_sent = A().upstream_sent_;
  facts.response_started = response_started_;
  facts.idempotent = A().request_idempotent_;
  upstream::NextUpstreamDecision decision = upstream::DecideNextUpstream(
      settings_->proxy_next_upstream, settings_->proxy_next_upstream_tries, facts);
  A().balancer_->Report(
      peer, decision.peer_failed ? upstream::Outcome::kFailure : upstream::Outcome::kSuccess,
      worker_->loop().Now());
  worker_->NotePeerState(*A().upstream_config_, *A().balancer_, peer);
  return decision;
}

bool ClientSession::NextAttempt(upstream::PeerIndex peer, upstream::FailureKind kind, int status,
                                const std::string& why) {
  upstream::NextUpstreamDecision decision = DecideAndReport(peer, kind);
  if (decision.retry && phase_ == Phase::kRequest && RestoreRequestBytes()) {
    A().tried_.Insert(peer);
    return true;
  }
  if (!response_started_ && phase_ != Phase::kTunnel) {
    SendErrorAndClose(decision.status != 0 ? decision.status : status, why);
  } else {
    // Part of the response is out: closing is the only honest signal of truncation.
    keep_alive_ = false;
    CloseAfterFlush();
  }
  return false;
}

bool ClientSession::StartUpstreamTls(const net::SocketAddress& peer) {
  // proxy_ssl_name defaults to the proxy_pass host without its port (nginx: $proxy_host).
  std::string_view host = settings_->proxy_pass.proxy_host;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  // A session is offered only where it was made: same peer and same location settings (name,
  // verification, client certificate) of the same configuration. Resuming skips certificate
  // checks, so a session verified for one name must not serve another.
  std::string key = absl::StrCat(A().upstream_config_->name, "/", peer.ToString(), "/",
                                 absl::Hex(reinterpret_cast<uintptr_t>(settings_)));
  absl::StatusOr<std::unique_ptr<tls::Connection>> conn =
      config_->tls == nullptr
          ? absl::InternalError("no TLS contexts loaded")
          : tls::Connection::Connect(*config_->tls, *settings_, std::string(host), upstream_->fd(),
                                     &worker_->tls_sessions(), std::move(key));
  if (!conn.ok()) {
    UpstreamFailed(upstream::FailureKind::kError, 502,
                   absl::StrCat("TLS: ", conn.status().message()));
    return false;
  }
  upstream_->StartTls(*std::move(conn), TlsScope{settings_, config_});
  return true;
}

void ClientSession::OnRequestMessageComplete() {
  request_complete_ = true;
  if (client_timer_kind_ == ClientTimer::kBody) {
    worker_->deadlines().Cancel(this);
    client_timer_kind_ = ClientTimer::kNone;
  }
  if (A().request_.chunked && !discard_body_ && upstream_ != nullptr) {
    QueueUpstream(http::kLastChunk, false);
  }
  if (upstream_ != nullptr) FlushUpstream();
  if (closed_) return;
  if (A().request_.upgrade && upstream_ != nullptr) return;  // wait for the 101 or a refusal
  if (response_complete_) FinishRequest();
}

void ClientSession::FinishRequest() {
  // Both directions of this request are done: recycle the upstream now (it does not wait for
  // the client to read), then end the request once its response is written.
  if (upstream_ != nullptr) ReleaseUpstream(!discard_body_);
  worker_->upstream_deadlines().Cancel(&A());
  upstream_timer_kind_ = UpstreamTimer::kNone;
  A().up_in_.Release();
  A().up_out_.Release();
  A().replay_.Release();
  A().preamble_.Release();
  if (!keep_alive_ || draining_ || worker_->stopping()) {
    CloseAfterFlush();
    return;
  }
  if (!OutEmpty()) {
    // Usually the iteration's write flush, or a slow client: FlushClient calls EndRequest
    // once the last byte is written. A next request waits in the input until then, as nginx
    // starts a pipelined request only once the previous one is finalized (all output sent).
    phase_ = Phase::kFinishing;
    return;
  }
  EndRequest();
}

void ClientSession::EndRequest() {
  LogRequest();
  // limit_conn counts the request until here, as nginx releases it with the request.
  A().conn_leases_.clear();
  KeepResponseParser(std::move(A().response_parser_));
  if (!keep_alive_ || draining_ || worker_->stopping()) {
    CloseAfterFlush();  // a graceful stop began while the response was written
    return;
  }
  EnsureNoDelay();  // the next responses follow earlier segments on this connection
  phase_ = Phase::kIdle;
  settings_ = nullptr;
  if (InEmpty()) {
    // Idle: the request state, buffers included, goes back to the pool when this event is done
    // (see Enter), so that an idle connection keeps well under a kilobyte, as nginx's does.
    ArmClientTimer(ClientTimer::kKeepalive);
    if (client_eof_) {
      CloseAfterFlush();
      return;
    }
  } else {
    ArmClientTimer(ClientTimer::kHeader);
  }
  // Work left from before: pipelined bytes, or a read loop that stopped at the input cap.
  if (!processing_input_ && (!InEmpty() || client_read_paused_)) {
    A().resume_timer_.Arm(std::chrono::milliseconds(0));
  }
}

void ClientSession::ReleaseUpstream(bool reusable) {
  std::unique_ptr<UpstreamConnection> conn = std::move(upstream_);
  if (conn == nullptr) return;
  if (reusable && A().response_parser_ != nullptr && A().response_parser_->head().keep_alive &&
      A().up_out_.empty() && A().up_in_.empty() && A().upstream_config_->keepalive > 0 &&
      settings_->proxy_http_version_minor >= 1) {
    worker_->pool().Put(*A().upstream_config_, std::move(conn));
  }
}

void ClientSession::ResetIfConfigured() {
  if (!EffectiveSettings().reset_timedout_connection) return;
  A().reset_on_close_ = true;
  // SO_LINGER with a zero time: close() sends a RST and drops what is unsent, so the socket
  // and its buffers go at once instead of lingering in FIN_WAIT for a client that stalls.
  linger l{};
  l.l_onoff = 1;
  l.l_linger = 0;
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void ClientSession::EnsureNoDelay() {
  // `tcp_nodelay off` in the request's location keeps Nagle's algorithm (nginx's clcf check).
  if (nodelay_ || (settings_ != nullptr && !settings_->tcp_nodelay)) return;
  nodelay_ = true;
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void ClientSession::ScheduleFlush(bool client) {
  if (!client_flush_scheduled_ && !upstream_flush_scheduled_) worker_->ScheduleFlush(this);
  if (client) {
    client_flush_scheduled_ = true;
  } else {
    upstream_flush_scheduled_ = true;
  }
}

void ClientSession::RunScheduledFlush() {
  Enter([this] {
    const bool upstream = upstream_flush_scheduled_;
    const bool client = client_flush_scheduled_;
    upstream_flush_scheduled_ = false;
    client_flush_scheduled_ = false;
    if (upstream && !closed_) FlushUpstream();
    if (client && !closed_) FlushClient();
  });
}

void ClientSession::FlushClient() {
  // Inside a callback the bytes wait for the end of the loop iteration, when the worker sends
  // them (RunScheduledFlush). A blocked socket waits for its writable edge instead.
  if (!OutEmpty() && worker_->deferring_writes()) {
    if (!client_write_blocked_) ScheduleFlush(true);
    return;
  }
  // A response written in pieces: Nagle would hold a small piece until the previous one is
  // acknowledged.
  if (phase_ == Phase::kRequest && !response_complete_ && !OutEmpty()) EnsureNoDelay();
  while (!OutEmpty()) {
    // Closing once this is out, as the client asked, its request read whole: the last bytes
    // and the FIN can share a segment. Not after an early answer, nor when the close is ours
    // (a limit, a graceful stop): request bytes may still be unread there, and a close with
    // unread input resets the connection, which drops what is still queued.
    const bool last = phase_ == Phase::kClosing && request_complete_ && InEmpty() &&
                      a_ != nullptr && !a_->request_.keep_alive;
    IoResult r =
        last ? transport_->WriteBeforeClose(Out().view()) : transport_->Write(Out().view());
    if (r.kind == IoResult::Kind::kOk) {
      A().ctx_.bytes_sent += r.bytes;
      worker_->metrics().Add(metrics::Metric::kBytesSent, {}, static_cast<int64_t>(r.bytes));
      Out().Consume(r.bytes);
      if (client_timer_kind_ == ClientTimer::kSend) ArmClientTimer(ClientTimer::kSend);
      continue;
    }
    if (r.kind == IoResult::Kind::kWouldBlock) {
      client_write_blocked_ = true;
      // send_timeout: between two successful writes, while the client does not read.
      if (client_timer_kind_ == ClientTimer::kNone || client_timer_kind_ == ClientTimer::kSend) {
        ArmClientTimer(ClientTimer::kSend);
      }
      return;
    }
    Close();  // the client went away
    return;
  }
  if (client_timer_kind_ == ClientTimer::kSend) {
    worker_->deadlines().Cancel(this);
    client_timer_kind_ = ClientTimer::kNone;
  }
  // The finished request's last byte is written: its log line, then keep-alive or close.
  if (phase_ == Phase::kFinishing) {
    EndRequest();
    return;
  }
  if (phase_ == Phase::kClosing) {
    CloseOrLinger();
    return;
  }
  if (phase_ == Phase::kTunnel && upstream_ == nullptr) {
    Close();
    return;
  }
  // Room again for the upstream's bytes.
  if (upstream_read_paused_ && upstream_ != nullptr && upstream_->connected() &&
      !response_complete_ && UpstreamReadAllowed()) {
    ReadUpstream();
  }
}

void ClientSession::FlushUpstream() {
  if (upstream_ == nullptr || !upstream_->connected()) return;
  if ((!A().preamble_.empty() || !A().up_out_.empty()) && worker_->deferring_writes()) {
    if (!A().upstream_write_blocked_) ScheduleFlush(false);
    return;
  }
  // A new connection's PROXY header goes first; it is not part of the request.
  while (!A().preamble_.empty() || !A().up_out_.empty()) {
    Buffer& out = A().preamble_.empty() ? A().up_out_ : A().preamble_;
    IoResult r = upstream_->transport().Write(out.view());
    if (r.kind == IoResult::Kind::kOk) {
      if (config_->variables.upstream_bytes && !A().ctx_.upstream_attempts.empty()) {
        A().ctx_.upstream_attempts.back().bytes_sent += r.bytes;
      }
      if (&out == &A().up_out_) {
        A().upstream_sent_ = true;
        A().any_upstream_sent_ = true;
      }
      out.Consume(r.bytes);
      continue;
    }
    if (r.kind == IoResult::Kind::kWouldBlock) {
      A().upstream_write_blocked_ = true;
      // proxy_send_timeout: from a write that has to wait to the next one that makes
      // progress, for every write of the request (its body too), not only the first. A TLS
      // handshake in progress keeps its connect timeout.
      if (upstream_timer_kind_ != UpstreamTimer::kConnect) ArmUpstreamTimer(UpstreamTimer::kSend);
      return;
    }
    // A reused keep-alive connection may have been closed by the upstream just before we
    // wrote: UpstreamFailed decides whether a fresh connection gets the request again.
    UpstreamFailed(upstream::FailureKind::kError, 502,
                   absl::StrCat("send: ", upstream_->ErrorText(r)));
    return;
  }
  if (phase_ == Phase::kTunnel) {
    if (client_eof_) upstream_->transport().ShutdownWrite();
  } else if (AwaitingUpstream()) {
    // proxy_read_timeout starts once the whole request is sent (nginx), or runs between the
    // reads of a response that began early.
    if (upstream_timer_kind_ != UpstreamTimer::kRead) ArmUpstreamTimer(UpstreamTimer::kRead);
  } else if (upstream_timer_kind_ != UpstreamTimer::kNone) {
    // All sent so far, the body still coming from the client: no upstream timeout runs
    // meanwhile (client_body_timeout watches the client).
    ArmUpstreamTimer(UpstreamTimer::kNone);
  }
  // Room again for the client's bytes.
  if (client_read_paused_ && !processing_input_ && ClientReadAllowed()) ReadClient();
}

bool ClientSession::AwaitingUpstream() const {
  return (request_complete_ && A().up_out_.empty() && A().preamble_.empty()) ||
         A().upstream_got_bytes_;
}

bool ClientSession::UpstreamReadAllowed() const {
  return upstream_ != nullptr && OutSize() < kHighWater;
}

void ClientSession::ReadUpstream() {
  if (reading_upstream_) return;
  reading_upstream_ = true;
  ReadUpstreamLoop();
  reading_upstream_ = false;
}

void ClientSession::ReadUpstreamLoop() {
  UpstreamConnection* conn = upstream_.get();
  // A retry inside this loop starts another attempt (whose connection may even reuse the
  // freed one's address): stop reading then.
  const uint64_t attempt = A().upstream_attempt_id_;
  upstream_read_paused_ = false;
  while (!closed_ && upstream_ != nullptr && upstream_.get() == conn &&
         A().upstream_attempt_id_ == attempt) {
    if (response_complete_ && phase_ != Phase::kTunnel) return;  // FinishRequest decides
    if (!UpstreamReadAllowed()) {
      upstream_read_paused_ = true;
      // Backpressure: the client is slow; its send_timeout is the clock now.
      if (upstream_timer_kind_ == UpstreamTimer::kRead) {
        worker_->upstream_deadlines().Cancel(&A());
        upstream_timer_kind_ = UpstreamTimer::kNone;
      }
      return;
    }
    const size_t room = A().up_in_.ReadRoom(kMinRead, kReadChunk);
    IoResult r = upstream_->transport().Read(A().up_in_.tail(), room);
    A().up_in_.Commit(r.kind == IoResult::Kind::kOk ? r.bytes : 0);
    if (r.kind == IoResult::Kind::kWouldBlock) {
      if (upstream_timer_kind_ == UpstreamTimer::kNone && AwaitingUpstream()) {
        ArmUpstreamTimer(UpstreamTimer::kRead);
      }
      return;
    }
    if (r.kind == IoResult::Kind::kOk) {
      A().upstream_got_bytes_ = true;
      // nginx counts a tunnel's bytes as sent (c->sent) but not as received.
      if (config_->variables.upstream_bytes && phase_ != Phase::kTunnel &&
          !A().ctx_.upstream_attempts.empty()) {
        A().ctx_.upstream_attempts.back().bytes_received += r.bytes;
      }
      bool drained = r.bytes < room && conn->short_read_drains() && !conn->peer_closed();
      ProcessUpstreamInput();
      // proxy_read_timeout: between two reads, while more is to come (a response that just
      // completed does not need the timer re-armed only to be cancelled).
      if (!closed_ && upstream_ != nullptr && upstream_.get() == conn &&
          A().upstream_attempt_id_ == attempt && (phase_ == Phase::kTunnel || !response_complete_) &&
          (upstream_timer_kind_ != UpstreamTimer::kSend || A().up_out_.empty())) {
        ArmUpstreamTimer(UpstreamTimer::kRead);
      }
      if (drained) return;
      continue;
    }
    // EOF or error from the upstream.
    if (phase_ == Phase::kTunnel) {
      upstream_.reset();
      if (OutEmpty()) {
        Close();
      } else {
        phase_ = Phase::kClosing;
      }
      return;
    }
    if (r.kind == IoResult::Kind::kEof && A().response_parser_ != nullptr && response_started_) {
      http::MessageParser::Result done = A().response_parser_->Finish(A().response_sink_.get());
      if (done.event == http::MessageParser::Event::kMessageComplete) {
        upstream_.reset();  // close-delimited: this connection is finished
        OnUpstreamMessageComplete();
        return;
      }
    }
    UpstreamFailed(upstream::FailureKind::kError, 502,
                   r.kind == IoResult::Kind::kEof
                       ? "upstream prematurely closed connection"
                       : absl::StrCat("recv: ", upstream_->ErrorText(r)));
    return;
  }
}

void ClientSession::ProcessUpstreamInput() {
  if (phase_ == Phase::kTunnel) {
    Out().Append(A().up_in_.view());
    A().up_in_.Clear();
    FlushClient();
    return;
  }
  // A retry starts a new attempt (the parser is reused): what is parsed here is then stale.
  const uint64_t attempt = A().upstream_attempt_id_;
  while (!closed_ && upstream_ != nullptr && phase_ != Phase::kTunnel) {
    if (A().response_parser_ == nullptr || A().upstream_attempt_id_ != attempt) return;
    if (response_complete_) return;  // anything after a complete response is not ours
    bool after_head = A().response_parser_->in_body() && A().up_in_.empty();
    if (A().up_in_.empty() && !after_head) return;
    http::MessageParser::Result r = A().response_parser_->Parse(A().up_in_.view(), A().response_sink_.get());
    A().up_in_.Consume(r.consumed);
    switch (r.event) {
      case http::MessageParser::Event::kNeedMore:
        FlushClient();
        return;
      case http::MessageParser::Event::kError: {
        const http::ParseError& error = A().response_parser_->error();
        UpstreamFailed(response_started_ ? upstream::FailureKind::kError
                                         : upstream::FailureKind::kInvalidHeader,
                       502,
                       error.status == http::kRequestHeaderTooLarge && !response_started_
                           ? std::string("upstream sent too big header")
                           : absl::StrCat("upstream sent invalid response: ", error.message));
        return;
      }
      case http::MessageParser::Event::kHeadComplete:
        OnUpstreamHead();
        // A retry on another peer started a new attempt: this response is dropped.
        if (phase_ == Phase::kTunnel || closed_ || A().response_parser_ == nullptr ||
            A().upstream_attempt_id_ != attempt) {
          return;
        }
        // A bodiless response completes on the next Parse, even without new bytes.
        {
          http::MessageParser::Result next =
              A().response_parser_->Parse(A().up_in_.view(), A().response_sink_.get());
          A().up_in_.Consume(next.consumed);
          if (next.event == http::MessageParser::Event::kMessageComplete) {
            OnUpstreamMessageComplete();
          } else if (next.event == http::MessageParser::Event::kError) {
            UpstreamFailed(upstream::FailureKind::kError, 502, "upstream sent invalid response");
            return;
          }
        }
        FlushClient();
        continue;
      case http::MessageParser::Event::kMessageComplete:
        OnUpstreamMessageComplete();
        continue;
    }
  }
}

void ClientSession::OnUpstreamHead() {
  const http::MessageHead& head = A().response_parser_->head();
  if (head.status == 101) {
    if (!A().request_.upgrade) {
      UpstreamFailed(upstream::FailureKind::kInvalidHeader, 502,
                     "upstream sent 101 without an upgrade request");
      return;
    }
    A().ctx_.NoteUpstreamHead(101, worker_->loop().Now() - A().upstream_start_);
    A().balancer_->Report(*upstream_->lease_peer(), upstream::Outcome::kSuccess,
                          worker_->loop().Now());
    worker_->NotePeerState(*A().upstream_config_, *A().balancer_, *upstream_->lease_peer());
    StartTunnel();
    return;
  }
  if (head.status < 200) return;  // interim responses: our own 100 was already sent
  // For the peer's health, a retry's pick and metrics.
  const absl::Time now = worker_->loop().Now();
  const absl::Duration elapsed = now - A().upstream_start_;
  A().ctx_.NoteUpstreamHead(head.status, elapsed);
  if (RetryOnStatus(head.status, now, elapsed)) return;
  // ngx_http_upstream_intercept_errors(): any status >= 300 the location has an error_page
  // for (whether or not a page was already used: then the standard page answers).
  if (settings_->proxy_intercept_errors && head.status >= 300 &&
      config::FindErrorPage(*settings_, head.status) != nullptr) {
    InterceptUpstreamError(head.status, elapsed);
    return;
  }
  response_started_ = true;
  const int sent_status = A().err_status_ != 0 ? A().err_status_ : head.status;
  A().ctx_.status = sent_status;
  if (config_->variables.upstream_bytes && !A().ctx_.upstream_attempts.empty()) {
    // What was read up to the body: the rest of the attempt's bytes is the response body.
    const uint64_t head_bytes =
        A().ctx_.upstream_attempts.back().bytes_received - A().up_in_.size();
    A().ctx_.upstream_head_bytes =
        static_cast<uint32_t>(std::min<uint64_t>(head_bytes, UINT32_MAX));
  }
  A().client_framing_ = ChooseClientFraming(head, head_request_, A().request_.version_minor);
  if (A().client_framing_ == ClientFraming::kClose) keep_alive_ = false;
  // An upgrade refused by the upstream: nothing more may be read from this client.
  if (A().request_.upgrade) keep_alive_ = false;
  std::string& bytes = HeadScratch();
  AppendClientResponseHead(head, *settings_, A().ctx_,
                           {ServerToken(settings_), worker_->HttpDate(), A().err_status_},
                           A().client_framing_, keep_alive_, false, &bytes);
  AddResponseHeaders(sent_status, &head, &bytes);
  A().ctx_.response_head_bytes = static_cast<uint32_t>(bytes.size());
  if (config_->variables.sent_http) A().sent_head_ = bytes;
  Out().Append(bytes);
  CountUpstreamResponse(head.status, elapsed);
}

void ClientSession::OnUpstreamMessageComplete() {
  const http::MessageHead& head = A().response_parser_->head();
  if (head.status < 200) return;  // wait for the final response
  if (A().client_framing_ == ClientFraming::kChunked) Out().Append(http::kLastChunk);
  response_complete_ = true;
  A().ctx_.EndUpstreamAttempt(0, worker_->loop().Now() - A().upstream_start_);
  worker_->upstream_deadlines().Cancel(&A());
  upstream_timer_kind_ = UpstreamTimer::kNone;
  FlushClient();
  if (closed_) return;
  if (request_complete_) {
    FinishRequest();
  } else {
    // The upstream answered before the request body was read: read the rest and drop it,
    // and do not reuse this upstream connection.
    discard_body_ = true;
    if (upstream_ != nullptr) upstream_.reset();
    keep_alive_ = false;
    CloseAfterFlush();
  }
}

void ClientSession::UpstreamFailed(upstream::FailureKind kind, int status,
                                   const std::string& why) {
  if (upstream_ == nullptr || !upstream_->lease_peer().has_value()) {
    SendErrorAndClose(status, why);
    return;
  }
  upstream::PeerIndex peer = *upstream_->lease_peer();
  upstream::ReusedConnectionFacts reused;
  reused.reused = A().upstream_reused_;
  reused.response_byte_received = A().upstream_got_bytes_;
  reused.idempotent = A().request_idempotent_;
  reused.has_body = A().request_has_body_;
  reused.already_retried = A().fresh_retry_done_;
  // A pooled connection the backend closed while idle is not the peer's fault: once, the same
  // peer gets the request again on a fresh connection, with no failure and no try counted.
  bool fresh = kind == upstream::FailureKind::kError && phase_ == Phase::kRequest &&
               !response_started_ && upstream::RetryOnFreshConnection(reused);
  if (fresh) {
    REALIP_LOG(kInfo, "upstream \"", A().upstream_config_->name, "\" ", upstream_->peer().ToString(),
               ": ", why, " on a pooled connection, retrying on a fresh one");
  } else {
    worker_->metrics().Add(
        metrics::Metric::kUpstreamFailures,
        {A().upstream_config_->name, A().balancer_->peer(A().upstream_peer_).address_text,
         UpstreamFailureReason(status, why)});
    REALIP_LOG(kError, "upstream \"", A().upstream_config_->name, "\" ",
               upstream_->peer().ToString(), ": ", why);
  }
  A().ctx_.EndUpstreamAttempt(status, worker_->loop().Now() - A().upstream_start_);
  DropUpstream();
  A().last_failure_status_ = status;
  if (fresh && RestoreRequestBytes()) {
    A().fresh_retry_done_ = true;
    if (ConnectUpstream(peer, /*fresh_only=*/true)) FlushUpstream();
    return;
  }
  if (NextAttempt(peer, kind, status, why) && ConnectUpstream()) FlushUpstream();
}

void ClientSession::DropUpstream() {
  upstream_.reset();
  A().preamble_.Clear();
  worker_->upstream_deadlines().Cancel(&A());
  upstream_timer_kind_ = UpstreamTimer::kNone;
}

bool ClientSession::RetryOnStatus(int status, absl::Time now, absl::Duration elapsed) {
  upstream::PeerIndex peer = *upstream_->lease_peer();
  std::optional<upstream::FailureKind> kind = StatusFailureKind(status);
  if (!kind.has_value()) {
    A().balancer_->Report(peer, upstream::Outcome::kSuccess, now);
    worker_->NotePeerState(*A().upstream_config_, *A().balancer_, peer);
    return false;
  }
  upstream::NextUpstreamDecision decision = DecideAndReport(peer, *kind);
  if (!decision.retry || phase_ != Phase::kRequest || !CanReplay()) return false;
  // Another peer only if one is usable; otherwise this response is the answer (nginx).
  upstream::TriedPeers tried = A().tried_;
  tried.Insert(peer);
  upstream::PickContext pick;
  pick.key = A().hash_key_;
  pick.tried = &tried;
  pick.now = now;
  std::optional<upstream::PeerIndex> next = A().balancer_->Pick(pick);
  if (!next.has_value() || !RestoreRequestBytes()) return false;
  REALIP_LOG(kInfo, "upstream \"", A().upstream_config_->name, "\" ", upstream_->peer().ToString(),
             ": answered ", status, ", trying the next peer");
  A().tried_ = tried;
  ++A().upstream_attempt_;
  A().ctx_.EndUpstreamAttempt(status, elapsed);
  CountUpstreamResponse(status, elapsed);  // a response head, though not the one passed on
  DropUpstream();
  if (ConnectUpstream(next)) FlushUpstream();
  return true;
}

void ClientSession::StartTunnel() {
  EnsureNoDelay();
  const http::MessageHead& head = A().response_parser_->head();
  A().ctx_.status = 101;
  CountUpstreamResponse(101, worker_->loop().Now() - A().upstream_start_);
  std::string& bytes = HeadScratch();
  AppendClientResponseHead(head, *settings_, A().ctx_,
                           {ServerToken(settings_), worker_->HttpDate()}, ClientFraming::kNone,
                           false, true, &bytes);
  AddResponseHeaders(101, &head, &bytes);
  A().ctx_.response_head_bytes = static_cast<uint32_t>(bytes.size());
  if (config_->variables.sent_http) A().sent_head_ = bytes;
  Out().Append(bytes);
  phase_ = Phase::kTunnel;
  worker_->deadlines().Cancel(this);
  client_timer_kind_ = ClientTimer::kNone;
  worker_->upstream_deadlines().Cancel(&A());
  upstream_timer_kind_ = UpstreamTimer::kNone;
  // Bytes that followed the 101 on the upstream side, or the request on the client side,
  // belong to the tunnel.
  Out().Append(A().up_in_.view());
  A().up_in_.Clear();
  // $upstream_http_* of the log line needs the 101's head until the tunnel ends.
  if (!config_->variables.upstream_http) KeepResponseParser(std::move(A().response_parser_));
  A().up_out_.Append(In().view());
  In().Clear();
  FlushClient();
  if (closed_) return;
  FlushUpstream();
  if (closed_) return;
  if (client_read_paused_) ReadClient();
  if (!closed_ && upstream_ != nullptr && upstream_read_paused_) ReadUpstream();
}

namespace {

// "realip-proxy/" + base::kVersion, built by the compiler: asked for every response.
constexpr std::string_view kProduct = "realip-proxy";
constexpr std::string_view kVersionText = base::kVersion;
constexpr std::array<char, kProduct.size() + 1 + kVersionText.size()> kProductWithVersion = [] {
  std::array<char, kProduct.size() + 1 + kVersionText.size()> text{};
  std::copy(kProduct.begin(), kProduct.end(), text.begin());
  text[kProduct.size()] = '/';
  std::copy(kVersionText.begin(), kVersionText.end(), text.begin() + kProduct.size() + 1);
  return text;
}();

}  // namespace

// nginx's server_tokens: "on" (the default) names the version in the Server header and on
// the proxy's own pages, "off" only the product.
std::string_view ClientSession::ServerToken(const config::HttpSettings* settings) {
  return settings == nullptr || settings->server_tokens
             ? std::string_view(kProductWithVersion.data(), kProductWithVersion.size())
             : kProduct;
}

void ClientSession::SendLocal(int status, bool keep_alive, std::string_view text, bool use_text,
                              std::string_view content_type, bool location_made_absolute) {
  if (!use_text && (status == 444 || status == 499 || status == 408)) {
    // nginx's ngx_http_finalize_request() terminates the request for these codes
    // (NGX_HTTP_CLOSE, NGX_HTTP_CLIENT_CLOSED_REQUEST, NGX_HTTP_REQUEST_TIME_OUT), from
    // `return 444;` or `limit_req_status 444;` alike: the connection closes without a
    // response, and the code is logged.
    A().ctx_.status = status;
    keep_alive_ = false;
    if (status == 444) ResetIfConfigured();
    Close();
    return;
  }
  if (status < 200) {
    // `return 1xx`: a client takes such a status for an interim response and waits for
    // another on the same connection (RFC 9110 section 15.2), which would be the next
    // request's. The head goes out alone (no body, no Content-Length: section 8.6) and the
    // connection closes after it; nginx sends a body and keeps the connection.
    keep_alive = false;
    keep_alive_ = false;
  }
  http::LocalResponse response;
  response.content_type = content_type;
  response.location_made_absolute = location_made_absolute;
  response.status = status;
  response.text = text;
  response.use_text = use_text;
  response.keep_alive = keep_alive;
  response.head_only = head_request_;
  response.server = ServerToken(settings_);
  response.date = worker_->HttpDate();
  // After an error_page without `=`, the answer keeps the error's status (nginx's
  // r->err_status), whatever the page's location produced.
  const int sent_status = A().err_status_ != 0 ? A().err_status_ : status;
  if (sent_status != status) response.sent_status = sent_status;
  response.kept_location = A().kept_location_;
  response.kept_location_absolute = A().kept_location_absolute_;
  A().ctx_.status = sent_status;
  QueueLocalResponse(sent_status, http::BuildLocalResponse(response));
  FlushClient();
}

void ClientSession::SendError(int status) {
  if (status == 444 || status == 499 || status == 408 || !RunErrorPage(status)) {
    SendLocal(status, keep_alive_, "", false);
  }
}

bool ClientSession::RunErrorPage(int status) {
  if (settings_ == nullptr || response_started_ || closed_) return false;
  Active& a = A();
  a.err_status_ = status;
  // nginx's special response closes the connection after these codes; the proxy's standard
  // answers outside error pages keep their own rule (docs/configuration.md).
  const bool closes =
      status == 400 || status == 413 || status == 414 || status == 500 || status == 501;
  if (closes && a.in_error_page_) keep_alive_ = false;
  if (a.error_page_done_ || a.uri_changes_ == 0 || settings_->error_pages.empty()) return false;
  if (!settings_->recursive_error_pages) a.error_page_done_ = true;
  const config::ErrorPage* page = config::FindErrorPage(*settings_, status);
  if (page == nullptr) return false;
  if (closes) keep_alive_ = false;
  // The body is read and dropped from now on, whatever its size (RequestBodySink).
  a.in_error_page_ = true;
  discard_body_ = true;
  body_too_large_ = false;
  if (page->overwrite >= 0) a.err_status_ = page->overwrite;
  std::string uri;
  EvaluateFieldTo(page->uri, a.ctx_, &uri);
  if (!uri.empty() && uri[0] == '/') {
    std::string args;
    if (const size_t q = uri.find('?'); q != std::string::npos) {
      args = uri.substr(q + 1);
      uri.resize(q);
    }
    if (!head_request_) a.ctx_.method = "GET";
    InternalRedirect(std::move(uri), std::move(args));
    return true;
  }
  if (!uri.empty() && uri[0] == '@') {
    // ngx_http_named_location(): the method and $uri stay.
    const config::Location* named = a.ctx_.server->FindNamedLocation(uri);
    if (named == nullptr) {
      REALIP_LOG(kError, "could not find named location \"", uri,
                 "\", client: ", a.ctx_.resolution.client.HostToString());
      SendError(500);
      return true;
    }
    --a.uri_changes_;
    settings_ = &named->settings;
    a.ctx_.location = named;
    RunLocationPhases();
    return true;
  }
  // Anything else is a URL to redirect to: 302 unless `=` names another redirect code.
  const int code = base::IsRedirectStatus(page->overwrite) ? page->overwrite : 302;
  a.err_status_ = code;
  SendLocal(code, keep_alive_, uri, true);
  return true;
}

bool ClientSession::ErrorPageForHead(int status) {
  // nginx's request has the server its Host named, if the head got that far, else the
  // address's default server, and the server level's settings.
  const config::Server& server = listener_->FindServer(RequestHost(A().parser_.head()));
  if (config::FindErrorPage(server.settings, status) == nullptr) return false;
  A().parser_.SwapHead(&A().request_);
  phase_ = Phase::kRequest;
  head_request_ = A().request_.method == "HEAD";
  keep_alive_ = false;
  // Nothing more is read from this connection: the answer is the last.
  request_complete_ = true;
  A().ResetErrorPages();
  RequestContext& ctx = A().ctx_;
  ctx.server = &server;
  ctx.location = &server.fallback;
  ctx.head = &A().request_;
  settings_ = &server.settings;
  if (!RunErrorPage(status)) return false;
  if (!closed_ && phase_ == Phase::kRequest && response_complete_) CloseAfterFlush();
  return true;
}

void ClientSession::InternalRedirect(std::string uri, std::string args) {
  Active& a = A();
  if (--a.uri_changes_ == 0) {
    REALIP_LOG(kError, "rewrite or internal redirection cycle while internally redirecting to \"",
               uri, "\", client: ", a.ctx_.resolution.client.HostToString());
    SendError(500);
    return;
  }
  a.redirect_uri_ = std::move(uri);
  a.redirect_args_ = std::move(args);
  RequestContext& ctx = a.ctx_;
  ctx.redirected = true;
  ctx.uri = a.redirect_uri_;
  ctx.args = a.redirect_args_;
  const config::Location& location = ctx.server->FindLocation(ctx.uri);
  ctx.location = &location;
  settings_ = &location.settings;
  RunLocationPhases();
}

void ClientSession::InterceptUpstreamError(int status, absl::Duration elapsed) {
  A().ctx_.EndUpstreamAttempt(status, elapsed);
  CountUpstreamResponse(status, elapsed);
  // The rest of the response is not read: the connection cannot be reused, and what the read
  // loop parsed of it is stale (a new attempt id).
  DropUpstream();
  ++A().upstream_attempt_id_;
  SendError(status);
  if (!closed_ && phase_ == Phase::kRequest && response_complete_ && request_complete_) {
    FinishRequest();
  }
}

void ClientSession::QueueLocalResponse(int status, std::string bytes) {
  AddResponseHeaders(status, nullptr, &bytes);
  const size_t head_size = bytes.find("\r\n\r\n") + 4;
  A().ctx_.response_head_bytes = static_cast<uint32_t>(head_size);
  if (config_->variables.sent_http) A().sent_head_.assign(bytes, 0, head_size - 2);
  Out().Append(bytes);
  response_started_ = true;
  response_complete_ = true;
}

void ClientSession::SendErrorAndClose(int status, const std::string& why) {
  REALIP_LOG(kInfo, why, ", client: ", peer_.ToString());
  upstream_.reset();
  // A routed request's error (413, an upstream's 502 or 504, a bad body) may have an
  // error_page, after which the connection stays open unless nginx closes it for the code
  // (RunErrorPage). 408 closes unanswered in nginx (no error_page), and a request not routed
  // yet has no location.
  if (!request_logged_ && !response_started_ && status != 408 && RunErrorPage(status)) {
    if (closed_ || phase_ != Phase::kRequest || !response_complete_) return;
    if (!keep_alive_) {
      CloseAfterFlush();
    } else if (request_complete_) {
      FinishRequest();
    }
    return;
  }
  if (request_logged_) {
    // An error before any request was routed (bad head, header timeout): log it too, as
    // nginx does, with what the client sent of it: the parsed request line and the header
    // lines before the stop, or the raw line when the line itself was bad or unfinished.
    // The client is the connection's: nginx's realip runs after the head (post-read phase).
    A().ctx_ = RequestContext{};
    const http::StoppedRequest stopped = A().parser_.Stopped();
    if (stopped.line_complete) {
      A().ctx_.head = &A().parser_.head();
    } else {
      A().ctx_.rejected_line = stopped.raw_line;
      A().ctx_.rejected_protocol = stopped.protocol_reached;
    }
    A().ctx_.server = listener_->default_server.get();
    A().ctx_.proxy_header = proxy_header_.get();
    A().ctx_.resolution.client = peer_;
    A().ctx_.resolution.realip_remote = peer_;
    A().ctx_.local = local_;
    A().ctx_.https = listener_->ssl;
    A().ctx_.accepted_ms = accepted_ms_;
    // A partial head (header timeout, a bad head) started with its first byte, as nginx's.
    A().ctx_.start = A().head_bytes_ > 0 ? A().head_start_ : worker_->loop().Now();
    A().ctx_.access = &config_->access;
    settings_ = nullptr;
    request_logged_ = false;
    // A keep-alive connection's previous response is not this one's start.
    if (phase_ == Phase::kIdle || phase_ == Phase::kReadingHead) {
      response_started_ = false;
      response_complete_ = false;
    }
    if (stopped.line_complete && status != 408 && !response_started_ && ErrorPageForHead(status)) {
      return;
    }
  }
  // nginx's 494 (a head over the limits) is answered and logged as 400, with its own page.
  const int answered = status == http::kRequestHeaderTooLarge ? 400 : status;
  if (!response_started_) A().ctx_.status = answered;
  if (response_started_) {
    CloseAfterFlush();
    return;
  }
  keep_alive_ = false;
  QueueLocalResponse(answered, http::ErrorResponse(status, ServerToken(&EffectiveSettings()),
                                                   worker_->HttpDate()));
  CloseAfterFlush();
}

void ClientSession::AddResponseHeaders(int status, const http::MessageHead* upstream,
                                       std::string* bytes) {
  const std::vector<config::AddHeader>& headers = EffectiveSettings().add_headers;
  if (headers.empty()) return;
  RequestContext& ctx = A().ctx_;
  // Set for the values' $upstream_http_* and $sent_http_*, as the log line sets them.
  ctx.upstream_head = upstream;
  const size_t head_size = bytes->find("\r\n\r\n") + 4;
  if (head_size == bytes->size()) {
    ctx.sent_head = bytes;
    ApplyAddHeaders(headers, status, ctx, bytes);
  } else {
    thread_local std::string head;
    head.assign(*bytes, 0, head_size);
    ctx.sent_head = &head;
    ApplyAddHeaders(headers, status, ctx, &head);
    bytes->replace(0, head_size, head);
  }
  ctx.upstream_head = nullptr;
  ctx.sent_head = nullptr;
}

void ClientSession::CloseAfterFlush() {
  // The log line waits for the last byte (CloseOrLinger), or for the close that gives up on
  // it (Close: $request_completion empty).
  phase_ = Phase::kClosing;
  if (a_ != nullptr) worker_->upstream_deadlines().Cancel(a_.get());
  upstream_timer_kind_ = UpstreamTimer::kNone;
  if (OutEmpty()) {
    CloseOrLinger();
    return;
  }
  // Bound the flush by send_timeout so a client that never reads cannot pin the connection.
  ArmClientTimer(ClientTimer::kSend);
  FlushClient();
}

void ClientSession::CloseOrLinger() {
  // The response is written; lingering is not part of the request.
  LogRequest();
  if (a_ != nullptr) a_->conn_leases_.clear();
  if (ShouldLinger()) {
    StartLingering();
  } else {
    Close();
  }
}

bool ClientSession::ShouldLinger() const {
  // The client closed its side: nothing more can come. A reset close never lingers.
  if (client_eof_ || (a_ != nullptr && a_->reset_on_close_)) return false;
  // A response cut short (a backend failed mid-response, a tunnel ended) is signalled by the
  // close itself; nginx terminates such requests without lingering too.
  if (response_started_ && !response_complete_) return false;
  const config::HttpSettings& s = EffectiveSettings();
  switch (s.lingering_close) {
    case config::LingeringClose::kOff:
      return false;
    case config::LingeringClose::kAlways:
      return true;
    case config::LingeringClose::kOn:
      break;
  }
  // ngx_http_finalize_connection: the body is not read whole (r->lingering_close), bytes of a
  // next request wait (header_in, r->connection->pipeline), the socket had more to read
  // (read->ready; here a read stopped early or a readable event while closing), or the parser
  // stopped inside a request (a timed-out head; a rejected one stays in the input, as the
  // parser consumes nothing of what it rejects). A client's half-close may still have unread
  // bytes before it.
  return !request_complete_ || !InEmpty() || client_read_paused_ || client_peer_closed_ ||
         (a_ != nullptr && a_->parser_.message_started());
}

void ClientSession::StartLingering() {
  const config::HttpSettings& s = EffectiveSettings();
  phase_ = Phase::kLingering;
  limit_req_delayed_ = false;
  upstream_.reset();
  // nginx counts lingering_time in whole seconds from here. During a graceful stop a
  // connection lingers for one lingering_timeout at most, so that the stop does not wait
  // lingering_time for it (those lingering when the stop begins close at once, see Drain).
  int64_t budget_s = absl::ToInt64Seconds(s.lingering_time);
  if (draining_ || worker_->stopping()) {
    budget_s =
        std::min(budget_s, absl::ToInt64Seconds(absl::Ceil(s.lingering_timeout, absl::Seconds(1))));
  }
  const uint32_t now = SteadySeconds();
  lingering_end_s_ = static_cast<uint32_t>(
      std::min<int64_t>(int64_t{now} + std::max<int64_t>(budget_s, 0), UINT32_MAX));
  // TLS: close_notify first, as nginx's ngx_ssl_shutdown() before lingering; then what the
  // client still sends is dropped undecrypted. No more is written: the TLS state has nothing
  // left to send.
  if (tls_ != nullptr) tls_->ShutdownWrite();
  plain_transport_.ShutdownWrite();
  // Bytes may already wait (their readable edge came while closing).
  ReadLingering();
}

void ClientSession::ReadLingering() {
  if (SteadySeconds() >= lingering_end_s_) {
    Close();  // lingering_time is over
    return;
  }
  char discard[kLingeringChunk];
  for (int i = 0; i < kLingeringReadsPerEvent; ++i) {
    IoResult r = plain_transport_.Read(discard, sizeof(discard));
    if (r.kind == IoResult::Kind::kWouldBlock) {
      ArmClientTimer(ClientTimer::kLingering);
      return;
    }
    if (r.kind != IoResult::Kind::kOk) {
      Close();  // the client closed, which is what lingering waits for, or reset
      return;
    }
    worker_->metrics().Add(metrics::Metric::kBytesReceived, {}, static_cast<int64_t>(r.bytes));
    // As in ReadClientLoop: with close reporting, a short read drained the socket.
    if (r.bytes < sizeof(discard) && watcher_.reports_peer_close() && !client_peer_closed_) {
      ArmClientTimer(ClientTimer::kLingering);
      return;
    }
  }
  ArmClientTimer(ClientTimer::kLingeringRead);
}

void ClientSession::Close() {
  if (closed_) return;
  if (!request_logged_ && A().ctx_.status == 0) A().ctx_.status = 499;  // nginx: client closed request
  LogRequest(/*output_lost=*/!OutEmpty());
  closed_ = true;
  limit_req_delayed_ = false;
  worker_->deadlines().Cancel(this);
  if (a_ != nullptr) {
    a_->conn_leases_.clear();
    worker_->upstream_deadlines().Cancel(a_.get());
    a_->resume_timer_.Cancel();
    a_->limit_req_timer_.Cancel();
  }
  watcher_.Stop();
  upstream_.reset();
  if (depth_ == 0) Destroy();
}

void ClientSession::Destroy() {
  if (client_flush_scheduled_ || upstream_flush_scheduled_) worker_->CancelFlush(this);
  // On the worker thread, with nothing up the stack: the request state goes back to the pool
  // (a connection that carried one request never went idle to give it back).
  ReleaseActive();
  worker_->DestroySession(this);  // deletes this
}

void ClientSession::Drain() {
  Enter([this] {
    draining_ = true;
    keep_alive_ = false;
    // A lingering connection's response is out: nginx closes it at shutdown as an idle one.
    if (phase_ == Phase::kIdle || phase_ == Phase::kProxyHeader || phase_ == Phase::kLingering) {
      Close();
    }
  });
}

void ClientSession::Abort() {
  Enter([this] { Close(); });
}

void ClientSession::ArmClientTimer(ClientTimer kind) {
  client_timer_kind_ = kind;
  const config::HttpSettings& s = EffectiveSettings();
  switch (kind) {
    case ClientTimer::kNone:
      worker_->deadlines().Cancel(this);
      return;
    case ClientTimer::kProxyHeader:
      worker_->deadlines().Arm(this, std::min(kProxyHeaderTimeout, Ms(s.client_header_timeout)));
      return;
    case ClientTimer::kHandshake:
      worker_->deadlines().Arm(this, Ms(listener_->default_server->settings.ssl.handshake_timeout));
      return;
    case ClientTimer::kHeader:
      worker_->deadlines().Arm(this, Ms(s.client_header_timeout));
      return;
    case ClientTimer::kKeepalive:
      worker_->deadlines().Arm(this, Ms(s.keepalive_timeout));
      return;
    case ClientTimer::kBody:
      worker_->deadlines().Arm(this, Ms(s.client_body_timeout));
      return;
    case ClientTimer::kSend:
      worker_->deadlines().Arm(this, Ms(s.send_timeout));
      return;
    case ClientTimer::kLingering: {
      // nginx: the rest of lingering_time in whole seconds, at most lingering_timeout (so the
      // deadline queue sees a few distinct durations, not one per connection).
      const uint32_t now = SteadySeconds();
      const std::chrono::milliseconds left =
          std::chrono::seconds(lingering_end_s_ > now ? lingering_end_s_ - now : 0);
      worker_->deadlines().Arm(this, std::min(Ms(s.lingering_timeout), left));
      return;
    }
    case ClientTimer::kLingeringRead:
      worker_->deadlines().Arm(this, std::chrono::milliseconds(0));
      return;
  }
}

void ClientSession::ArmUpstreamTimer(UpstreamTimer kind) {
  upstream_timer_kind_ = kind;
  if (settings_ == nullptr) return;
  event::DeadlineQueue& q = worker_->upstream_deadlines();
  switch (kind) {
    case UpstreamTimer::kNone:
      q.Cancel(&A());
      return;
    case UpstreamTimer::kConnect:
      q.Arm(&A(), Ms(settings_->proxy_connect_timeout));
      return;
    case UpstreamTimer::kRead:
      q.Arm(&A(), Ms(settings_->proxy_read_timeout));
      return;
    case UpstreamTimer::kSend:
      q.Arm(&A(), Ms(settings_->proxy_send_timeout));
      return;
  }
}

void ClientSession::OnClientTimer() {
  ClientTimer kind = client_timer_kind_;
  client_timer_kind_ = ClientTimer::kNone;
  switch (kind) {
    case ClientTimer::kNone:
      return;
    case ClientTimer::kProxyHeader:
      worker_->metrics().Add(metrics::Metric::kProxyProtocolErrors, {"timeout"});
      Close();
      return;
    case ClientTimer::kSend:
      ResetIfConfigured();
      Close();
      return;
    case ClientTimer::kKeepalive:
    case ClientTimer::kLingering:
      Close();
      return;
    case ClientTimer::kLingeringRead:
      ReadLingering();
      return;
    case ClientTimer::kHandshake:
      worker_->metrics().Add(metrics::Metric::kSslHandshakes, {"timeout"});
      REALIP_LOG(kInfo, "client timed out while SSL handshaking, client: ", peer_.ToString());
      Close();
      return;
    case ClientTimer::kHeader:
      if (phase_ == Phase::kIdle && (a_ == nullptr || !a_->parser_.message_started())) {
        Close();  // nothing was sent at all: no one to answer (and no request to reset, nginx)
      } else {
        ResetIfConfigured();
        SendErrorAndClose(408, "client timed out reading request header");
      }
      return;
    case ClientTimer::kBody:
      if (A().up_out_.size() >= kHighWater) {
        // We are not reading because the upstream is slow: its send timeout is the clock.
        ArmClientTimer(ClientTimer::kBody);
        return;
      }
      ResetIfConfigured();
      SendErrorAndClose(408, "client timed out reading request body");
      return;
  }
}

void ClientSession::OnUpstreamTimer() {
  UpstreamTimer kind = upstream_timer_kind_;
  upstream_timer_kind_ = UpstreamTimer::kNone;
  if (kind == UpstreamTimer::kNone || upstream_ == nullptr) return;
  const char* what = kind == UpstreamTimer::kConnect ? "upstream timed out while connecting"
                     : kind == UpstreamTimer::kRead  ? "upstream timed out while reading"
                                                     : "upstream timed out while sending";
  UpstreamFailed(upstream::FailureKind::kTimeout, 504, what);
}

void ClientSession::LogRequest(bool output_lost) {
  if (request_logged_) return;
  request_logged_ = true;
  const config::HttpSettings& s = EffectiveSettings();
  RequestContext& ctx = A().ctx_;
  // An attempt still open (client gone, tunnel over) ends now, as in nginx's finalize.
  if (ctx.UpstreamAttemptOpen()) {
    ctx.EndUpstreamAttempt(0, worker_->loop().Now() - A().upstream_start_);
  }
  // nginx sets r->request_complete when the whole response is out: the line is written after
  // the last byte, or by a close that gives up on what is still unsent.
  ctx.request_completion = response_complete_ && !output_lost;
  worker_->request_metrics().CountRequest(ctx, worker_->loop().Now());
  if (s.access_logs.empty()) return;
  const config::VariableUsage& used = config_->variables;
  if (used.upstream_http && A().response_parser_ != nullptr && !ctx.upstream_attempts.empty() &&
      ctx.upstream_attempts.back().header_ms != UpstreamAttempt::kUnset) {
    ctx.upstream_head = &A().response_parser_->head();
  }
  if (used.sent_http && !A().sent_head_.empty()) ctx.sent_head = &A().sent_head_;
  worker_->access_log().Write(s.access_logs, config_->log_files.get(), ctx);
  ctx.upstream_head = nullptr;
  ctx.sent_head = nullptr;
  A().sent_head_.clear();
}

void ClientSession::CountUpstreamResponse(int status, absl::Duration elapsed) {
  worker_->request_metrics().CountUpstreamResponse(
      *A().upstream_config_, A().upstream_peer_,
      A().balancer_->peer(A().upstream_peer_).address_text, status, elapsed);
}

}  // namespace realip::server
