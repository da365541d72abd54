//! `lifecycle`: `POST /apis/change-lifecycle`.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn lifecycle(
        &mut self,
        lifecycle: &tollgate_scenario::Lifecycle,
    ) -> Result<Exchange, Box<Failure>> {
        let id = self.api_id(&lifecycle.api)?;
        let url = format!(
            "{}/api/am/publisher/v4/apis/change-lifecycle?{}",
            self.control_plane,
            serde_urlencoded::to_string([
                ("apiId", id.as_str()),
                ("action", lifecycle.action.wso2_name())
            ])
            .unwrap_or_default()
        );
        let token = self.admin().await?;
        self.send(Outgoing::new(Method::POST, url).bearer(&token))
            .await
    }
}
