//! `undeploy`: `POST /apis/{id}/undeploy-revision`.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn undeploy(
        &mut self,
        undeploy: &tollgate_scenario::Undeploy,
    ) -> Result<Exchange, Box<Failure>> {
        let id = self.api_id(&undeploy.api)?;
        let number = match undeploy.revision {
            Some(n) => n,
            None => self
                .apis
                .get(&undeploy.api)
                .and_then(|a| {
                    undeploy
                        .environments
                        .iter()
                        .find_map(|env| a.deployed.get(env).copied())
                })
                .ok_or_else(|| {
                    failure(format!(
                        "no revision of `{}` was deployed to {} by this scenario",
                        undeploy.api,
                        undeploy.environments.join(", ")
                    ))
                })?,
        };
        let revision_id = self.revision_id(&undeploy.api, number)?;
        let targets: Vec<Value> = undeploy
            .environments
            .iter()
            .map(|name| json!({"name": name, "vhost": "localhost", "displayOnDevportal": true}))
            .collect();
        let path =
            format!("/api/am/publisher/v4/apis/{id}/undeploy-revision?revisionId={revision_id}");
        let exchange = self
            .admin_call(Method::POST, &path, Some(Value::Array(targets)))
            .await?;
        if exchange.response.status.is_success()
            && let Some(entity) = self.apis.get_mut(&undeploy.api)
        {
            for env in &undeploy.environments {
                entity.deployed.remove(env);
            }
        }
        Ok(exchange)
    }
}
