//! `lifecycle`: an API's lifecycle action (Publish, Block, Deprecate, …).

use super::*;

impl Reader<'_> {
    pub(super) fn lifecycle(&mut self, node: &Node, path: &str) -> Option<Lifecycle> {
        let t = self.table(node, path, &["api", "action"])?;
        let api = self.known_api(&t);
        let action = self.req(&t, "action", |r, n, p| {
            r.choice(n, p, &LifecycleAction::ALL)
        });
        Some(Lifecycle {
            api: api?,
            action: action?,
        })
    }
}
