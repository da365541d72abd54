//! `revision`: `POST /apis/{id}/revisions`; the runner remembers each revision's id by number.

use super::*;

impl<D: Driver> Executor<'_, D> {
    pub(super) async fn revision(
        &mut self,
        api: &str,
        number: u32,
        description: Option<&str>,
    ) -> Result<Exchange, Box<Failure>> {
        let id = self.api_id(api)?;
        let body = json!({"description": description.unwrap_or("")});
        let path = format!("/api/am/publisher/v4/apis/{id}/revisions");
        let exchange = self.admin_call(Method::POST, &path, Some(body)).await?;
        if exchange.response.status.is_success() {
            let revision_id = field(&exchange, "id")?;
            if let Some(entity) = self.apis.get_mut(api) {
                entity.revisions.insert(number, revision_id);
            }
        }
        Ok(exchange)
    }

    pub(super) fn revision_id(&self, api: &str, number: u32) -> Result<String, Box<Failure>> {
        self.apis
            .get(api)
            .and_then(|a| a.revisions.get(&number))
            .cloned()
            .ok_or_else(|| failure(format!("API `{api}` has no revision {number} yet")))
    }
}
