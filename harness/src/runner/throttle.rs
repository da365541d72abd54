//! Throttling steps: `wait = { throttled = … }` / `unthrottled`, and what `advance` does for
//! the Traffic Managers.
//!
//! A gateway learns that a quota is used up asynchronously (its request event goes to the
//! Traffic Manager, whose decision comes back on the decision stream), so "the next request is
//! refused" holds only once the decision is in. These waits watch the gateway's decision
//! holder for the key it computes (docs/wso2-behaviour.md §4.2), by signal, never by sleeping.

use crate::driver::{DecisionView, Signals};
use std::time::Duration;
use tollgate_scenario::ThrottleKey;

/// Waits until `gateway` holds (`throttled`), or no longer holds, a decision throttling `key`.
/// `app_id` is the id the Developer Portal gave the key's application (subscription and
/// application levels). The error is the report's sentence.
pub(super) async fn wait(
    decisions: &impl DecisionView,
    gateway: &str,
    key: &ThrottleKey,
    app_id: Option<&str>,
    throttled: bool,
    timeout: Duration,
) -> Result<(), String> {
    let rendered = key.render(app_id.unwrap_or_default());
    decisions
        .wait_for_throttle(gateway, &rendered, throttled, timeout)
        .await
        .map_err(|e| {
            format!(
                "`{gateway}` was not {} for {} within {timeout:?}; last seen: {}",
                if throttled {
                    "throttled"
                } else {
                    "unthrottled"
                },
                key.describe(),
                e.last_seen
            )
        })
}

/// Before a request after control-plane changes: the Traffic Managers know the policies, so the
/// request is counted against them.
pub(super) async fn converge(
    signals: &impl Signals,
    seq: u64,
    timeout: Duration,
) -> Result<(), String> {
    signals
        .wait_for_traffic_managers(seq, timeout)
        .await
        .map_err(|e| {
            format!(
                "the Traffic Managers did not apply the control plane's changes within {timeout:?}: {}",
                e.last_seen
            )
        })
}
