//! The TM's two listeners (plain HTTP/1.1; see `tollgate_protocol::throttle` for the wire):
//!
//! - the event receiver (WSO2's data-bridge port, `9611 + offset`): `POST /throttle/events`
//!   with ndjson [`RequestEvent`]s → `202 Accepted`; lines that do not parse are skipped and
//!   counted in the answer's `rejected`; a body where no line parses is `400`.
//! - the decision publisher (WSO2's broker port, `5672 + offset`): `GET /throttle/decisions`
//!   → ndjson stream: the decisions in force, one heartbeat line (empty `throttleKey`) that
//!   ends the snapshot, then every change, with a heartbeat whenever the stream is idle.
//!   Every subscriber receives every decision. A subscriber that falls too far behind is
//!   disconnected (it reconnects and starts from a fresh snapshot).

use crate::TrafficManager;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tollgate_net::Listener;
use tollgate_net::ndjson::{self, Feed, Lines};
use tollgate_protocol::throttle::{DECISIONS_PATH, EVENTS_PATH, RequestEvent, ThrottleDecision};

/// How the server paces itself.
#[derive(Debug, Clone, Copy)]
pub struct ServerSettings {
    /// How often windows are rolled by the clock ([`TrafficManager::tick`]).
    pub tick_interval: Duration,
    /// Idle time after which a decision stream carries a heartbeat line.
    pub heartbeat_interval: Duration,
    /// Largest accepted event batch, in bytes.
    pub max_batch_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            tick_interval: Duration::from_millis(100),
            heartbeat_interval: Duration::from_secs(5),
            max_batch_bytes: 8 << 20,
        }
    }
}

#[derive(Clone)]
struct Ctx {
    tm: Arc<TrafficManager>,
    settings: ServerSettings,
}

/// The event receiver's routes.
pub fn receiver_router(tm: Arc<TrafficManager>, settings: ServerSettings) -> Router {
    Router::new()
        .route(EVENTS_PATH, post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(
            settings.max_batch_bytes,
        ))
        .with_state(Ctx { tm, settings })
}

/// The decision publisher's routes.
pub fn decisions_router(tm: Arc<TrafficManager>, settings: ServerSettings) -> Router {
    Router::new()
        .route(DECISIONS_PATH, get(decisions))
        .with_state(Ctx { tm, settings })
}

impl TrafficManager {
    /// [`Self::serve_with`] with [`ServerSettings::default`].
    pub async fn serve<L: Listener>(
        self: &Arc<Self>,
        receiver: L,
        decisions: L,
        shutdown: CancellationToken,
    ) {
        self.serve_with(receiver, decisions, ServerSettings::default(), shutdown)
            .await
    }

    /// Serves the event receiver on `receiver` and the decision stream on `decisions`, and
    /// rolls windows every `settings.tick_interval`, until `shutdown` fires. Plain HTTP on
    /// both (WSO2's `tcp://` receiver and broker URLs are unencrypted too).
    pub async fn serve_with<L: Listener>(
        self: &Arc<Self>,
        receiver: L,
        decisions: L,
        settings: ServerSettings,
        shutdown: CancellationToken,
    ) {
        let events =
            hyper_util::service::TowerToHyperService::new(receiver_router(self.clone(), settings));
        let stream =
            hyper_util::service::TowerToHyperService::new(decisions_router(self.clone(), settings));
        let ticker = {
            let tm = self.clone();
            let shutdown = shutdown.clone();
            async move {
                let mut interval = tokio::time::interval(settings.tick_interval);
                interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        // Shutdown first, and the same branch every run (not tokio's pick).
                        biased;
                        _ = shutdown.cancelled() => break,
                        _ = interval.tick() => { tm.tick(); }
                    }
                }
            }
        };
        tokio::join!(
            tollgate_net::serve(receiver, None, events, self.clock.clone(), shutdown.clone()),
            tollgate_net::serve(decisions, None, stream, self.clock.clone(), shutdown),
            ticker,
        );
    }
}

