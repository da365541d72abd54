//! `generate_keys`: an application's keys of one type.

use super::*;

impl Reader<'_> {
    pub(super) fn generate_keys(
        &mut self,
        index: usize,
        node: &Node,
        path: &str,
    ) -> Option<GenerateKeys> {
        let t = self.table(
            node,
            path,
            &["app", "key_type", "key", "grant_types", "scopes"],
        )?;
        let app = self.known_app(&t);
        let key_type = self.req(&t, "key_type", |r, n, p| {
            r.choice(
                n,
                p,
                &[
                    ("production", KeyType::Production),
                    ("sandbox", KeyType::Sandbox),
                ],
            )
        });
        let keys = self.scope.keys.clone();
        let key = self.opt(&t, "key", |r, n, p| {
            r.new_name(n, p, "key", &keys, |(step, _)| *step)
        });
        let grant_types = self
            .opt(&t, "grant_types", Self::strings)
            .unwrap_or_else(|| {
                ["password", "client_credentials", "refresh_token"]
                    .map(String::from)
                    .to_vec()
            });
        let scopes = self.opt(&t, "scopes", Self::strings).unwrap_or_default();
        let (app, key_type) = (app?, key_type?);
        let key = match key {
            Some(key) => key,
            None if t.has("key") => return None,
            None => {
                let key = format!("{app}-{}", key_type.name());
                if let Some((step, _)) = self.scope.keys.get(&key) {
                    self.error(
                        t.span.start,
                        path,
                        format!(
                            "step[{step}] already defines the key `{key}` (the default name for {} keys of `{app}`): give this one a `key` name",
                            key_type.name()
                        ),
                    );
                    return None;
                }
                key
            }
        };
        self.scope.keys.insert(key.clone(), (index, app.clone()));
        Some(GenerateKeys {
            app,
            key_type,
            key,
            grant_types,
            scopes,
        })
    }
}
