//! `deploy`: `POST /apis/{id}/deploy-revision` (creating the revision first when asked).

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn deploy(
        &mut self,
        deploy: &tollgate_scenario::Deploy,
    ) -> Result<Exchange, Box<Failure>> {
        if deploy.creates_revision {
            let created = self.revision(&deploy.api, deploy.revision, None).await?;
            if !created.response.status.is_success() {
                return Err(created.failure(
                    format!("creating revision {} failed", deploy.revision),
                    Vec::new(),
                ));
            }
        }
        let id = self.api_id(&deploy.api)?;
        let revision_id = self.revision_id(&deploy.api, deploy.revision)?;
        let targets: Vec<Value> = deploy
            .environments
            .iter()
            .map(|name| {
                json!({
                    "name": name,
                    "vhost": deploy.vhost,
                    "displayOnDevportal": deploy.display_on_devportal,
                })
            })
            .collect();
        let path =
            format!("/api/am/publisher/v4/apis/{id}/deploy-revision?revisionId={revision_id}");
        let exchange = self
            .admin_call(Method::POST, &path, Some(Value::Array(targets)))
            .await?;
        if exchange.response.status.is_success()
            && let Some(entity) = self.apis.get_mut(&deploy.api)
        {
            for env in &deploy.environments {
                entity.deployed.insert(env.clone(), deploy.revision);
            }
        }
        Ok(exchange)
    }
}
