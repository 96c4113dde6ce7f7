#include "proxy/server/lifecycle.h"

#include <utility>

namespace realip::server {

void Lifecycle::AddReopenHook(std::function<void()> hook) {
  reopen_hooks_.push_back(std::move(hook));
}

void Lifecycle::RunReopenHooks() const {
  for (const auto& hook : reopen_hooks_) hook();
}

void Lifecycle::AddReloadHook(std::function<void(std::string_view result)> hook) {
  reload_hooks_.push_back(std::move(hook));
}

void Lifecycle::ReloadFinished(bool ok) {
  ++(ok ? reloads_ok_ : reloads_failed_);
  for (const auto& hook : reload_hooks_) hook(ok ? "success" : "failure");
}

}  // namespace realip::server
