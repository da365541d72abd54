//! `revoke`: `POST /oauth2/revoke`; the revocation's event is remembered so later requests await it.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn revoke(
        &mut self,
        revoke: &tollgate_scenario::Revoke,
    ) -> Result<Exchange, Box<Failure>> {
        let token = self
            .lookup(&Var::Capture(revoke.token.clone()))
            .ok_or_else(|| failure(check::unknown(&Var::Capture(revoke.token.clone()))))?;
        let (key, secret) = self.key_credentials(&revoke.key)?;
        let outgoing = Outgoing::new(
            Method::POST,
            format!("{}/oauth2/revoke", self.control_plane),
        )
        .basic(&key, &secret)
        .form(&[("token", &token)]);
        let exchange = self.send(outgoing).await?;
        if exchange.response.status.is_success() {
            let seq = match self.target.signals() {
                Some(signals) => Some(signals.event_seq().await),
                None => None,
            };
            self.revoked_at.insert(revoke.token.clone(), seq);
        }
        Ok(exchange)
    }
}
