// Incremental HTTP/1.1 message parser on llhttp (strict build, no lenient flags), sans-I/O.
//
// Bytes go in with Parse(); it stops after the head and after each message so that the caller
// can decide routing, limits and Expect handling before any body byte is processed, and so that
// pipelined requests are taken one at a time. Body bytes are handed to a BodySink as views into
// the input (copy them before the input buffer changes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/http/headers.h"

namespace realip::http {

enum class MessageKind { kRequest, kResponse };

// Size limits applied while reading a head; exceeding them is a ParseError with `status` 414
// (request target) or kRequestHeaderTooLarge (header line, whole head, header count).
struct ParseLimits {
  size_t max_target_bytes = 8192;
  size_t max_header_line_bytes = 8192;
  size_t max_head_bytes = 32768;
  size_t max_headers = 100;
  // Requests only, nginx's ignore_invalid_headers and underscores_in_headers: a header line
  // whose name has a byte other than a letter, a digit or '-' ('_' too when
  // `underscores_in_names`) is dropped as if it had not been sent (not in the head, so neither
  // forwarded nor seen by variables or the client-IP resolution).
  bool ignore_invalid_names = true;
  bool underscores_in_names = false;
  // Requests: NormalizePath's merge_slashes (nginx's merge_slashes).
  bool merge_slashes = true;
};

// A parsed request or response head.
struct MessageHead {
  std::string method;  // requests: as sent, e.g. "GET"
  std::string target;  // requests: the request-target, e.g. "/a?b"
  // Requests: the target's path in nginx's normal form (NormalizePath: decoded, `//`, `.` and
  // `..` resolved), set by the parser when it differs from the path as sent; empty when that
  // is already normal.
  std::string normalized_path;
  int status = 0;      // responses: the status code
  std::string reason;  // responses: the reason phrase
  int version_major = 1;
  int version_minor = 1;
  HeaderList headers;
  std::optional<uint64_t> content_length;  // set when the message carries Content-Length
  bool chunked = false;                    // Transfer-Encoding: chunked framing
  bool keep_alive = false;   // the connection may carry another message after this one
  bool upgrade = false;      // request asks to switch protocols / response is a 101 switch
  bool body_until_close = false;  // response: body delimited by connection close

  // Empties the head for the next message, keeping the strings' memory.
  void Reset();
};

// An absolute-form request-target (RFC 9112 section 3.2.2) split after its scheme: the
// authority, and what follows it from its first '/' or '?' ("http://a:1/p?q" gives "a:1" and
// "/p?q"; "http://a" gives "a" and ""). nullopt for the other forms ("/p", "*", CONNECT's
// authority-form).
struct AbsoluteTarget {
  std::string_view authority;
  std::string_view rest;
};
inline std::optional<AbsoluteTarget> SplitAbsoluteForm(std::string_view target) {
  if (target.empty() || target[0] == '/') return std::nullopt;  // origin-form, the usual one
  const size_t scheme = target.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  const std::string_view after = target.substr(scheme + 3);
  const size_t end = after.find_first_of("/?");
  if (end == std::string_view::npos) return AbsoluteTarget{after, {}};
  return AbsoluteTarget{after.substr(0, end), after.substr(end)};
}

// Why parsing stopped on bad input, with the status code the client should get.
struct ParseError {
  int status = 400;
  std::string message;
};

// What a request whose head never completed (a bad head, or a caller that stopped waiting for
// it) had sent, for its access-log line: nginx logs the parsed request line, or the raw one
// when the line itself was bad or unfinished.
struct StoppedRequest {
  // The request line ended (its LF was parsed): head() holds its method, target and version,
  // and the header lines completed before the stop.
  bool line_complete = false;
  // Otherwise: the line as received, up to its first CR or LF, the bytes after a bad one
  // included as far as they had arrived (nginx's $request then); at most max_target_bytes.
  // Empty when no byte of a request came.
  std::string_view raw_line;
  // Otherwise: the line went past its target to the protocol ("H..."): nginx's
  // $server_protocol is then empty rather than absent.
  bool protocol_reached = false;
};

// Receives body bytes (already de-chunked) as they are parsed.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void OnBody(std::string_view data) = 0;
};

class MessageParser {
 public:
  enum class Event {
    kNeedMore,         // all input consumed, the message is not finished
    kHeadComplete,     // head() is valid; call Parse() again, even with no new input, for the
                       // body and kMessageComplete
    kMessageComplete,  // the message ended; the next Parse() starts the next message
    kError,            // error() says why; the parser is unusable afterwards
  };
  struct Result {
    Event event;
    size_t consumed;  // bytes of the input used; the rest belongs to the next call
  };

  MessageParser(MessageKind kind, ParseLimits limits);
  ~MessageParser();
  MessageParser(const MessageParser&) = delete;
  MessageParser& operator=(const MessageParser&) = delete;

