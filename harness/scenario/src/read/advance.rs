//! `advance`: the virtual clock moved forward.

use super::*;

impl Reader<'_> {
    pub(super) fn advance(&mut self, node: &Node, path: &str) -> Option<Advance> {
        if let Kind::Str(_) = node.kind {
            return self.duration(node, path).map(Advance::By);
        }
        let t = self.table(node, path, &["by", "to"])?;
        match (t.get("by"), t.get("to")) {
            (Some(_), None) => self.opt(&t, "by", Self::duration).map(Advance::By),
            (None, Some(_)) => self
                .opt(&t, "to", |r, n, p| r.choice(n, p, &ClockMark::ALL))
                .map(Advance::To),
            (Some(_), Some(to)) => {
                self.error(
                    to.key_span.start,
                    &t.sub("to"),
                    "advance either `by` a duration or `to` a mark, not both",
                );
                None
            }
            (None, None) => {
                self.error(
                    t.span.start,
                    path,
                    "missing `by = \"…\"` (a duration) or `to = \"next-minute\"`",
                );
                None
            }
        }
    }
}
