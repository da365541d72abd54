//! `wait`: a condition awaited with a timeout.

use super::request::{POLL_FIRST_BACKOFF, POLL_MAX_BACKOFF};
use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn wait_step(
        &mut self,
        wait: &tollgate_scenario::Wait,
    ) -> Result<StepEnd, Box<Failure>> {
        if matches!(wait.condition, Condition::Throttle { .. }) && self.target.decisions().is_none()
        {
            return Ok(self.lacks(Capability::DecisionView));
        }
        self.wait(&wait.condition, wait.timeout)
            .await
            .map(|()| StepEnd::Passed)
    }

    pub(super) async fn wait(
        &mut self,
        condition: &Condition,
        timeout: Duration,
    ) -> Result<(), Box<Failure>> {
        let timed_out = |what: String, last: String| {
            failure(format!("{what} within {timeout:?}; last seen: {last}"))
        };
        match condition {
            Condition::Responds { request, expect } => {
                self.await_response(request, expect, timeout).await?;
            }
            Condition::LoadSent { load, at_least } => {
                let running = self
                    .loads
                    .get(load)
                    .ok_or_else(|| failure(format!("no load named `{load}` is running")))?;
                match tokio::time::timeout(timeout, running.sent_at_least(*at_least)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(sent)) => {
                        return Err(failure(format!(
                            "load `{load}` ended having sent {sent} requests, not {at_least}"
                        )));
                    }
                    Err(_) => {
                        return Err(timed_out(
                            format!("load `{load}` did not send {at_least} requests"),
                            format!("{} sent", running.sent()),
                        ));
                    }
                }
            }
            Condition::GatewaySynced { gateways } => {
                let names = if gateways.is_empty() {
                    self.target.gateway_names()
                } else {
                    gateways.clone()
                };
                let Some(signals) = self.target.signals() else {
                    self.converge_black_box();
                    return Ok(());
                };
                let seq = signals.event_seq().await;
                for gateway in names {
                    signals
                        .wait_for_seq(&gateway, seq, timeout)
                        .await
                        .map_err(|e| {
                            timed_out(
                                format!("`{gateway}` did not apply event {seq}"),
                                e.last_seen,
                            )
                        })?;
                }
                self.unconverged = false;
            }
            Condition::RevisionServed {
                api,
                environment,
                revision,
            } => {
                let api_id = self.api_id(api)?;
                let revision_id = self.revision_id(api, *revision)?;
                let gateways = self.target.gateways_of(environment);
                if gateways.is_empty() {
                    return Err(failure(format!(
                        "no gateway of the topology serves environment `{environment}`"
                    )));
                }
                let Some(signals) = self.target.signals() else {
                    self.converge_black_box();
                    return Ok(());
                };
                for gateway in gateways {
                    signals
                        .wait_for_revision(&gateway, &api_id, &revision_id, timeout)
                        .await
                        .map_err(|e| {
                            timed_out(
                                format!("`{gateway}` did not serve revision {revision} of `{api}`"),
                                e.last_seen,
                            )
                        })?;
                }
            }
            Condition::RevocationReached { token, gateway } => {
                let revoked_at = *self.revoked_at.get(token).ok_or_else(|| {
                    failure(format!(
                        "token `{token}` was not revoked by an earlier step"
                    ))
                })?;
                let (Some(signals), Some(seq)) = (self.target.signals(), revoked_at) else {
                    self.converge_black_box();
                    return Ok(());
                };
                signals
                    .wait_for_seq(gateway, seq, timeout)
                    .await
                    .map_err(|e| {
                        timed_out(
                            format!("the revocation of `{token}` did not reach `{gateway}` (event {seq})"),
                            e.last_seen,
                        )
                    })?;
            }
            Condition::Throttle {
                gateway,
                key,
                throttled,
            } => {
                let app_id = key.app().map(|app| self.app_id(app)).transpose()?;
                let decisions = self
                    .target
                    .decisions()
                    .ok_or_else(|| failure("no view of throttle decisions"))?;
                crate::runner::throttle::wait(
                    decisions,
                    gateway,
                    key,
                    app_id.as_deref(),
                    *throttled,
                    timeout,
                )
                .await
                .map_err(failure)?;
            }
        }
        Ok(())
    }
}

impl<D: Driver> Executor<'_, D> {
    /// `responds`: sends `request` with backoff until one answer meets `expect`, within
    /// `timeout`; past it, the step fails showing the last try. Needs no capability: what a
    /// client sees is all it reads.
    async fn await_response(
        &mut self,
        request: &tollgate_scenario::Request,
        expect: &tollgate_scenario::Expect,
        timeout: Duration,
    ) -> Result<(), Box<Failure>> {
        let outgoing = self.outgoing(request)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut backoff = POLL_FIRST_BACKOFF;
        loop {
            let last = match self.send(outgoing.clone()).await {
                Ok(exchange) => {
                    let mismatches = self.check(expect, &exchange.response).map_err(failure)?;
                    if mismatches.is_empty() {
                        return Ok(());
                    }
                    exchange.failure(
                        format!(
                            "`{}` did not respond as expected within {timeout:?} (the last try is shown)",
                            request.via
                        ),
                        mismatches,
                    )
                }
                // Refused or reset (a node still down): one more miss.
                Err(failure) => failure,
            };
            if tokio::time::Instant::now() + backoff > deadline {
                return Err(last);
            }
            // Waiting for what a client can see: polling is the only way that needs no hook.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(POLL_MAX_BACKOFF);
        }
    }
}
