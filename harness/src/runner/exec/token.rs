//! `token`: `POST /oauth2/token` with the step's grant.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn token(
        &mut self,
        request: &tollgate_scenario::TokenRequest,
    ) -> Result<Exchange, Box<Failure>> {
        let (key, secret) = self.key_credentials(&request.key)?;
        let lookup_fn = |v: &Var| self.lookup(v);
        let lookup: Lookup<'_> = &lookup_fn;
        let mut form: Vec<(&str, String)> = Vec::new();
        match &request.grant {
            Grant::ClientCredentials => form.push(("grant_type", "client_credentials".into())),
            Grant::Password { username, password } => {
                form.push(("grant_type", "password".into()));
                form.push(("username", render(username, lookup).map_err(failure)?));
                form.push(("password", render(password, lookup).map_err(failure)?));
            }
            Grant::RefreshToken { token } => {
                let refresh = self
                    .tokens
                    .get(token)
                    .and_then(|t| t.refresh.clone())
                    .ok_or_else(|| {
                        failure(format!("token `{token}` came without a refresh token"))
                    })?;
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", refresh));
            }
        }
        if let Some(scope) = &request.scope {
            form.push(("scope", scope.clone()));
        }
        if let Some(validity) = request.validity {
            form.push(("validity_period", validity.as_secs().to_string()));
        }
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let outgoing = Outgoing::new(Method::POST, format!("{}/oauth2/token", self.control_plane))
            .basic(&key, &secret)
            .form(&fields);
        let exchange = self.send(outgoing).await?;
        if exchange.response.status.is_success() {
            let doc = body_json(&exchange.response).unwrap_or(Value::Null);
            let access = field(&exchange, "access_token")?;
            self.captures.insert(request.name.clone(), access);
            self.tokens.insert(
                request.name.clone(),
                TokenEntity {
                    refresh: doc["refresh_token"].as_str().map(str::to_owned),
                },
            );
        }
        Ok(exchange)
    }
}
