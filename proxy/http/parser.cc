#include "proxy/http/parser.h"

#include <llhttp.h>

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/host_name.h"
#include "proxy/http/status_codes.h"
#include "proxy/http/uri.h"

namespace realip::http {
namespace {

bool IsOws(char c) { return c == ' ' || c == '\t'; }

// llhttp accepts only HTTP/0.9, 1.0, 1.1 and 2.0 unless lenient; a request's version is
// judged by ValidateHead instead, as nginx judges it (RFC 9112 section 2.3): HTTP/1.x for any
// minor digit is served, a higher major version gets 505 (RFC 9110 section 15.6.6), HTTP/0.x
// is a bad request.
void AllowAnyVersion(MessageKind kind, llhttp_t* parser) {
  if (kind == MessageKind::kRequest) parser->lenient_flags |= LENIENT_VERSION;
}

// 0 when a message's `te_lines` (> 0) Transfer-Encoding lines are ones we forward, else the
// status a request gets for them.
int TransferEncodingStatus(const HeaderList& headers, size_t te_lines, int version_minor) {
  // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing;
  // repeated lines are the raw material of request smuggling (nginx: a duplicate header).
  if (version_minor == 0 || te_lines != 1) return 400;
  // We re-frame bodies, so only plain "chunked" can be forwarded faithfully; any other coding
  // is one we do not implement: 501 (RFC 9112 section 6.1, RFC 9110 section 15.6.2), as
  // nginx answers every value but "chunked".
  return EqualsIgnoreCase(headers.Find(FieldId::kTransferEncoding)->value, "chunked") ? 0 : 501;
}

// The raw request line's version has two or more major digits, the first not 0 ("HTTP/10.").
bool MajorAboveOne(std::string_view line) {
  line = line.substr(0, line.find_first_of("\r\n"));
  const size_t slash = line.rfind("HTTP/");
  if (slash == std::string_view::npos) return false;
  std::string_view version = line.substr(slash + 5);
  size_t digits = 0;
  while (digits < version.size() && version[digits] >= '0' && version[digits] <= '9') ++digits;
  return digits >= 2 && version[0] != '0';
}

// The request line's host as nginx's request-line parser takes it (sw_host): letters, digits,
// '.' and '-', or an IP literal in brackets (unreserved and sub-delims characters and ':'),
// then ':' and digits; and ValidHost. `authority` is the target's part between "://" and the
// first '/' or '?'.
bool ValidTargetHost(std::string_view authority) {
  auto alnum = [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); };
  size_t i = 0;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    for (i = 1; i < close; ++i) {
      const char c = authority[i];
      if (!alnum(c) && std::string_view(":-._~!$&'()*+,;=").find(c) == std::string_view::npos) {
        return false;
      }
    }
    i = close + 1;
  } else {
    while (i < authority.size() &&
           (alnum(authority[i]) || authority[i] == '.' || authority[i] == '-')) {
      ++i;
    }
  }
  if (i < authority.size()) {
    if (authority[i] != ':') return false;
    for (++i; i < authority.size(); ++i) {
      if (authority[i] < '0' || authority[i] > '9') return false;
    }
  }
  return base::ValidHost(authority);
}

// nginx's answer to a request line whose version is not HTTP/1.x.
struct VersionRefusal {
  int status;
  const char* message;
};
VersionRefusal RefuseVersion(int major) {
  return major == 0 ? VersionRefusal{400, "invalid HTTP version"}
                    : VersionRefusal{505, "unsupported HTTP version"};
}

void TrimOwsInPlace(std::string* s) {
  size_t end = s->size();
  while (end > 0 && IsOws((*s)[end - 1])) --end;
  size_t begin = 0;
  while (begin < end && IsOws((*s)[begin])) ++begin;
  s->resize(end);
  if (begin > 0) s->erase(0, begin);
}

}  // namespace

struct MessageParser::Impl {
  llhttp_t parser;
  llhttp_settings_t settings;
  char prev_head_byte = 0;
};

// llhttp calls back with spans of the current input; each callback maps to a member update.
struct MessageParser::Callbacks {
  static MessageParser* Self(llhttp_t* p) { return static_cast<MessageParser*>(p->data); }

  static int Error(MessageParser* self, int status, std::string message) {
    self->pending_error_status_ = status;
    self->pending_error_ = std::move(message);
    return HPE_USER;
  }

