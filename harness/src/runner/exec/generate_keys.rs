//! `generate_keys`: `POST /applications/{id}/generate-keys`; the keys are kept for later steps.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn generate_keys(
        &mut self,
        keys: &tollgate_scenario::GenerateKeys,
    ) -> Result<Exchange, Box<Failure>> {
        let app_id = self.app_id(&keys.app)?;
        let mut body = json!({
            "keyType": keys.key_type.wso2_name(),
            "grantTypesToBeSupported": keys.grant_types,
        });
        if !keys.scopes.is_empty() {
            body["scopes"] = json!(keys.scopes);
        }
        let path = format!("/api/am/devportal/v3/applications/{app_id}/generate-keys");
        let exchange = self.admin_call(Method::POST, &path, Some(body)).await?;
        if exchange.response.status.is_success() {
            let doc = body_json(&exchange.response).unwrap_or(Value::Null);
            let text = |v: &Value| v.as_str().map(str::to_owned);
            let entity = KeyEntity {
                consumer_key: field(&exchange, "consumerKey")?,
                consumer_secret: field(&exchange, "consumerSecret")?,
                token: text(&doc["token"]["accessToken"]),
                key_mapping_id: text(&doc["keyMappingId"]).unwrap_or_default(),
            };
            self.keys.insert(keys.key.clone(), entity);
        }
        Ok(exchange)
    }
}
