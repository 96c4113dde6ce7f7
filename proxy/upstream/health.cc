#include "proxy/upstream/health.h"

namespace realip::upstream {

PassiveHealth::PassiveHealth(int max_fails, absl::Duration fail_timeout)
    : max_fails_(max_fails < 0 ? 0 : max_fails), fail_timeout_(fail_timeout) {
  // The ring holds exactly max_fails entries: the peer goes down when the oldest of the last
  // max_fails failures is still inside fail_timeout, which is nginx's documented rule ("the
  // number of unsuccessful attempts ... in the duration set by fail_timeout").
  failures_.assign(static_cast<size_t>(max_fails_), absl::InfinitePast());
}

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
  failures_.assign(failures_.size(), absl::InfinitePast());
  next_ = 0;
}

void PassiveHealth::OnFailure(absl::Time now) {
  if (max_fails_ == 0) return;
  if (state_ != State::kUp) {
    MarkDown(now);
    return;
  }
  failures_[next_] = now;
  next_ = (next_ + 1) % failures_.size();
  // failures_[next_] is now the oldest of the last max_fails failures.
  if (failures_[next_] != absl::InfinitePast() && now - failures_[next_] <= fail_timeout_) {
    MarkDown(now);
  }
}

int PassiveHealth::RecentFailures(absl::Time now) const {
  if (state_ != State::kUp) return 0;
  int n = 0;
  for (absl::Time t : failures_) {
    if (t != absl::InfinitePast() && now - t <= fail_timeout_) ++n;
  }
  return n;
}

void PassiveHealth::MarkDown(absl::Time now) {
  state_ = State::kDown;
  until_ = now + fail_timeout_;
  failures_.assign(failures_.size(), absl::InfinitePast());
  next_ = 0;
}

}  // namespace realip::upstream
