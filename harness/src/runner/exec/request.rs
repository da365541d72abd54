//! `request`: a call through a gateway, once or repeated, after the gateways converged.

use super::*;

impl<D: Driver> Executor<'_, D> {
    /// A `request` step: `request` is the step's own action, handed over by the dispatch so a
    /// step of another kind cannot reach here.
    pub(super) async fn request_step(
        &mut self,
        step: &Step,
        request: &tollgate_scenario::Request,
    ) -> Result<StepEnd, Box<Failure>> {
        self.converge().await?;
        let outgoing = self.outgoing(request)?;
        if let Some(until) = step.until {
            return self.until_status(step, &outgoing, until).await;
        }
        if self.unconverged {
            // Only without signals (`converge` clears it otherwise), and for good: from outside,
            // no answer proves a gateway has applied everything (a 404 holds before a deploy as
            // after it), so every request after a change polls until its own `expect` holds.
            if self.counts_quota {
                return Ok(StepEnd::Skipped(format!(
                    "driver `{}` has no {}: requests counted against a quota cannot wait for a change by polling (each try would spend the quota)",
                    self.driver.kind().name(),
                    Capability::Signals
                )));
            }
            let started = tokio::time::Instant::now();
            let polled = self.poll_until_converged(step, &outgoing).await;
            self.convergence += started.elapsed();
            polled?;
        }
        let Some(repeat) = &step.repeat else {
            let exchange = self.send(outgoing).await?;
            self.expect_and_capture(step, &exchange)?;
            return Ok(StepEnd::Passed);
        };
        let n = repeat.times as usize;
        let mut responses = Vec::with_capacity(n);
        let mut first_bad: Option<(Exchange, Vec<Mismatch>)> = None;
        let mut bad = 0;
        for i in 0..n {
            let exchange = self.send(outgoing.clone()).await?;
            if let Some(expect) = &step.expect {
                let mut mismatches = self.check(expect, &exchange.response).map_err(failure)?;
                if !mismatches.is_empty() {
                    bad += 1;
                    for m in &mut mismatches {
                        m.what = format!("response {} of {n}: {}", i + 1, m.what);
                    }
                    if first_bad.is_none() {
                        first_bad = Some((
                            Exchange {
                                sent: exchange.sent.clone(),
                                response: exchange.response.clone(),
                            },
                            mismatches,
                        ));
                    }
                }
            }
            responses.push(exchange);
        }
        if let Some((exchange, mismatches)) = first_bad {
            return Err(exchange.failure(
                format!("{bad} of {n} responses did not match `expect` (the first is shown)"),
                mismatches,
            ));
        }
        let plain: Vec<ClientResponse> = responses.iter().map(|e| e.response.clone()).collect();
        if let Some(counts) = &repeat.counts {
            let lookup_fn = |v: &Var| self.lookup(v);
            let mismatches = check_counts(counts, &plain, &lookup_fn).map_err(failure)?;
            if !mismatches.is_empty() {
                let mut f = failure(format!(
                    "the {n} responses do not add up to `expect_counts`"
                ));
                f.request = Some(outgoing.sent());
                f.mismatches = mismatches;
                return Err(f);
            }
        }
        if let Some(last) = responses.last() {
            self.capture(step, &last.response)
                .map_err(|message| last.failure(message, Vec::new()))?;
        }
        Ok(StepEnd::Passed)
    }

    /// The call a `request` (of a step or a `responds` wait) makes, templates rendered.
    pub(super) fn outgoing(
        &self,
        request: &tollgate_scenario::Request,
    ) -> Result<Outgoing, Box<Failure>> {
        let base = self
            .target
            .gateway_url(&request.via, request.scheme == Scheme::Https)
            .ok_or_else(|| {
                failure(format!(
                    "instance `{}` has no {} gateway port running",
                    request.via,
                    if request.scheme == Scheme::Https {
                        "HTTPS"
                    } else {
                        "HTTP"
                    }
                ))
            })?;
        let lookup_fn = |v: &Var| self.lookup(v);
        let path = self.served_path(render(&request.path, &lookup_fn).map_err(failure)?);
        let mut outgoing = Outgoing::new(method(&request.method)?, format!("{base}{path}"));
        if let Some(token) = &request.token {
            let mut token = render(token, &lookup_fn).map_err(failure)?;
            if let Some(variant) = request.token_variant {
                token = variant.apply(&token).map_err(|e| failure(e.to_string()))?;
            }
            outgoing = outgoing.bearer(&token);
        }
        outgoing = self.headers(outgoing, &request.headers)?;
        if let Some(body) = &request.body {
            outgoing = self.body(outgoing, body)?;
        }
        Ok(outgoing)
    }

    /// Black-box convergence, on a target without signals: sends the step's
    /// request until its `expect` holds on [`CONSECUTIVE`] tries in a row — a 200 from the wrong
    /// backend is a miss — backing off between misses, within the target's propagation bound. A control-plane step
    /// is never redone: a change that never shows fails the step as `propagation-lost`. A step
    /// with only `expect_counts` is not polled (each try would spend the quota it counts).
    async fn poll_until_converged(
        &mut self,
        step: &Step,
        outgoing: &Outgoing,
    ) -> Result<(), Box<Failure>> {
        let Some(expect) = &step.expect else {
            return Ok(());
        };
        let propagation = self.target.propagation();
        let deadline = tokio::time::Instant::now() + propagation;
        let mut backoff = POLL_FIRST_BACKOFF;
        let mut streak = 0;
        loop {
            let last = match self.send(outgoing.clone()).await {
                Ok(exchange) => {
                    let mismatches = self.check(expect, &exchange.response).map_err(failure)?;
                    if mismatches.is_empty() {
                        streak += 1;
                        if streak == CONSECUTIVE {
                            return Ok(());
                        }
                        continue;
                    }
                    exchange.failure(
                        format!("propagation-lost: the expectation did not hold within {propagation:?} of the last change (the last try is shown)"),
                        mismatches,
                    )
                }
                // Refused or reset while a gateway picks the change up: one more miss.
                Err(failure) => failure,
            };
            streak = 0;
            if tokio::time::Instant::now() + backoff > deadline {
                return Err(last);
            }
            // No signal exists to await on a black-box target: polling is the only way.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(POLL_MAX_BACKOFF);
        }
    }
}

