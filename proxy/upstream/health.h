// Passive health of one upstream peer: nginx's max_fails/fail_timeout, sans I/O.
#pragma once

#include <deque>

#include "absl/time/time.h"

namespace realip::upstream {

// State machine fed by request outcomes; time is always passed in.
//   up ──(max_fails failures within fail_timeout)──> down for fail_timeout
//   down, fail_timeout over ──(picked)──> trial: one request decides, others keep away
//   trial ──success──> up;  trial ──failure──> down for fail_timeout again
// A trial that never reports (request cancelled) lapses after fail_timeout and another request
// becomes the trial. max_fails == 0 disables all of this: the peer is always available.
class PassiveHealth {
 public:
  enum class State { kUp, kDown, kTrial };

  // max_fails >= 0, fail_timeout >= 0 (failures count within [now - fail_timeout, now]).
  PassiveHealth(int max_fails, absl::Duration fail_timeout);

  // Whether a new request may be sent to the peer at `now`.
  bool Available(absl::Time now) const;
  // A request was just sent to the peer: a due-down peer becomes the trial.
  void OnPicked(absl::Time now);
  // The outcome of a request sent to the peer. A success counts only for the trial: old
  // requests finishing while the peer is down do not bring it back.
  void OnSuccess(absl::Time now);
  void OnFailure(absl::Time now);

  State state() const { return state_; }
  // Up in the sense of the realip_upstream_peer_up gauge: neither down nor on trial.
  bool up() const { return state_ == State::kUp; }
  // Failures counted towards max_fails in the window ending at `now` (always 0 when down).
  int RecentFailures(absl::Time now) const;

 private:
  void MarkDown(absl::Time now);

  int max_fails_;
  absl::Duration fail_timeout_;
  State state_ = State::kUp;
  // kDown: when the trial may start; kTrial: when an unanswered trial lapses.
  absl::Time until_ = absl::InfinitePast();
  // While up: the times of the failures inside the last fail_timeout, oldest first (at most
  // max_fails - 1 of them, so memory follows actual failures, not the configured limit).
  std::deque<absl::Time> failures_;
};

}  // namespace realip::upstream
