//! `load`: background traffic started, stopped and checked.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn load(&mut self, load: &Load) -> Result<(), Box<Failure>> {
        match load {
            Load::Start(start) => {
                self.converge().await?;
                let https = start.scheme == Scheme::Https;
                let base = self.target.gateway_url(&start.via, https).ok_or_else(|| {
                    failure(format!(
                        "`{}` has no {} port running",
                        start.via,
                        if https { "HTTPS" } else { "HTTP" }
                    ))
                })?;
                let lookup_fn = |v: &Var| self.lookup(v);
                let path = self.served_path(render(&start.path, &lookup_fn).map_err(failure)?);
                let mut headers = Vec::new();
                for (name, value) in &start.headers {
                    headers.push((name.clone(), render(value, &lookup_fn).map_err(failure)?));
                }
                if let Some(token) = &start.token {
                    let token = render(token, &lookup_fn).map_err(failure)?;
                    headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
                }
                let plan = LoadPlan {
                    name: start.name.clone(),
                    via: start.via.clone(),
                    method: method(&start.method)?,
                    url: format!("{base}{path}"),
                    headers,
                    rate: start.rate,
                    duration: start.duration,
                    concurrency: start.concurrency,
                };
                self.loads.insert(
                    start.name.clone(),
                    RunningLoad::start(plan, self.client.clone()),
                );
                Ok(())
            }
            Load::Stop(stop) => {
                let running = self
                    .loads
                    .remove(&stop.name)
                    .ok_or_else(|| failure(format!("the load `{}` is not running", stop.name)))?;
                let figures = running
                    .end(stop.finish)
                    .await
                    .ok_or_else(|| failure(format!("the load `{}` ended abnormally", stop.name)))?;
                let mismatches = check_load(&stop.expect, &figures);
                let line = figures.line();
                self.figures = Some(figures);
                if mismatches.is_empty() {
                    Ok(())
                } else {
                    let mut f = failure(format!(
                        "the load's figures do not meet `expect_load`: {line}"
                    ));
                    f.mismatches = mismatches;
                    Err(f)
                }
            }
        }
    }
}

/// Each `expect_load` figure that does not hold.
fn check_load(expect: &LoadExpect, figures: &LoadFigures) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut mismatch = |what: String, expected: String, actual: String| {
        out.push(Mismatch {
            what,
            expected,
            actual,
            diff: None,
        });
    };
    if let Some(least) = expect.sent_at_least
        && figures.sent < least
    {
        mismatch(
            "sent".into(),
            format!("at least {least}"),
            figures.sent.to_string(),
        );
    }
    for (what, want, got) in [
        ("failed", expect.failed, figures.failed),
        ("lost", expect.lost, figures.lost),
    ] {
        if let Some(want) = want.filter(|w| *w != got) {
            mismatch(what.into(), want.to_string(), got.to_string());
        }
    }
    for (code, count) in &expect.status {
        let got = figures.status.get(code).copied().unwrap_or(0);
        let (want, text) = match count {
            LoadCount::Exactly(n) => (*n, n.to_string()),
            LoadCount::All => (figures.sent, format!("all ({})", figures.sent)),
        };
        if got != want {
            mismatch(format!("status {code}"), text, got.to_string());
        }
    }
    let l = &figures.latency_us;
    for (what, bound, got) in [
        ("p50", expect.p50_below, l.p50),
        ("p90", expect.p90_below, l.p90),
        ("p99", expect.p99_below, l.p99),
        ("max", expect.max_below, l.max),
    ] {
        if let Some(bound) = bound
            && u128::from(got) >= bound.as_micros()
        {
            mismatch(
                format!("latency {what}"),
                format!("below {bound:?}"),
                format!("{:.1}ms", got as f64 / 1000.0),
            );
        }
    }
    out
}
