#include "proxy/upstream/health.h"

namespace realip::upstream {

PassiveHealth::PassiveHealth(int max_fails, absl::Duration fail_timeout)
    : max_fails_(max_fails < 0 ? 0 : max_fails), fail_timeout_(fail_timeout) {}

bool PassiveHealth::Available(absl::Time now) const {
  if (max_fails_ == 0) return true;
  switch (state_) {
    case State::kUp:
      return true;
    case State::kDown:
    case State::kTrial:
      return now >= until_;
  }
  return true;
}

void PassiveHealth::OnPicked(absl::Time now) {
  if (max_fails_ == 0 || state_ == State::kUp || now < until_) return;
  // Like nginx's peer->checked: the trial holds the peer for one fail_timeout, so a trial whose
  // outcome never arrives cannot keep the peer out forever.
  state_ = State::kTrial;
  until_ = now + fail_timeout_;
}

void PassiveHealth::OnSuccess(absl::Time now) {
  if (max_fails_ == 0 || state_ != State::kTrial) return;
  state_ = State::kUp;
  failures_.clear();
}

void PassiveHealth::OnFailure(absl::Time now) {
  if (max_fails_ == 0) return;
  if (state_ != State::kUp) {
    MarkDown(now);
    return;
  }
  // nginx's documented rule: max_fails unsuccessful attempts "in the duration set by the
  // fail_timeout parameter" make the server unavailable; a sliding window, inclusive at the old
  // end as nginx's `now - checked <= fail_timeout`.
  while (!failures_.empty() && now - failures_.front() > fail_timeout_) failures_.pop_front();
  failures_.push_back(now);
  if (failures_.size() >= static_cast<size_t>(max_fails_)) MarkDown(now);
}

int PassiveHealth::RecentFailures(absl::Time now) const {
  if (state_ != State::kUp) return 0;
  int n = 0;
  for (absl::Time t : failures_) {
    if (now - t <= fail_timeout_) ++n;
  }
  return n;
}

void PassiveHealth::MarkDown(absl::Time now) {
  state_ = State::kDown;
  until_ = now + fail_timeout_;
  failures_.clear();
}

}  // namespace realip::upstream