  static int OnMessageBegin(llhttp_t* p) {
    MessageParser* self = Self(p);
    self->state_ = State::kHead;
    self->head_.Reset();
    self->head_bytes_ = 0;
    self->line_bytes_ = 0;
    self->ignored_lines_ = 0;
    self->in_trailers_ = false;
    self->line_ = nullptr;
    self->raw_line_.clear();
    return 0;
  }

  static int OnUrl(llhttp_t* p, const char* at, size_t len) {
    MessageParser* self = Self(p);
    if (self->head_.target.size() + len > self->limits_.max_target_bytes) {
      return Error(self, 414, "request target too long");
    }
    self->head_.target.append(at, len);
    return 0;
  }

  static int OnStatus(llhttp_t* p, const char* at, size_t len) {
    MessageParser* self = Self(p);
    if (self->head_.reason.size() + len > self->limits_.max_header_line_bytes) {
      return Error(self, 502, "status line too long");
    }
    self->head_.reason.append(at, len);
    return 0;
  }

  static int CheckLine(MessageParser* self, size_t len) {
    self->line_bytes_ += len;
    if (self->line_bytes_ > self->limits_.max_header_line_bytes) {
      return Error(self, kRequestHeaderTooLarge, "header line too long");
    }
    return 0;
  }

  // The header line being parsed, built in place in the head's list.
  static Header& Line(MessageParser* self) {
    if (self->line_ == nullptr) self->line_ = &self->head_.headers.StartLine();
    return *self->line_;
  }

  // Trailer fields are not kept: we re-frame bodies and never announce trailers.
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len) {
    MessageParser* self = Self(p);
    if (int rc = CheckLine(self, len); rc != 0) return rc;
    if (!self->in_trailers_) Line(self).name.append(at, len);
    return 0;
  }

  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
    MessageParser* self = Self(p);
    if (int rc = CheckLine(self, len); rc != 0) return rc;
    if (!self->in_trailers_) Line(self).value.append(at, len);
    return 0;
  }

  static int OnHeaderValueComplete(llhttp_t* p) {
    MessageParser* self = Self(p);
    if (!self->in_trailers_) {
      if (self->head_.headers.size() >= self->limits_.max_headers) {
        return Error(self, self->kind_ == MessageKind::kRequest ? kRequestHeaderTooLarge : 502,
                     "too many headers");
      }
      Header& line = Line(self);
      TrimOwsInPlace(&line.value);
      if (self->kind_ != MessageKind::kRequest || !self->limits_.ignore_invalid_names) {
        self->head_.headers.CommitLine();
      } else if (!self->head_.headers.CommitLineIfValidName(self->limits_.underscores_in_names)) {
        // Not committed: the next line is built in the same place.
        if (self->ignored_lines_++ == 0) {
          self->first_ignored_line_.assign(line.name).append(": ").append(line.value);
        }
      }
    }
    self->line_ = nullptr;
    self->line_bytes_ = 0;
    return 0;
  }

  static int OnHeadersComplete(llhttp_t* p) {
    MessageParser* self = Self(p);
    MessageHead& head = self->head_;
    head.version_major = llhttp_get_http_major(p);
    head.version_minor = llhttp_get_http_minor(p);
    if (self->kind_ == MessageKind::kRequest) {
      head.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
    } else {
      head.status = llhttp_get_status_code(p);
    }
    head.chunked = (p->flags & F_CHUNKED) != 0;
    if ((p->flags & F_CONTENT_LENGTH) != 0) head.content_length = p->content_length;
    head.keep_alive = llhttp_should_keep_alive(p) != 0;
    head.upgrade = llhttp_get_upgrade(p) != 0;
    if (!self->ValidateHead()) return HPE_USER;
    self->in_trailers_ = true;
    self->state_ = State::kBody;
    if (self->kind_ == MessageKind::kResponse) {
      // 1xx, 204 and 304 never have a body whatever their framing headers say (RFC 9112
      // section 6.3 rule 1); llhttp would read Content-Length bytes after a 204.
      bool bodiless = head.status < 200 || head.status == 204 || head.status == 304;
      if (head.status >= 200 && self->skip_body_) {
        self->skip_body_ = false;
        bodiless = true;
      }
      if (bodiless) {
        // What returning 1 from this callback does, but we also want to pause here.
        p->flags |= F_SKIPBODY;
        return HPE_PAUSED;
      }
    }
    head.body_until_close = self->kind_ == MessageKind::kResponse && !head.chunked &&
                            !head.content_length.has_value() &&
                            llhttp_message_needs_eof(p) != 0;
    return HPE_PAUSED;
  }

  static int OnBody(llhttp_t* p, const char* at, size_t len) {
    MessageParser* self = Self(p);
    if (self->sink_ != nullptr) self->sink_->OnBody(std::string_view(at, len));
    return 0;
  }

  static int OnMessageComplete(llhttp_t* p) {
    MessageParser* self = Self(p);
    self->state_ = State::kDone;
    return HPE_PAUSED;
  }
};

