//! `revoke`: a token revoked at `/oauth2/revoke`.

use super::*;

impl Reader<'_> {
    pub(super) fn revoke(&mut self, node: &Node, path: &str) -> Option<Revoke> {
        let t = self.table(node, path, &["token"])?;
        let token = self.known_token(&t, "token")?;
        let key = self.scope.tokens.get(&token).cloned()?;
        Some(Revoke { token, key })
    }
}
