//! `token`: a token from the Key Manager's `/oauth2/token`, by grant.

use super::*;

impl Reader<'_> {
    pub(super) fn token(&mut self, node: &Node, path: &str) -> Option<TokenRequest> {
        let t = self.table(
            node,
            path,
            &[
                "as", "key", "grant", "username", "password", "refresh", "scope", "validity",
            ],
        )?;
        let name = self.req(&t, "as", Self::name);
        let grant_name = self
            .opt(&t, "grant", |r, n, p| {
                r.choice(
                    n,
                    p,
                    &[
                        ("client_credentials", "client_credentials"),
                        ("password", "password"),
                        ("refresh_token", "refresh_token"),
                    ],
                )
            })
            .unwrap_or(if t.has("grant") {
                ""
            } else {
                "client_credentials"
            });
        let keys = self.scope.keys.clone();
        let key = if grant_name == "refresh_token" {
            self.opt(&t, "key", |r, n, p| r.known(n, p, "key", &keys))
        } else {
            self.req(&t, "key", |r, n, p| r.known(n, p, "key", &keys))
        };
        for (field, grant) in [
            ("username", "password"),
            ("password", "password"),
            ("refresh", "refresh_token"),
        ] {
            if let (Some(entry), true) =
                (t.get(field), grant_name != grant && !grant_name.is_empty())
            {
                self.error(
                    entry.key_span.start,
                    &t.sub(field),
                    format!("`{field}` applies to grant = \"{grant}\", and this token's grant is \"{grant_name}\""),
                );
            }
        }
        let grant = match grant_name {
            "client_credentials" => Some(Grant::ClientCredentials),
            "password" => {
                let username = self
                    .opt(&t, "username", Self::template)
                    .unwrap_or_else(|| Template::literal("admin"));
                let password = self
                    .opt(&t, "password", Self::template)
                    .unwrap_or_else(|| Template::literal("admin"));
                Some(Grant::Password { username, password })
            }
            "refresh_token" => self
                .known_token(&t, "refresh")
                .map(|token| Grant::RefreshToken { token }),
            _ => None,
        };
        let scope = self.opt(&t, "scope", |r, n, p| {
            r.strings(n, p).map(|list| list.join(" "))
        });
        let validity = self.opt(&t, "validity", Self::duration);
        let grant = grant?;
        let key = match (&grant, key) {
            (_, Some(key)) => key,
            (Grant::RefreshToken { token }, None) if !t.has("key") => {
                self.scope.tokens.get(token).cloned()?
            }
            _ => return None,
        };
        let name = name?;
        self.scope.tokens.insert(name.clone(), key.clone());
        self.scope.vars.insert(name.clone());
        Some(TokenRequest {
            name,
            key,
            grant,
            scope,
            validity,
        })
    }
}
