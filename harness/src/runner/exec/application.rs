//! `application`: `POST /api/am/devportal/v3/applications`.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn application(
        &mut self,
        app: &tollgate_scenario::Application,
    ) -> Result<Exchange, Box<Failure>> {
        let mut body = json!({
            "name": self.prefixed(&app.name),
            "throttlingPolicy": app.policy,
            "tokenType": app.token_type,
        });
        if let Some(d) = &app.description {
            body["description"] = json!(d);
        }
        let exchange = self
            .admin_call(
                Method::POST,
                "/api/am/devportal/v3/applications",
                Some(body),
            )
            .await?;
        if exchange.response.status.is_success() {
            let id = field(&exchange, "applicationId")?;
            self.apps.insert(app.app.clone(), id);
            self.app_names.push(app.name.clone());
        }
        Ok(exchange)
    }
}
