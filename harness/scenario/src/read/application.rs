//! `application`: an application in the Developer Portal.

use super::*;

impl Reader<'_> {
    pub(super) fn application(
        &mut self,
        index: usize,
        node: &Node,
        path: &str,
    ) -> Option<Application> {
        let t = self.table(
            node,
            path,
            &["app", "name", "policy", "token_type", "description"],
        )?;
        let apps = self.scope.apps.clone();
        let app = self.req(&t, "app", |r, n, p| {
            r.new_name(n, p, "application", &apps, |step| *step)
        });
        let name = self.opt(&t, "name", Self::string);
        let policy = self
            .opt(&t, "policy", Self::string)
            .unwrap_or_else(|| "Unlimited".into());
        let token_type = self
            .opt(&t, "token_type", |r, n, p| {
                r.choice(n, p, &[("JWT", "JWT"), ("OAUTH", "OAUTH")])
            })
            .unwrap_or("JWT");
        let description = self.opt(&t, "description", Self::string);
        let app = app?;
        self.scope.apps.insert(app.clone(), index);
        Some(Application {
            name: name.unwrap_or_else(|| app.clone()),
            app,
            policy,
            token_type: token_type.to_owned(),
            description,
        })
    }
}
