//! `artifact`: a file put in (or checked in) a node's Synapse artifact folders.

use super::*;

impl Reader<'_> {
    /// `artifact = { on = "gateway-1", place | present | absent = "api/X.json", … }`.
    pub(super) fn artifact(&mut self, node: &Node, path: &str) -> Option<Artifact> {
        const MODES: [&str; 3] = ["place", "present", "absent"];
        let t = self.table(
            node,
            path,
            &[
                "on", "place", "present", "absent", "json", "body", "contains",
            ],
        )?;
        let on = self.req(&t, "on", Self::instance);
        let mode = self.one_of(
            &t,
            &MODES,
            || {
                "an artifact step says what to do with its file: `place` (with `json` or `body`), `present` or `absent`".to_owned()
            },
            |first| format!("an artifact step does one thing, and this one already has `{first}`: use two steps"),
        );
        let mode = mode?;
        let file = self.artifact_file(&mode.value, &t.sub(&mode.key));
        let content: Vec<&Entry> = t
            .entries
            .iter()
            .filter(|e| matches!(e.key.as_str(), "json" | "body"))
            .collect();
        let check = match mode.key.as_str() {
            "place" => {
                if let Some(e) = t.get("contains") {
                    self.error(
                        e.key_span.start,
                        &t.sub("contains"),
                        "`contains` checks a file that is `present`, not one being placed",
                    );
                }
                let entry = match content.as_slice() {
                    [] => {
                        self.error(
                            t.span.start,
                            &t.path,
                            "a placed file needs its content: `json = { … }` or `body = \"…\"`",
                        );
                        return None;
                    }
                    [one] => *one,
                    [first, second, ..] => {
                        self.error(
                            second.key_span.start,
                            &t.sub(&second.key),
                            format!(
                                "a placed file has one content: `{}` or `{}`, not both",
                                first.key, second.key
                            ),
                        );
                        return None;
                    }
                };
                let p = t.sub(&entry.key);
                ArtifactCheck::Place(match entry.key.as_str() {
                    "json" => Body::Json(self.json_template(&entry.value, &p)?),
                    _ => Body::Text(self.template(&entry.value, &p)?),
                })
            }
            other => {
                for e in &content {
                    self.error(
                        e.key_span.start,
                        &t.sub(&e.key),
                        format!(
                            "`{}` is the content of a placed file: `{other}` checks one",
                            e.key
                        ),
                    );
                }
                match other {
                    "present" => ArtifactCheck::Present {
                        contains: match t.get("contains") {
                            Some(e) => self.templates(&e.value, &t.sub("contains"))?,
                            None => Vec::new(),
                        },
                    },
                    _ => {
                        if let Some(e) = t.get("contains") {
                            self.error(
                                e.key_span.start,
                                &t.sub("contains"),
                                "`contains` checks a file that is `present`",
                            );
                        }
                        ArtifactCheck::Absent
                    }
                }
            }
        };
        Some(Artifact {
            on: on?,
            file: file?,
            check,
        })
    }

    /// `api/CustomAPI_v1.json`: one of the Synapse artifact folders, then a file name.
    pub(super) fn artifact_file(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = self.string(node, path)?;
        let (folder, name) = text.split_once('/').unwrap_or(("", text.as_str()));
        if !ARTIFACT_FOLDERS.contains(&folder) {
            let folders = ARTIFACT_FOLDERS.join(", ");
            let message = if folder.is_empty() {
                format!(
                    "\"{text}\" names no folder: write `<folder>/<file>`, the folder one of {folders} (in {SYNAPSE_DEFAULT}/)"
                )
            } else {
                match suggest(folder, ARTIFACT_FOLDERS.iter().copied()) {
                    Some(s) => format!("`{folder}` is not an artifact folder; did you mean `{s}`?"),
                    None => format!("`{folder}` is not an artifact folder (folders: {folders})"),
                }
            };
            self.error(node.span.start, path, message);
            return None;
        }
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            self.error(
                node.span.start,
                path,
                format!("\"{text}\": `{name}` is not a file name (no `/`, not `.` or `..`)"),
            );
            return None;
        }
        Some(text)
    }

    /// One text or a list of them, each a template.
    pub(super) fn templates(&mut self, node: &Node, path: &str) -> Option<Vec<Template>> {
        match &node.kind {
            Kind::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(self.template(item, &format!("{path}[{i}]")));
                }
                out.into_iter().collect()
            }
            _ => Some(vec![self.template(node, path)?]),
        }
    }
}
