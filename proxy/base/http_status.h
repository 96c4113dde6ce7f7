// HTTP status facts needed by more than one layer: the configuration checks `return`'s text
// at load, the http layer builds the response, the server sends it.
#pragma once

namespace realip::base {

// True for the codes `return CODE TEXT` treats as redirects, as nginx does: TEXT is then the
// Location URL, not the body.
constexpr bool IsRedirectStatus(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace realip::base
