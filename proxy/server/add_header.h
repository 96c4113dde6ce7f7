// add_header: fields added to the response head sent to the client (nginx's
// ngx_http_headers_filter_module), for upstream responses and the proxy's own alike.
#pragma once

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/server/request_context.h"

namespace realip::server {

// Adds the `headers` that apply to `status` (config::AddHeaderApplies) to the serialised
// response head `*head` (status line to the blank line, nothing after it), in configuration
// order after every field already there, as nginx prints them. A value that evaluates empty
// adds nothing. ETag and Last-Modified replace the field of that name already in the head,
// keeping its place, and an empty value removes it (nginx's ngx_http_set_response_header); any
// other name is added beside a field of the same name. NUL, CR and LF that a variable puts in a
// value become spaces (EvaluateFieldTo).
void ApplyAddHeaders(const std::vector<config::AddHeader>& headers, int status,
                     const RequestContext& ctx, std::string* head);

}  // namespace realip::server
