#include "proxy/http/parser.h"

#include <llhttp.h>

#include <utility>

namespace realip::http {
namespace {

bool IsOws(char c) { return c == ' ' || c == '\t'; }

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
    self->in_trailers_ = false;
    self->line_ = nullptr;
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
      return Error(self, 431, "header line too long");
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
        return Error(self, self->kind_ == MessageKind::kRequest ? 431 : 502, "too many headers");
      }
      TrimOwsInPlace(&Line(self).value);
      self->head_.headers.CommitLine();
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
}

MessageParser::~MessageParser() = default;

void MessageHead::Reset() {
  method.clear();
  target.clear();
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
  impl_->prev_head_byte = 0;
  state_ = State::kIdle;
  skip_body_ = false;
  head_.Reset();
  error_ = ParseError{};
  sink_ = nullptr;
  head_bytes_ = 0;
  line_bytes_ = 0;
  in_trailers_ = false;
  pending_error_status_ = 0;
  pending_error_.clear();
  line_ = nullptr;
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
    return reject(kind_ == MessageKind::kRequest ? 505 : 502, "unsupported HTTP version");
  }
  size_t te_lines = head.headers.Count("transfer-encoding");
  if (te_lines > 0) {
    // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (head.version_minor == 0) return reject(kind_ == MessageKind::kRequest ? 400 : 502,
                                               "transfer-encoding in HTTP/1.0");
    // We re-frame bodies, so only plain "chunked" can be forwarded faithfully; anything else
    // (codings, repeated lines) is the raw material of request smuggling.
    const Header* te = head.headers.Find("transfer-encoding");
    if (te_lines != 1 || !EqualsIgnoreCase(te->value, "chunked")) {
      return reject(kind_ == MessageKind::kRequest ? 400 : 502, "unsupported transfer-encoding");
    }
  }
  if (kind_ == MessageKind::kRequest) {
    size_t hosts = head.headers.Count("host");
    // RFC 9112 section 3.2: a 1.1 request without Host, or with several, gets 400.
    if (hosts > 1 || (hosts == 0 && head.version_minor >= 1)) {
      return reject(400, "missing or repeated host");
    }
    if (head.method == "CONNECT") return reject(405, "method not allowed");
    if (head.target.empty() || (head.target[0] != '/' && head.target != "*" &&
                                head.target.find("://") == std::string::npos)) {
      return reject(400, "invalid request target");
    }
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
      return Fail(kind_ == MessageKind::kRequest ? 431 : 502, "header too large");
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
    if (folded) return Fail(kind_ == MessageKind::kRequest ? 400 : 502, "obsolete line folding");
    if (!head.empty()) impl_->prev_head_byte = head.back();
    if (state_ != State::kHead) impl_->prev_head_byte = 0;
  }

  // Our callbacks' errors surface as HPE_USER or as HPE_CB_* depending on the callback.
  if (rc != HPE_OK && rc != HPE_PAUSED && pending_error_status_ != 0) {
    return Fail(pending_error_status_, pending_error_);
  }
  switch (rc) {
    case HPE_OK:
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
      return Fail(kind_ == MessageKind::kRequest ? 400 : 502,
                  std::string(llhttp_errno_name(rc)) + ": " + llhttp_get_error_reason(p));
  }
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