impl<D: Driver> Executor<'_, D> {
    /// `until`: the request is sent until an answer has `until.status`, which must come after
    /// `served` to `served + slack` 2xx answers; `expect` then checks that answer. Before the
    /// first 2xx, other answers are the change not there yet: waited through with backoff,
    /// within the propagation bound (a target with signals has converged already).
    async fn until_status(
        &mut self,
        step: &Step,
        outgoing: &Outgoing,
        until: tollgate_scenario::Until,
    ) -> Result<StepEnd, Box<Failure>> {
        let propagation = self.target.propagation();
        let deadline = tokio::time::Instant::now() + propagation;
        let most = until.served.saturating_add(until.slack);
        let mut served: u32 = 0;
        let mut backoff = POLL_FIRST_BACKOFF;
        loop {
            let exchange = self.send(outgoing.clone()).await?;
            let status = exchange.response.status;
            if status.as_u16() == until.status {
                if served < until.served {
                    return Err(exchange.failure(
                        format!(
                            "the first {} came after {served} served, fewer than the quota's {}",
                            until.status, until.served
                        ),
                        Vec::new(),
                    ));
                }
                self.expect_and_capture(step, &exchange)?;
                self.observed = Some(format!(
                    "{} after {served} served (quota {}, overshoot {}, slack {})",
                    until.status,
                    until.served,
                    served - until.served,
                    until.slack
                ));
                return Ok(StepEnd::Passed);
            }
            if status.is_success() {
                served += 1;
                if served > most {
                    return Err(exchange.failure(
                        format!(
                            "{served} served and no {}: more than the quota's {} plus the slack of {}",
                            until.status, until.served, until.slack
                        ),
                        Vec::new(),
                    ));
                }
                continue;
            }
            if served > 0 || tokio::time::Instant::now() + backoff > deadline {
                return Err(exchange.failure(
                    format!(
                        "answered {status}, neither 2xx nor the {} awaited{}",
                        until.status,
                        if served == 0 {
                            format!(" (within {propagation:?} of the last change)")
                        } else {
                            String::new()
                        }
                    ),
                    Vec::new(),
                ));
            }
            // Not there yet on a black-box target: nothing to await but the next try.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(POLL_MAX_BACKOFF);
        }
    }
}

/// Black-box convergence: passes in a row that count as converged, and the backoff between
/// misses.
const CONSECUTIVE: u32 = 3;
pub(super) const POLL_FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub(super) const POLL_MAX_BACKOFF: Duration = Duration::from_secs(2);