MessageParser::MessageParser(MessageKind kind, ParseLimits limits)
    : kind_(kind), limits_(limits), impl_(std::make_unique<Impl>()) {
  llhttp_settings_t& s = impl_->settings;
  llhttp_settings_init(&s);
  s.on_message_begin = &Callbacks::OnMessageBegin;
  s.on_url = &Callbacks::OnUrl;
  s.on_status = &Callbacks::OnStatus;
  s.on_header_field = &Callbacks::OnHeaderField;
  s.on_header_value = &Callbacks::OnHeaderValue;
  s.on_header_value_complete = &Callbacks::OnHeaderValueComplete;
  s.on_headers_complete = &Callbacks::OnHeadersComplete;
  s.on_body = &Callbacks::OnBody;
  s.on_message_complete = &Callbacks::OnMessageComplete;
  llhttp_init(&impl_->parser, kind == MessageKind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, &s);
  impl_->parser.data = this;
  AllowAnyVersion(kind, &impl_->parser);
}

MessageParser::~MessageParser() = default;

void MessageHead::Reset() {
  method.clear();
  target.clear();
  normalized_path.clear();
  status = 0;
  reason.clear();
  version_major = 1;
  version_minor = 1;
  headers.Clear();
  content_length.reset();
  chunked = false;
  keep_alive = false;
  upgrade = false;
  body_until_close = false;
}

void MessageParser::Reset() {
  llhttp_init(&impl_->parser, kind_ == MessageKind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE,
              &impl_->settings);
  impl_->parser.data = this;
  AllowAnyVersion(kind_, &impl_->parser);
  impl_->prev_head_byte = 0;
  state_ = State::kIdle;
  skip_body_ = false;
  head_.Reset();
  error_ = ParseError{};
  sink_ = nullptr;
  head_bytes_ = 0;
  line_bytes_ = 0;
  ignored_lines_ = 0;
  in_trailers_ = false;
  pending_error_status_ = 0;
  pending_error_.clear();
  line_ = nullptr;
  line_rejected_ = false;
  line_failed_ = false;
  stopped_in_head_ = stopped_line_complete_ = false;
  raw_line_.clear();
}

MessageParser::Result MessageParser::Fail(int status, std::string message) {
  state_ = State::kError;
  error_ = ParseError{status, std::move(message)};
  return Result{Event::kError, 0};
}

