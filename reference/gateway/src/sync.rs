//! Artifact and subscription sync with the control plane (docs/wso2-behaviour.md §2.3, §6).
//!
//! Our wire, WSO2's shape: pull everything for our labels at start
//! ([`GATEWAY_SNAPSHOT`], then the throttle policies and deny policies, [`THROTTLE_DATA`]),
//! then follow the event log ([`EVENTS`], NDJSON, a `HEARTBEAT` line
//! when idle) from the snapshot's `eventSeq`. When the stream ends, fails or stays silent for
//! three heartbeat periods, reconnect with capped exponential backoff and resume after the
//! last applied event; on `410 Gone` the log no longer reaches back that far, so pull the
//! snapshot again. The control plane may be down at start: the snapshot is retried with the
//! same backoff while the listeners already serve (nothing, at first) — WSO2's `async`
//! retrieval mode. All waiting is `tokio::time`, so paused-time tests run it instantly.

use crate::gateway::Gateway;
use base64::Engine;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tollgate_net::exchange::{self, Pending};
use tollgate_net::ndjson::{CONTENT_TYPE_NDJSON, LineReader, ReadError};
use tollgate_net::{HttpClient, Outbound};
use tollgate_protocol::SharedTap;
use tollgate_protocol::event::EventEnvelope;
use tollgate_protocol::internal::{
    EVENTS, EVENTS_HEARTBEAT, GATEWAY_SNAPSHOT, GatewaySnapshot, encode_labels,
};
use tollgate_protocol::throttle::{THROTTLE_DATA, ThrottleData};

/// Silence for this long (three heartbeats) means the stream is dead even if the socket is not.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(3 * EVENTS_HEARTBEAT.as_secs());
/// First retry delay; doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_START: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A snapshot larger than this is refused rather than buffered.
const MAX_SNAPSHOT_BYTES: usize = 256 * 1024 * 1024;
/// One event line larger than this is refused.
const MAX_EVENT_LINE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("control plane unreachable: {0}")]
    Unreachable(String),
    #[error("control plane answered {0}")]
    Status(StatusCode),
    #[error("event log no longer holds the events after {0}: snapshot needed")]
    Gone(u64),
    #[error("reading the response: {0}")]
    Body(String),
    #[error("bad payload: {0}")]
    Payload(String),
    #[error("no data for {0:?}")]
    Idle(Duration),
    #[error("event stream ended")]
    Ended,
    #[error("invalid control plane URL `{0}`")]
    Url(String),
}

/// Capped exponential backoff.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: BACKOFF_START,
        }
    }
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }

    pub fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

/// The sync task of one gateway; runs until `shutdown`.
pub async fn run(gateway: Arc<Gateway>, outbound: Outbound, shutdown: CancellationToken) {
    let client: HttpClient<Empty<Bytes>> = outbound.client();
    let tap = outbound.tap().cloned();
    let sync = SyncClient {
        gateway,
        client,
        tap,
    };
    tokio::select! {
        // Polled in this order, not at random: a seeded run takes the same branch each time.
        biased;
        _ = shutdown.cancelled() => {}
        _ = sync.run() => {}
    }
}

struct SyncClient {
    gateway: Arc<Gateway>,
    client: HttpClient<Empty<Bytes>>,
    /// The harness's observer: each exchange with the control plane, when it asks for them.
    tap: Option<SharedTap>,
}

impl SyncClient {
    async fn run(&self) {
        let mut backoff = Backoff::default();
        let mut need_snapshot = true;
        loop {
            if need_snapshot {
                match self.fetch_snapshot().await {
                    Ok(snapshot) => {
                        tracing::info!(
                            node = %self.gateway.settings.node_name,
                            seq = snapshot.event_seq,
                            apis = snapshot.list.len(),
                            "applied the control plane's snapshot"
                        );
                        self.gateway.apply_snapshot(&snapshot);
                        // Taken after the snapshot, so following from the snapshot's sequence
                        // replays (idempotently) every policy event it might lack.
                        match self.fetch_throttle_data().await {
                            Ok(Some(data)) => self.gateway.throttle().apply_data(&data),
                            Ok(None) => tracing::warn!(
                                node = %self.gateway.settings.node_name,
                                "the control plane has no throttling data; built-in tiers only"
                            ),
                            Err(error) => {
                                tracing::warn!(node = %self.gateway.settings.node_name, %error, "throttling data failed; retrying");
                                tokio::time::sleep(backoff.next_delay()).await;
                                continue;
                            }
                        }
                        need_snapshot = false;
                        backoff.reset();
                    }
                    Err(error) => {
                        tracing::warn!(node = %self.gateway.settings.node_name, %error, "snapshot failed; retrying");
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                }
            }
            let after = self.gateway.status().applied_seq;
            match self.follow(after, &mut backoff).await {
                Err(SyncError::Gone(_)) => {
                    tracing::info!(after, "event log truncated; pulling the snapshot again");
                    need_snapshot = true;
                }
                Err(error) => {
                    tracing::debug!(node = %self.gateway.settings.node_name, %error, "event stream lost; reconnecting");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Ok(()) => {}
            }
        }
    }

    fn request(
        &self,
        path_and_query: &str,
        accept: &'static str,
    ) -> Result<Request<Empty<Bytes>>, SyncError> {
        let settings = &self.gateway.settings;
        let url = format!(
            "{}{}",
            settings.control_plane_url.trim_end_matches('/'),
            path_and_query
        );
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            settings.event_hub_username, settings.event_hub_password
        ));
        Request::get(&url)
            .header(AUTHORIZATION, format!("Basic {credentials}"))
            .header(ACCEPT, HeaderValue::from_static(accept))
            .header("xWSO2Tenant", settings.tenant_domain.as_str())
            .body(Empty::new())
            .map_err(|_| SyncError::Url(url))
    }

