//! `subscribe`: `POST /api/am/devportal/v3/subscriptions`.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn subscribe(
        &mut self,
        sub: &tollgate_scenario::Subscribe,
    ) -> Result<Exchange, Box<Failure>> {
        let body = json!({
            "apiId": self.api_id(&sub.api)?,
            "applicationId": self.app_id(&sub.app)?,
            "throttlingPolicy": sub.policy,
        });
        self.admin_call(
            Method::POST,
            "/api/am/devportal/v3/subscriptions",
            Some(body),
        )
        .await
    }
}