bool MessageParser::ValidateHead() {
  MessageHead& head = head_;
  auto reject = [&](int status, const char* message) {
    pending_error_status_ = status;
    pending_error_ = message;
    return false;
  };
  if (head.version_major != 1) {
    if (kind_ == MessageKind::kResponse) return reject(502, "unsupported HTTP version");
    // nginx rejects the version in the request line itself, before any header.
    line_rejected_ = true;
    const VersionRefusal refusal = RefuseVersion(head.version_major);
    return reject(refusal.status, refusal.message);
  }
  if (kind_ == MessageKind::kRequest) {
    // nginx normalizes the path right after the request line (ngx_http_process_request_uri)
    // and answers 400 to one it cannot: a bad or NUL %-escape, ".." above the root.
    std::string_view path = head.target;
    if (auto absolute = SplitAbsoluteForm(path); absolute.has_value()) path = absolute->rest;
    path = path.substr(0, path.find('?'));
    if (NormalizePath(path, &head.normalized_path, limits_.merge_slashes) ==
        PathNormalization::kInvalid) {
      return reject(400, "invalid request target");
    }
  }
  const size_t te_lines = head.headers.Count(FieldId::kTransferEncoding);
  if (kind_ == MessageKind::kResponse) {
    if (te_lines > 0 && TransferEncodingStatus(head.headers, te_lines, head.version_minor) != 0) {
      return reject(502, "invalid transfer-encoding");
    }
    return true;
  }
  size_t hosts = head.headers.Count(FieldId::kHost);
  // RFC 9112 section 3.2: a 1.1 request without Host, or with several, gets 400 (checked
  // before the framing, as nginx does).
  if (hosts > 1 || (hosts == 0 && head.version_minor >= 1)) {
    return reject(400, "missing or repeated host");
  }
  // nginx checks both hosts as it reads them, so before the framing too.
  if (auto absolute = SplitAbsoluteForm(head.target);
      absolute.has_value() && !ValidTargetHost(absolute->authority)) {
    return reject(400, "invalid host in request line");
  }
  if (hosts == 1 && !base::ValidHost(head.headers.Find(FieldId::kHost)->value)) {
    return reject(400, "invalid host header");
  }
  if (te_lines > 0) {
    // Every line is counted: llhttp does not flag an empty Transfer-Encoding value.
    if (int status = TransferEncodingStatus(head.headers, te_lines, head.version_minor);
        status != 0) {
      return reject(status,
                    status == 501 ? "unsupported transfer-encoding" : "invalid transfer-encoding");
    }
  }
  if (head.method == "CONNECT") return reject(405, "method not allowed");
  if (head.target.empty() || (head.target[0] != '/' && head.target != "*" &&
                              head.target.find("://") == std::string::npos)) {
    return reject(400, "invalid request target");
  }
  return true;
}

MessageParser::Result MessageParser::Parse(std::string_view data, BodySink* sink) {
  if (state_ == State::kError) return Result{Event::kError, 0};
  if (state_ == State::kDone) state_ = State::kIdle;
  llhttp_t* p = &impl_->parser;
  sink_ = sink;
  State before = state_;
  pending_error_status_ = 0;
  llhttp_errno_t rc = llhttp_execute(p, data.data(), data.size());
  size_t consumed = data.size();
  if (rc != HPE_OK) consumed = static_cast<size_t>(llhttp_get_error_pos(p) - data.data());
  sink_ = nullptr;

  // Whole-head size: count bytes spent on the head (request line, header lines, terminator).
  if (before == State::kIdle || before == State::kHead) {
    head_bytes_ += consumed;
    if (rc != HPE_USER && head_bytes_ > limits_.max_head_bytes) {
      return FailInHead(data, before, consumed, kRequestHeaderTooLarge, "header too large");
    }
    // We pause at the end of the head, so `consumed` holds head bytes only. A line that starts
    // with whitespace is obsolete line folding (RFC 9112 section 5.2) or whitespace before the
    // first field (section 2.2); llhttp folds it silently, a proxy must reject it.
    std::string_view head = data.substr(0, consumed);
    auto folds = [](char c) { return c == ' ' || c == '\t'; };
    bool folded = impl_->prev_head_byte == '\n' && !head.empty() && folds(head.front());
    for (size_t pos = head.find('\n'); !folded && pos != std::string_view::npos;
         pos = head.find('\n', pos + 1)) {
      folded = pos + 1 < head.size() && folds(head[pos + 1]);
    }
    if (folded) {
      return FailInHead(data, before, consumed, kind_ == MessageKind::kRequest ? 400 : 502,
                        "obsolete line folding");
    }
    if (!head.empty()) impl_->prev_head_byte = head.back();
    if (state_ != State::kHead) impl_->prev_head_byte = 0;
  }

  // Our callbacks' errors surface as HPE_USER or as HPE_CB_* depending on the callback.
  if (rc != HPE_OK && rc != HPE_PAUSED && pending_error_status_ != 0) {
    return FailInHead(data, before, consumed, pending_error_status_, pending_error_);
  }
  switch (rc) {
    case HPE_OK:
      // A request line cut by the end of the input: keep its bytes for Stopped().
      if (kind_ == MessageKind::kRequest && state_ == State::kHead) {
        KeepCutLine(data, before, consumed);
      }
      return Result{Event::kNeedMore, consumed};
    case HPE_PAUSED:
      llhttp_resume(p);
      if (state_ == State::kDone) return Result{Event::kMessageComplete, consumed};
      return Result{Event::kHeadComplete, consumed};
    case HPE_PAUSED_UPGRADE:
      // Only reached when a caller keeps parsing after an upgrade request; the bytes after it
      // belong to the tunnel, not to HTTP.
      return Fail(400, "data after upgrade request");
    default:
      // llhttp's request-line errors: the line did not end well, whatever bytes llhttp took
      // (an LF that ends a bad target is counted as parsed).
      line_failed_ = kind_ == MessageKind::kRequest &&
                     (rc == HPE_INVALID_METHOD || rc == HPE_INVALID_URL ||
                      rc == HPE_INVALID_CONSTANT || rc == HPE_INVALID_VERSION);
      const int status = ErrorStatus(rc, data, before, consumed);
      // ErrorStatus may have judged the head as OnHeadersComplete would (pending_error_).
      return FailInHead(data, before, consumed, status,
                        pending_error_status_ != 0 ? pending_error_
                                                   : std::string(llhttp_errno_name(rc)) + ": " +
                                                         llhttp_get_error_reason(p));
  }
}