async fn receive(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let mut accepted = 0u64;
    let mut rejected = 0u64;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', &body).chain(std::iter::once(body.len()));
    for end in ends {
        let line = &body[start..end];
        start = end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Read in place: the event's strings borrow from `body` (RequestEvent's note).
        match serde_json::from_slice::<RequestEvent<'_>>(line) {
            Ok(event) => {
                ctx.tm.process(&event);
                accepted += 1;
            }
            Err(error) => {
                tracing::debug!(%error, "request event skipped");
                rejected += 1;
            }
        }
    }
    let status = if accepted == 0 && rejected > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::ACCEPTED
    };
    (
        status,
        axum::Json(serde_json::json!({"accepted": accepted, "rejected": rejected})),
    )
        .into_response()
}

/// One gateway following the decisions.
struct Subscriber {
    receiver: broadcast::Receiver<ThrottleDecision>,
}

impl Feed for Subscriber {
    type Item = ThrottleDecision;

    async fn next(&mut self, out: &mut Lines<ThrottleDecision>) -> bool {
        match self.receiver.recv().await {
            Ok(decision) => {
                out.push(&decision);
                true
            }
            // Lagged: decisions were lost for this subscriber; closing makes it reconnect and
            // start again from a snapshot. Closed: the TM is gone.
            Err(_) => false,
        }
    }

    fn heartbeat(&self) -> ThrottleDecision {
        ThrottleDecision::heartbeat()
    }
}

async fn decisions(State(ctx): State<Ctx>) -> Response {
    let (active, receiver) = ctx.tm.subscribe_with_snapshot();
    let mut snapshot = Lines::new();
    for decision in &active {
        snapshot.push(decision);
    }
    // The first heartbeat marks the end of the snapshot.
    snapshot.push(&ThrottleDecision::heartbeat());
    let period = ctx.settings.heartbeat_interval;
    ndjson::response(Subscriber { receiver }, snapshot, period).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use tollgate_protocol::ManualClock;
    use tollgate_protocol::throttle::defaults;
    use tower::ServiceExt;

    fn event_line(key: &str) -> String {
        let event = RequestEvent {
            app_key: key.into(),
            app_tier: "10PerMin".into(),
            ..RequestEvent::default()
        };
        serde_json::to_string(&event).unwrap()
    }

    #[tokio::test]
    async fn a_batch_is_counted_and_bad_lines_are_skipped() {
        let clock = ManualClock::new(1_795_694_400_000);
        let tm = TrafficManager::new(defaults(), Arc::new(clock));
        let app = receiver_router(tm.clone(), ServerSettings::default());
        // Blank and whitespace-only lines are no events; the last line needs no newline.
        let body = format!("{}\nnot json\n\n \r\n{}", event_line("k"), event_line("k"));
        let response = app
            .clone()
            .oneshot(Request::post(EVENTS_PATH).body(Body::from(body)).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json, serde_json::json!({"accepted": 2, "rejected": 1}));
        assert_eq!(tm.used("k"), Some(2));
        let response = app
            .oneshot(
                Request::post(EVENTS_PATH)
                    .body(Body::from("garbage"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn the_decision_stream_opens_with_the_decisions_in_force_then_a_heartbeat() {
        let clock = ManualClock::new(1_795_694_400_000);
        let tm = TrafficManager::new(defaults(), Arc::new(clock));
        for _ in 0..10 {
            tm.process(&serde_json::from_str(&event_line("k")).unwrap());
        }
        let response = decisions_router(tm.clone(), ServerSettings::default())
            .oneshot(Request::get(DECISIONS_PATH).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let mut body = response.into_body();
        let mut lines: Vec<ThrottleDecision> = Vec::new();
        while lines.len() < 2 {
            let frame = body.frame().await.unwrap().unwrap();
            for l in std::str::from_utf8(frame.data_ref().unwrap())
                .unwrap()
                .lines()
            {
                lines.push(serde_json::from_str(l).unwrap());
            }
        }
        assert_eq!(lines[0].throttle_key, "k");
        assert!(lines[0].is_throttled);
        assert!(lines[1].is_heartbeat());
    }
}
