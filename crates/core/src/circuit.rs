//! A circuit breaker per model, so a fallback chain skips a model that keeps failing instead of
//! waiting out its timeouts on every request.
//!
//! Closed: calls go through; consecutive provider failures are counted. At the threshold the
//! circuit opens for a cool-down, during which calls are refused at once. After it, one call is
//! let through as a probe (half-open): success closes the circuit, failure opens it again. A
//! caller's error says nothing about the model's health and is not counted.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

/// When a circuit opens and for how long (the config's `embeddings.circuit_breaker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    #[serde(default = "default_failures")]
    pub failure_threshold: u32,
    /// How long it stays open before a probe is allowed (`30s`).
    #[serde(
        default = "default_cooldown",
        deserialize_with = "crate::config::units::duration"
    )]
    pub cooldown: Duration,
}

fn default_failures() -> u32 {
    3
}

fn default_cooldown() -> Duration {
    Duration::from_secs(30)
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: default_failures(),
            cooldown: default_cooldown(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// One model's circuit.
#[derive(Debug, Default)]
pub struct Breaker {
    state: Mutex<State>,
}

/// Why a call was refused without being tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Time left before a probe is allowed.
    pub retry_in: Duration,
    /// The failures that opened it.
    pub failures: u32,
}

impl Breaker {
    /// May a call go through now? `Err` while open, and for everyone but the one probe while
    /// half-open.
    pub fn allow(&self) -> Result<(), Open> {
        let Ok(mut s) = self.state.lock() else {
            return Ok(());
        };
        match s.open_until {
            None => Ok(()),
            Some(until) => {
                let now = Instant::now();
                if now < until || s.probing {
                    Err(Open {
                        retry_in: until.saturating_duration_since(now),
                        failures: s.failures,
                    })
                } else {
                    s.probing = true;
                    Ok(())
                }
            }
        }
    }

    /// Whether calls are refused now, without taking the probe: lets a fallback walk know
    /// whether a later model may still answer.
    pub fn is_open(&self) -> bool {
        let Ok(s) = self.state.lock() else {
            return false;
        };
        s.open_until
            .is_some_and(|until| Instant::now() < until || s.probing)
    }

    /// A call succeeded: close the circuit.
    pub fn success(&self) {
        if let Ok(mut s) = self.state.lock() {
            *s = State::default();
        }
    }

    /// A call failed through the provider's fault: count it, and open the circuit at the threshold
    /// (again at once if this was the probe).
    pub fn failure(&self, policy: &BreakerPolicy) {
        if let Ok(mut s) = self.state.lock() {
            s.failures = s.failures.saturating_add(1);
            if s.probing || s.failures >= policy.failure_threshold.max(1) {
                s.open_until = Some(Instant::now() + policy.cooldown);
                s.probing = false;
            }
        }
    }

    /// A call ended without saying anything about health (the caller's error): free the probe.
    pub fn neutral(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_at_the_threshold_probes_once_and_closes_on_success() {
        let policy = BreakerPolicy {
            failure_threshold: 2,
            cooldown: Duration::from_secs(10),
        };
        let b = Breaker::default();
        assert!(b.allow().is_ok());
        b.failure(&policy);
        assert!(b.allow().is_ok(), "one failure is below the threshold");
        b.failure(&policy);
        assert!(b.is_open());
        let open = b.allow().unwrap_err();
        assert_eq!((open.failures, open.retry_in), (2, Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(!b.is_open(), "a probe may go through");
        assert!(b.allow().is_ok(), "the probe");
        assert!(b.is_open(), "while the probe is out, others are refused");
        assert!(b.allow().is_err(), "only one probe at a time");
        b.failure(&policy);
        assert!(b.allow().is_err(), "a failed probe opens it again");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.allow().is_ok());
        b.success();
        assert!(b.allow().is_ok() && b.allow().is_ok(), "closed again");
    }
}