int MessageParser::ErrorStatus(int llhttp_error, std::string_view data, State before, size_t stop) {
  if (kind_ != MessageKind::kRequest) return 502;
  switch (llhttp_error) {
    case HPE_INVALID_TRANSFER_ENCODING:
      // A coding after "chunked": one we do not implement (501), as nginx answers any value
      // but "chunked"; a repeated line or HTTP/1.0 is a bad request.
      return head_.headers.Count(FieldId::kTransferEncoding) > 0 ||
                     llhttp_get_http_minor(&impl_->parser) == 0
                 ? 400
                 : 501;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      // llhttp refuses Content-Length beside Transfer-Encoding once the head has ended, before
      // OnHeadersComplete. nginx judges that head at its end in its own order
      // (ngx_http_process_request_header): the Host first, then Transfer-Encoding in HTTP/1.0
      // (400), then a coding other than "chunked" (501, whatever the length says); only
      // "chunked" with a length is 400. A repeated Content-Length stops llhttp on its own
      // line, whose name is being stored (line_): 400, as nginx's duplicate header.
      if (line_ == nullptr) {
        llhttp_t* p = &impl_->parser;
        head_.version_major = llhttp_get_http_major(p);
        head_.version_minor = llhttp_get_http_minor(p);
        head_.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
        if (!ValidateHead()) return pending_error_status_;
      }
      return 400;
    case HPE_INVALID_VERSION: {
      // llhttp reads one digit per number; nginx answers 505 to any major version above 1,
      // "HTTP/10.0" included. Judged on the line up to the refused byte: what follows it may
      // not have arrived yet, and may hold another "HTTP/".
      const size_t line_from = LineStart(data, before);
      const size_t kept = raw_line_.size();
      KeepStoppedLine(data, line_from, stop);
      std::string_view line = raw_line_;
      if (line_from != std::string_view::npos && stop >= line_from) {
        line = line.substr(0, kept + (stop - line_from) + 1);
      }
      return MajorAboveOne(line) ? 505 : 400;
    }
    case HPE_PAUSED_H2_UPGRADE:
      return 505;  // "PRI * HTTP/2.0": llhttp's HTTP/2 preface
    default:
      return 400;
  }
}

size_t MessageParser::LineStart(std::string_view data, State before) const {
  // After the empty lines before a request (RFC 9112 section 2.2, skipped by llhttp as by
  // nginx); at the start of a line continued from the previous call (raw_line_ holds its start
  // and no LF yet).
  if (before == State::kIdle) return data.find_first_not_of("\r\n");
  if (before == State::kHead && !raw_line_.empty() && raw_line_.find('\n') == std::string::npos) {
    return 0;
  }
  return std::string_view::npos;
}

void MessageParser::KeepCutLine(std::string_view data, State before, size_t consumed) {
  // Only a call that ends inside the request line, or right after it, copies: a line that
  // arrives in one read with a header (nearly always) is never copied. The bytes up to the
  // line's LF are kept, so that raw_line_ tells whether the line ended.
  const size_t from = LineStart(data, before);
  if (from >= consumed) return;
  if (before == State::kIdle && !LineOpen()) return;  // began and ended in this call
  std::string_view here = data.substr(from, consumed - from);
  const size_t lf = here.find('\n');
  raw_line_.append(lf == std::string_view::npos ? here : here.substr(0, lf + 1));
}

