//! `revision`: a revision of an API, numbered in the order the scenario creates them.

use super::*;

impl Reader<'_> {
    pub(super) fn revision(&mut self, node: &Node, path: &str) -> Option<CreateRevision> {
        let t = self.table(node, path, &["api", "description"])?;
        let api = self.known_api(&t)?;
        let description = self.opt(&t, "description", Self::string);
        let number = self.next_revision(&api);
        Some(CreateRevision {
            api,
            number,
            description,
        })
    }

    pub(super) fn next_revision(&mut self, api: &str) -> u32 {
        let entry = self.scope.apis.entry(api.to_owned()).or_insert((0, 0));
        entry.1 += 1;
        entry.1
    }
}
