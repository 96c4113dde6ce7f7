// Fuzzes the request and response parsers: arbitrary bytes, fed whole and then in two pieces at
// a split chosen by the first byte; both runs must agree, and nothing may crash or leak. A
// request stopped in its head (an error, or the input ending inside it) must report the same
// parsed request line, or a raw line of which the split run's is a prefix of the whole run's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/base/check.h"
#include "proxy/http/parser.h"

namespace {

using realip::http::MessageKind;
using realip::http::MessageParser;

class Sink : public realip::http::BodySink {
 public:
  void OnBody(std::string_view data) override { bytes += data.size(); }
  size_t bytes = 0;
};

struct Outcome {
  int messages = 0;
  int error = 0;
  size_t body = 0;
  bool stopped_line_complete = false;
  std::string stopped_line;  // the raw line, or the parsed method and target
};

Outcome Drive(MessageKind kind, std::string_view input, size_t split) {
  realip::http::ParseLimits limits;
  limits.max_head_bytes = 4096;
  MessageParser parser(kind, limits);
  Sink sink;
  Outcome out;
  std::string pending(input.substr(0, split));
  size_t fed = split;
  bool after_head = false;
  while (true) {
    if (pending.empty() && !after_head) {
      if (fed == input.size()) break;
      pending.assign(input.substr(fed));
      fed = input.size();
    }
    MessageParser::Result r = parser.Parse(pending, &sink);
    REALIP_CHECK(r.consumed <= pending.size());
    pending.erase(0, r.consumed);
    after_head = r.event == MessageParser::Event::kHeadComplete;
    if (r.event == MessageParser::Event::kError) {
      out.error = parser.error().status;
      break;
    }
    if (r.event == MessageParser::Event::kMessageComplete) ++out.messages;
    if (r.event == MessageParser::Event::kNeedMore) {
      REALIP_CHECK(pending.empty());
      if (fed == input.size()) break;
      pending.append(input.substr(fed));
      fed = input.size();
    }
  }
  out.body = sink.bytes;
  if (kind == MessageKind::kRequest) {
    realip::http::StoppedRequest stopped = parser.Stopped();
    out.stopped_line_complete = stopped.line_complete;
    out.stopped_line = stopped.line_complete ? parser.head().method + " " + parser.head().target
                                             : std::string(stopped.raw_line);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  MessageKind kind = (data[0] & 1) != 0 ? MessageKind::kResponse : MessageKind::kRequest;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t split = input.empty() ? 0 : data[0] % (input.size() + 1);
  Outcome whole = Drive(kind, input, input.size());
  Outcome pieces = Drive(kind, input, split);
  REALIP_CHECK(whole.messages == pieces.messages);
  REALIP_CHECK(whole.error == pieces.error);
  REALIP_CHECK(whole.body == pieces.body);
  REALIP_CHECK(whole.stopped_line_complete == pieces.stopped_line_complete);
  if (whole.stopped_line_complete) {
    REALIP_CHECK(whole.stopped_line == pieces.stopped_line);
  } else {
    REALIP_CHECK(std::string_view(whole.stopped_line).starts_with(pieces.stopped_line));
  }
  return 0;
}
