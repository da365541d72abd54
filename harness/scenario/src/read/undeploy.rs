//! `undeploy`: a revision taken off gateway environments.

use super::*;

impl Reader<'_> {
    pub(super) fn undeploy(&mut self, node: &Node, path: &str) -> Option<Undeploy> {
        let t = self.table(node, path, &["api", "from", "revision"])?;
        let api = self.known_api(&t);
        let revision = self.opt(&t, "revision", |r, n, p| {
            r.revision_number(n, p, api.as_deref())
        });
        let environments = self.req(&t, "from", Self::environments);
        if t.has("revision") && revision.is_none() {
            return None;
        }
        Some(Undeploy {
            api: api?,
            revision,
            environments: environments?,
        })
    }
}
