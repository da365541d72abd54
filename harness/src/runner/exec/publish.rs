//! `publish`: the API created in the Publisher (`POST /apis`), then published.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn publish(
        &mut self,
        publish: &tollgate_scenario::Publish,
    ) -> Result<Exchange, Box<Failure>> {
        let mut endpoint_config = json!({"endpoint_type": "http"});
        if let Some(e) = &publish.production {
            endpoint_config["production_endpoints"] = json!({"url": self.endpoint_url(e)?});
        }
        if let Some(e) = &publish.sandbox {
            endpoint_config["sandbox_endpoints"] = json!({"url": self.endpoint_url(e)?});
        }
        let operations: Vec<Value> = publish
            .resources
            .iter()
            .map(|r| {
                json!({
                    "target": r.target,
                    "verb": r.verb,
                    "authType": r.auth_type.wso2_name(),
                    "throttlingPolicy": r.throttling_policy,
                    "scopes": r.scopes,
                })
            })
            .collect();
        let body = json!({
            "name": self.prefixed(&publish.name),
            "context": self.prefixed_context(&publish.context),
            "version": publish.version,
            "policies": publish.policies,
            "transport": publish.transports,
            "endpointConfig": endpoint_config,
            "operations": operations,
        });
        let created = self
            .admin_call(Method::POST, "/api/am/publisher/v4/apis", Some(body))
            .await?;
        if !created.response.status.is_success() {
            return Ok(created);
        }
        let id = field(&created, "id")?;
        self.apis.insert(
            publish.api.clone(),
            ApiEntity {
                id: id.clone(),
                context: publish.context.clone(),
                ..ApiEntity::default()
            },
        );
        if publish.published {
            let path =
                format!("/api/am/publisher/v4/apis/change-lifecycle?apiId={id}&action=Publish");
            let published = self.admin_call(Method::POST, &path, None).await?;
            if !published.response.status.is_success() {
                return Err(published.failure(
                    "the API was created but publishing it (lifecycle action Publish) failed",
                    Vec::new(),
                ));
            }
        }
        Ok(created)
    }

    pub(super) fn endpoint_url(&self, endpoint: &Endpoint) -> Result<String, Box<Failure>> {
        match endpoint {
            Endpoint::Url(url) => Ok(url.clone()),
            Endpoint::Backend(name) => self
                .target
                .backend_url(name)
                .ok_or_else(|| failure(format!("the topology has no mock backend named `{name}`"))),
        }
    }
}