MessageParser::Result MessageParser::FailInHead(std::string_view data, State before, size_t stop,
                                                int status, std::string message) {
  // A failure in a call that began in a head is in that head: the call pauses at its end.
  if (kind_ == MessageKind::kRequest && before != State::kBody && state_ != State::kIdle) {
    KeepStoppedLine(data, LineStart(data, before), stop);
    // nginx refuses a version other than HTTP/1.x in the request line, before any header:
    // once the line has ended, that refusal wins over a later fault in the head (a folded
    // line, a bad header), found earlier or later depending on how the bytes were split.
    llhttp_t* p = &impl_->parser;
    const int major = llhttp_get_http_major(p);
    if ((stopped_line_complete_ || line_rejected_) && major != 1) {
      if (!line_rejected_) {
        TakeParsedLine();
        line_rejected_ = true;
        stopped_in_head_ = false;
        KeepStoppedLine(data, std::string_view::npos, stop);
      }
      const VersionRefusal refusal = RefuseVersion(major);
      status = refusal.status;
      message = refusal.message;
    }
  }
  return Fail(status, std::move(message));
}

void MessageParser::TakeParsedLine() {
  llhttp_t* p = &impl_->parser;
  head_.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
  head_.version_major = llhttp_get_http_major(p);
  head_.version_minor = llhttp_get_http_minor(p);
}

void MessageParser::KeepStoppedLine(std::string_view data, size_t line_from, size_t stop) {
  if (stopped_in_head_) return;
  stopped_in_head_ = true;
  if (line_rejected_) {
    // Rejected for its version once the head was read: the line as parsed.
    raw_line_ = head_.method;
    absl::StrAppend(&raw_line_, " ", head_.target, " HTTP/", head_.version_major, ".",
                    head_.version_minor);
    stopped_line_complete_ = false;
    return;
  }
  // The line ended before the failure if an LF was parsed since the request began: in the
  // kept bytes, or in this call's bytes of the line up to the failure.
  std::string_view here;
  if (line_from < data.size()) here = data.substr(line_from);
  const size_t parsed = stop > line_from && line_from < data.size() ? stop - line_from : 0;
  stopped_line_complete_ =
      !line_failed_ && (!LineOpen() || raw_line_.find('\n') != std::string::npos ||
                        here.substr(0, parsed).find('\n') != std::string_view::npos);
  if (stopped_line_complete_) return;
  // nginx logs the line up to its first CR or LF among the bytes read, past a bad byte.
  raw_line_.append(here.substr(0, here.find_first_of("\r\n")));
}

StoppedRequest MessageParser::Stopped() {
  StoppedRequest stopped;
  if (kind_ != MessageKind::kRequest) return stopped;
  if (state_ == State::kError) {
    if (!stopped_in_head_) return stopped;
    stopped.line_complete = stopped_line_complete_;
  } else if (state_ != State::kHead) {
    return stopped;
  } else {
    stopped.line_complete = !LineOpen() || raw_line_.find('\n') != std::string::npos;
  }
  if (stopped.line_complete) {
    if (head_.method.empty()) TakeParsedLine();
    return stopped;
  }
  std::string_view line = raw_line_;
  line = line.substr(0, line.find_first_of("\r\n"));
  // A target longer than the limit: nginx logs the one buffer the line did not fit in.
  if (line.size() > limits_.max_target_bytes) line = line.substr(0, limits_.max_target_bytes);
  stopped.raw_line = line;
  // nginx marks the protocol's start at the "H" after the target and its spaces.
  if (size_t sp = line.find(' '); sp != std::string_view::npos) {
    size_t after = sp + 1 + head_.target.size();
    if (after < line.size() && line[after] == ' ') {
      after = line.find_first_not_of(' ', after);
      stopped.protocol_reached = after != std::string_view::npos && line[after] == 'H';
    }
  }
  return stopped;
}

MessageParser::Result MessageParser::Finish(BodySink* sink) {
  if (state_ == State::kError) return Result{Event::kError, 0};
  if (state_ == State::kIdle || state_ == State::kDone) return Result{Event::kNeedMore, 0};
  sink_ = sink;
  llhttp_errno_t rc = llhttp_finish(&impl_->parser);
  sink_ = nullptr;
  if (rc == HPE_PAUSED) {
    llhttp_resume(&impl_->parser);
    rc = HPE_OK;
  }
  if (rc == HPE_OK && state_ == State::kDone) return Result{Event::kMessageComplete, 0};
  return Fail(kind_ == MessageKind::kRequest ? 400 : 502, "connection closed mid-message");
}

}  // namespace realip::http
