//! `subscribe`: an application subscribed to an API under a tier.

use super::*;

impl Reader<'_> {
    pub(super) fn subscribe(&mut self, node: &Node, path: &str) -> Option<Subscribe> {
        let t = self.table(node, path, &["app", "api", "policy"])?;
        let app = self.known_app(&t);
        let api = self.known_api(&t);
        let policy = self
            .opt(&t, "policy", Self::string)
            .unwrap_or_else(|| "Unlimited".into());
        Some(Subscribe {
            app: app?,
            api: api?,
            policy,
        })
    }
}