    async fn fetch_snapshot(&self) -> Result<GatewaySnapshot, SyncError> {
        let labels = encode_labels(&self.gateway.settings.labels);
        self.fetch_json(&format!("{GATEWAY_SNAPSHOT}?gatewayLabel={labels}"))
            .await?
            .ok_or(SyncError::Status(StatusCode::NOT_FOUND))
    }

    /// Every policy and deny policy ([`THROTTLE_DATA`]); `None` when the control plane does not
    /// serve it (404).
    async fn fetch_throttle_data(&self) -> Result<Option<ThrottleData>, SyncError> {
        self.fetch_json(THROTTLE_DATA).await
    }

    /// Sends `request`, its exchange begun on the tap when it asks (a failure is recorded here).
    async fn send(
        &self,
        request: Request<Empty<Bytes>>,
    ) -> Result<(http::Response<Incoming>, Option<Pending>), SyncError> {
        let pending = exchange::begin(
            self.tap.as_ref(),
            request.method(),
            request.uri(),
            request.headers(),
            b"",
        );
        let sent = tokio::time::timeout(STREAM_IDLE_TIMEOUT, self.client.request(request)).await;
        let error = match sent {
            Ok(Ok(response)) => return Ok((response, pending)),
            Ok(Err(e)) => SyncError::Unreachable(e.to_string()),
            Err(_) => SyncError::Idle(STREAM_IDLE_TIMEOUT),
        };
        if let Some(pending) = pending {
            pending.failed(&error);
        }
        Err(error)
    }

    /// `GET` → JSON; `None` on 404.
    async fn fetch_json<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<Option<T>, SyncError> {
        let request = self.request(path_and_query, "application/json")?;
        let (response, pending) = self.send(request).await?;
        let (status, headers) = (response.status(), response.headers().clone());
        if status != StatusCode::OK {
            // Not read: the record is the head.
            if let Some(pending) = pending {
                pending.answered(status, &headers, None);
            }
            return if status == StatusCode::NOT_FOUND {
                Ok(None)
            } else {
                Err(SyncError::Status(status))
            };
        }
        let body = http_body_util::Limited::new(response.into_body(), MAX_SNAPSHOT_BYTES);
        let read = match tokio::time::timeout(STREAM_IDLE_TIMEOUT * 4, body.collect()).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) => Err(SyncError::Body(e.to_string())),
            Err(_) => Err(SyncError::Idle(STREAM_IDLE_TIMEOUT * 4)),
        };
        if let Some(pending) = pending {
            match &read {
                Ok(bytes) => pending.answered(status, &headers, Some(bytes)),
                Err(error) => pending.failed(error),
            }
        }
        let bytes = read?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SyncError::Payload(e.to_string()))
    }

    /// Follows the event stream after `after` until it ends or fails.
    async fn follow(&self, after: u64, backoff: &mut Backoff) -> Result<(), SyncError> {
        let request = self.request(&format!("{EVENTS}?after={after}"), CONTENT_TYPE_NDJSON)?;
        let (response, pending) = self.send(request).await?;
        // A stream: its head is the record; its events are the gateway's `applied-event`s.
        if let Some(pending) = pending {
            pending.answered(response.status(), response.headers(), None);
        }
        match response.status() {
            StatusCode::OK => {}
            StatusCode::GONE => return Err(SyncError::Gone(after)),
            other => return Err(SyncError::Status(other)),
        }
        // Snapshot applied and the log followed from it: this node is in sync.
        self.gateway.set_synced(true);
        backoff.reset();
        let mut lines = LineReader::new(
            response.into_body(),
            STREAM_IDLE_TIMEOUT,
            MAX_EVENT_LINE_BYTES,
        );
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => self.apply_line(&line)?,
                Ok(None) => return Err(SyncError::Ended),
                Err(ReadError::Idle(after)) => return Err(SyncError::Idle(after)),
                Err(ReadError::Body(error)) => return Err(SyncError::Body(error)),
                Err(ReadError::LineTooLong) => {
                    return Err(SyncError::Payload("event line too long".into()));
                }
            }
        }
    }

    fn apply_line(&self, line: &[u8]) -> Result<(), SyncError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        // A line we cannot read is a protocol break: reconnect and resume after the last event
        // we did apply, rather than skip an event and serve stale data silently.
        let envelope: EventEnvelope =
            serde_json::from_slice(line).map_err(|e| SyncError::Payload(e.to_string()))?;
        self.gateway.apply_event(&envelope);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), BACKOFF_START);
    }
}