  // Feeds bytes. `sink` receives body bytes and may be null when no body is expected.
  [[nodiscard]] Result Parse(std::string_view data, BodySink* sink);
  // Signals end of input: completes a close-delimited response body, or reports truncation.
  [[nodiscard]] Result Finish(BodySink* sink);

  // For a response to HEAD (or any response without a body by request semantics): the next
  // response head has no body regardless of its framing headers (RFC 9110 section 9.3.2).
  void SetNextResponseHasNoBody(bool no_body) { skip_body_ = no_body; }

  const MessageHead& head() const { return head_; }
  // Swaps the parser's head with *other: after kHeadComplete the caller takes the head and the
  // parser gets *other's storage to reuse for the next message (no allocation per message on
  // a keep-alive connection); head() is stale afterwards. Between messages it also lends the
  // parser a spare head's memory, or takes it back from an idle connection.
  void SwapHead(MessageHead* other) {
    std::swap(head_, *other);
    line_ = nullptr;
  }
  // Makes the parser ready for a new message stream (a new connection's responses), keeping
  // its memory.
  void Reset();
  // The same with other limits (a request parser lent to a connection of another listener).
  void Reset(ParseLimits limits) {
    limits_ = limits;
    Reset();
  }
  // Other limits for the next message, on a parser between messages (just made or Reset()).
  void set_limits(ParseLimits limits) { limits_ = limits; }
  const ParseError& error() const { return error_; }
  // Requests, after kError in the head or while message_started() and the head is incomplete:
  // what the request had sent (otherwise an empty StoppedRequest). Fills head()'s method and
  // version when the line ended. The view lives until the next Parse() or Reset().
  [[nodiscard]] StoppedRequest Stopped();
  // Header lines of the current request dropped under ParseLimits::ignore_invalid_names, and
  // the first of them ("Name: value"), until the next message begins.
  size_t ignored_lines() const { return ignored_lines_; }
  const std::string& first_ignored_line() const { return first_ignored_line_; }
  // True between kHeadComplete and kMessageComplete.
  bool in_body() const { return state_ == State::kBody; }
  // True from the first byte of a message until it completes (false between messages).
  bool message_started() const { return state_ == State::kHead || state_ == State::kBody; }

 private:
  enum class State { kIdle, kHead, kBody, kDone, kError };
  struct Callbacks;

  [[nodiscard]] Result Fail(int status, std::string message);
  // The slow paths of Parse(), given its input, the state it began in and where it stopped;
  // out of line (cold), so that Parse() itself stays as small as the success path needs.
  // Fail() after keeping what Stopped() needs when the failure is in a request's head.
  [[nodiscard, gnu::cold, gnu::noinline]] Result FailInHead(std::string_view data, State before,
                                                            size_t stop, int status,
                                                            std::string message);
  // The status for an llhttp error.
  [[gnu::cold, gnu::noinline]] int ErrorStatus(int llhttp_error, std::string_view data,
                                               State before, size_t stop);
  // Where this call's bytes of the request line start in `data` (npos: none).
  size_t LineStart(std::string_view data, State before) const;
  // A call that needs more bytes: keeps the request line's bytes while it may be unfinished.
  [[gnu::noinline]] void KeepCutLine(std::string_view data, State before, size_t consumed);
  // After a failure in the head at data[stop]: whether the line had ended, else its bytes
  // from data[line_from] on (npos: none in this call).
  void KeepStoppedLine(std::string_view data, size_t line_from, size_t stop);
  // A request line llhttp parsed whole, before the head completed: its method and version
  // into head() (the target is there already).
  void TakeParsedLine();
  // No header line or head end was parsed yet for the current request: its line may be
  // unfinished.
  bool LineOpen() const {
    return state_ == State::kHead && head_.headers.empty() && ignored_lines_ == 0 &&
           line_ == nullptr;
  }
  [[nodiscard]] bool ValidateHead();

  MessageKind kind_;
  ParseLimits limits_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  State state_ = State::kIdle;
  bool skip_body_ = false;
  MessageHead head_;
  ParseError error_;
  BodySink* sink_ = nullptr;
  size_t head_bytes_ = 0;
  size_t line_bytes_ = 0;
  size_t ignored_lines_ = 0;
  std::string first_ignored_line_;
  bool in_trailers_ = false;
  int pending_error_status_ = 0;
  std::string pending_error_;
  Header* line_ = nullptr;  // the header line being parsed, in head_.headers
  // Requests: bytes of the request line, kept only when a Parse() call ends inside it (up to
  // its LF) or fails in the head (a line that arrives whole is never copied).
  std::string raw_line_;
  bool line_rejected_ = false;          // ValidateHead refused the line's version
  bool stopped_in_head_ = false;        // the failure came in a request's head
  bool stopped_line_complete_ = false;  // then: Stopped().line_complete
  // llhttp refused the request line itself (method, target, "HTTP/", version): it did not end.
  bool line_failed_ = false;
};

}  // namespace realip::http
