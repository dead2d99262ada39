//! When to retry a GitHub call, and how long to wait: a pure function of the
//! outcome, the attempt count, the time spent and the clock.
//!
//! Follows GitHub's rate-limit guidance: a `retry-after` header is honoured;
//! `x-ratelimit-remaining: 0` waits until `x-ratelimit-reset`; a 429 without
//! either waits at least [`RetryPolicy::secondary_min_wait`]; 5xx and
//! dropped connections back off exponentially with jitter. Every wait is
//! bounded by a retry count and a total time budget. No IO, no clock reads,
//! no randomness of its own (the caller passes `jitter`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Bounds and pacing of retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// No wait may end later than this after the first attempt started.
    pub max_elapsed: Duration,
    /// First backoff; doubles each retry.
    pub base_delay: Duration,
    /// Cap of one exponential backoff (rate-limit waits are not capped by
    /// it, only by `max_elapsed`).
    pub max_delay: Duration,
    /// Least wait after a 429 that says nothing about when to come back.
    pub secondary_min_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            max_elapsed: Duration::from_secs(300),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            secondary_min_wait: Duration::from_secs(60),
        }
    }
}

/// What an attempt produced.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// GitHub answered (with a complete body).
    Response { status: u16, headers: &'a HeaderMap },
    /// No complete answer: refused, dropped, reset, timed out.
    Transport,
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hand the response to the caller (success or a final error status).
    Accept,
    /// Wait, then try again.
    Retry { after: Duration, reason: String },
    /// Stop: the failure is transient but the budget is spent.
    GiveUp { reason: String },
}

/// Decides about attempt number `attempt` (0 = the first) after `elapsed`
/// since the first attempt started. `jitter` in `[0, 1)` spreads backoffs.
pub fn retry_decision(
    outcome: Outcome<'_>,
    attempt: u32,
    elapsed: Duration,
    now: SystemTime,
    policy: &RetryPolicy,
    jitter: f64,
) -> Decision {
    let backoff = backoff(attempt, policy, jitter);
    let (wait, reason) = match outcome {
        Outcome::Transport => (backoff, "connection failed".to_owned()),
        Outcome::Response { status, headers } => match status {
            403 | 429 => {
                if let Some(secs) = header_u64(headers, "retry-after") {
                    (
                        Duration::from_secs(secs),
                        format!("secondary rate limit ({status}, retry-after {secs}s)"),
                    )
                } else if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
                    match header_u64(headers, "x-ratelimit-reset") {
                        Some(reset) => (
                            until(reset, now),
                            format!("rate limit exhausted ({status}) until {reset}"),
                        ),
                        None => (
                            backoff.max(policy.secondary_min_wait),
                            format!("rate limit exhausted ({status})"),
                        ),
                    }
                } else if status == 429 {
                    (
                        backoff.max(policy.secondary_min_wait),
                        "429 Too Many Requests".to_owned(),
                    )
                } else {
                    // A plain 403 is a permission problem: retrying won't help.
                    return Decision::Accept;
                }
            }
            500 | 502 | 503 | 504 => (backoff, format!("server error {status}")),
            _ => return Decision::Accept,
        },
    };
    if attempt >= policy.max_retries {
        return Decision::GiveUp {
            reason: format!("{reason}; retry limit reached"),
        };
    }
    if elapsed + wait > policy.max_elapsed {
        return Decision::GiveUp {
            reason: format!(
                "{reason}; waiting {}s more would exceed the {}s retry budget",
                wait.as_secs(),
                policy.max_elapsed.as_secs()
            ),
        };
    }
    Decision::Retry {
        after: wait,
        reason,
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random.
pub fn backoff(attempt: u32, policy: &RetryPolicy, jitter: f64) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(attempt.min(20)));
    let capped = exp.min(policy.max_delay);
    capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Time from `now` until the epoch second `reset` (plus one second, since
/// the reset is rounded down); zero when it has passed.
fn until(reset: u64, now: SystemTime) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    Duration::from_secs(reset + 1).saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            max_elapsed: Duration::from_secs(100),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            secondary_min_wait: Duration::from_secs(60),
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn decide(status: u16, h: &HeaderMap, attempt: u32, elapsed: u64) -> Decision {
        retry_decision(
            Outcome::Response { status, headers: h },
            attempt,
            Duration::from_secs(elapsed),
            at(1_000),
            &policy(),
            1.0,
        )
    }

    fn wait(d: &Decision) -> u64 {
        match d {
            Decision::Retry { after, .. } => after.as_secs(),
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn success_and_client_errors_are_accepted() {
        let h = HeaderMap::new();
        for s in [200, 201, 204, 301, 400, 401, 404, 405, 409, 422, 501] {
            assert_eq!(decide(s, &h, 0, 0), Decision::Accept, "{s}");
        }
    }

    #[test]
    fn plain_403_is_a_permission_error() {
        assert_eq!(decide(403, &HeaderMap::new(), 0, 0), Decision::Accept);
        // remaining > 0 and no retry-after: still not a rate limit.
        let h = headers(&[("x-ratelimit-remaining", "12")]);
        assert_eq!(decide(403, &h, 0, 0), Decision::Accept);
    }

    #[test]
    fn server_errors_back_off_exponentially_with_a_cap() {
        let h = HeaderMap::new();
        assert_eq!(wait(&decide(502, &h, 0, 0)), 1);
        assert_eq!(wait(&decide(503, &h, 1, 0)), 2);
        assert_eq!(wait(&decide(500, &h, 2, 0)), 4);
        let p = RetryPolicy {
            max_retries: 10,
            ..policy()
        };
        assert_eq!(backoff(6, &p, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(0, &p, 0.0), Duration::from_millis(500));
    }

    #[test]
    fn transport_failures_are_retried() {
        let d = retry_decision(Outcome::Transport, 0, Duration::ZERO, at(0), &policy(), 0.0);
        assert_eq!(
            d,
            Decision::Retry {
                after: Duration::from_millis(500),
                reason: "connection failed".into()
            }
        );
    }

    #[test]
    fn retry_after_is_honoured_on_403_and_429() {
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(wait(&decide(403, &h, 0, 0)), 7);
        assert_eq!(wait(&decide(429, &h, 0, 0)), 7);
    }

    #[test]
    fn exhausted_primary_limit_waits_until_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1030"),
        ]);
        // now = 1000 → 30s + 1s rounding.
        assert_eq!(wait(&decide(403, &h, 0, 0)), 31);
        // A reset in the past means go now.
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "10")]);
        assert_eq!(wait(&decide(429, &h, 0, 0)), 0);
    }

    #[test]
    fn bare_429_waits_at_least_the_secondary_minimum() {
        assert_eq!(wait(&decide(429, &HeaderMap::new(), 0, 0)), 60);
    }

    #[test]
    fn gives_up_after_the_retry_count() {
        let d = decide(502, &HeaderMap::new(), 3, 0);
        assert!(matches!(d, Decision::GiveUp { ref reason } if reason.contains("retry limit")));
    }

    #[test]
    fn gives_up_when_the_wait_exceeds_the_time_budget() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "5000"),
        ]);
        let d = decide(403, &h, 0, 0);
        assert!(
            matches!(d, Decision::GiveUp { ref reason } if reason.contains("retry budget")),
            "{d:?}"
        );
        // 97s spent + a 4s backoff > 100s budget.
        let d = decide(502, &HeaderMap::new(), 2, 97);
        assert!(matches!(d, Decision::GiveUp { .. }), "{d:?}");
    }
}
