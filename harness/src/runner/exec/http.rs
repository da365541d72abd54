//! `http`: any REST call to the control plane or an instance's management port.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn http(
        &mut self,
        http: &tollgate_scenario::Http,
    ) -> Result<Exchange, Box<Failure>> {
        let base = match &http.via {
            None => self.control_plane.clone(),
            Some(instance) => self.target.management_url(instance).ok_or_else(|| {
                failure(format!(
                    "instance `{instance}` has no management port running"
                ))
            })?,
        };
        let path = {
            let lookup_fn = |v: &Var| self.lookup(v);
            render(&http.path, &lookup_fn).map_err(failure)?
        };
        let method = method(&http.method)?;
        let mut outgoing = Outgoing::new(method, format!("{base}{path}"));
        let lookup_fn = |v: &Var| self.lookup(v);
        let auth = match &http.auth {
            HttpAuth::Session => None,
            HttpAuth::None => Some(None),
            HttpAuth::Bearer(t) => Some(Some(format!(
                "Bearer {}",
                render(t, &lookup_fn).map_err(failure)?
            ))),
            HttpAuth::Basic { user, password } => {
                use base64::Engine;
                let user = render(user, &lookup_fn).map_err(failure)?;
                let password = render(password, &lookup_fn).map_err(failure)?;
                Some(Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                )))
            }
        };
        let auth = match auth {
            None => Some(format!("Bearer {}", self.admin().await?)),
            Some(a) => a,
        };
        if let Some(auth) = auth {
            outgoing = outgoing.header("Authorization", auth);
        }
        outgoing = self.headers(outgoing, &http.headers)?;
        if let Some(body) = &http.body {
            outgoing = self.body(outgoing, body)?;
        }
        let url = outgoing.url.clone();
        let exchange = self.send(outgoing).await?;
        self.remember_created(&url, &exchange);
        Ok(exchange)
    }

    /// On a shared deployment, what a POST made (an Admin API policy or deny condition, named
    /// by `policyId` or `conditionId`) is deleted when the scenario ends.
    fn remember_created(&mut self, url: &str, exchange: &Exchange) {
        if !self.target.cleans_up()
            || exchange.sent.method != Method::POST
            || exchange.response.status != ::http::StatusCode::CREATED
        {
            return;
        }
        let doc = body_json(&exchange.response).unwrap_or(Value::Null);
        if let Some(id) = ["policyId", "conditionId"]
            .iter()
            .find_map(|key| doc[*key].as_str())
        {
            let collection = url.split('?').next().unwrap_or(url).trim_end_matches('/');
            // The Admin API names one deny condition in the singular (`/deny-policy/{id}`).
            let collection = match collection.strip_suffix("/deny-policies") {
                Some(base) => format!("{base}/deny-policy"),
                None => collection.to_owned(),
            };
            self.created.push(format!("{collection}/{id}"));
        }
    }
}
