#include "proxy/server/add_header.h"

#include <string>
#include <string_view>

#include "proxy/http/headers.h"

namespace realip::server {
namespace {

// nginx keeps one ETag and one Last-Modified per response; add_header sets them.
bool SingleField(std::string_view name) {
  return http::EqualsIgnoreCase(name, "etag") || http::EqualsIgnoreCase(name, "last-modified");
}

}  // namespace

void ApplyAddHeaders(const std::vector<config::AddHeader>& headers, int status,
                     const RequestContext& ctx, std::string* head) {
  // Values are evaluated apart from the head: $sent_http_* reads the head being built.
  thread_local std::string value;
  thread_local std::string line;
  for (const config::AddHeader& h : headers) {
    if (!config::AddHeaderApplies(status, h.always)) continue;
    value.clear();
    // A value must not end the field or the head (what current nginx does).
    EvaluateFieldTo(h.value, ctx, &value);
    if (SingleField(h.name)) {
      const SerializedField old = FindSerializedField(*head, h.name, 0);
      if (old.found()) {
        if (value.empty()) {
          head->erase(old.begin, old.end - old.begin);
        } else {
          line.assign(h.name).append(": ").append(value).append("\r\n");
          head->replace(old.begin, old.end - old.begin, line);
        }
        continue;
      }
    }
    if (value.empty()) continue;
    // Before the blank line that ends the head.
    head->resize(head->size() - 2);
    head->append(h.name).append(": ").append(value).append("\r\n\r\n");
  }
}

}  // namespace realip::server
