//! `deploy`: a revision deployed to gateway environments.

use super::*;

impl Reader<'_> {
    pub(super) fn deploy(&mut self, node: &Node, path: &str) -> Option<Deploy> {
        let t = self.table(
            node,
            path,
            &["api", "to", "revision", "vhost", "display_on_devportal"],
        )?;
        let api = self.known_api(&t);
        let revision = self.opt(&t, "revision", |r, n, p| {
            r.revision_number(n, p, api.as_deref())
        });
        let environments = self.req(&t, "to", Self::environments);
        let vhost = self
            .opt(&t, "vhost", Self::string)
            .unwrap_or_else(|| "localhost".into());
        let display_on_devportal = self
            .opt(&t, "display_on_devportal", Self::boolean)
            .unwrap_or(true);
        let api = api?;
        let (revision, creates_revision) = match (t.has("revision"), revision) {
            (false, _) => (self.next_revision(&api), true),
            (true, Some(n)) => (n, false),
            (true, None) => return None,
        };
        Some(Deploy {
            api,
            revision,
            creates_revision,
            environments: environments?,
            vhost,
            display_on_devportal,
        })
    }
}
