//! `artifact`: a file put on (or checked on) a node's disk.

use super::*;

impl<D: Driver> Executor<'_, D> {
    /// An `artifact` step: a file put on a node's disk, or checked there. A placed file changes
    /// nothing until the node's next start, so nothing is waited for.
    pub(super) async fn artifact(&mut self, artifact: &Artifact) -> Result<StepEnd, Box<Failure>> {
        if self.target.disk().is_none() {
            return Ok(self.lacks(Capability::Disk));
        }
        self.artifact_on_disk(artifact)
            .await
            .map(|()| StepEnd::Passed)
    }

    async fn artifact_on_disk(&mut self, artifact: &Artifact) -> Result<(), Box<Failure>> {
        let path = artifact.relative_path();
        let lookup_fn = |v: &Var| self.lookup(v);
        match &artifact.check {
            ArtifactCheck::Place(body) => {
                let content = match body {
                    Body::Json(t) => {
                        let value = render_json(t, &lookup_fn).map_err(failure)?;
                        serde_json::to_vec_pretty(&value)
                            .map_err(|e| failure(format!("{path}: {e}")))?
                    }
                    Body::Text(t) => render(t, &lookup_fn).map_err(failure)?.into_bytes(),
                    Body::Form(_) => return Err(failure("a file's content is `json` or `body`")),
                };
                self.target
                    .disk()
                    .ok_or_else(|| failure("no disk"))?
                    .place_file(&artifact.on, &path, content)
                    .await
                    .map_err(|e| failure(format!("{path} not placed on `{}`: {e}", artifact.on)))
            }
            ArtifactCheck::Present { contains } => {
                let mut texts = Vec::new();
                for t in contains {
                    texts.push(render(t, &lookup_fn).map_err(failure)?);
                }
                let read = self.read_artifact(&artifact.on, &path).await?;
                let Some(bytes) = read else {
                    return Err(failure(format!("{path} is not on `{}`", artifact.on)));
                };
                let text = String::from_utf8_lossy(&bytes);
                let missing: Vec<&String> = texts.iter().filter(|t| !text.contains(*t)).collect();
                if missing.is_empty() {
                    return Ok(());
                }
                let mut f = failure(format!(
                    "{path} on `{}` does not hold what `contains` says",
                    artifact.on
                ));
                f.mismatches = missing
                    .into_iter()
                    .map(|t| Mismatch {
                        what: "file contains".to_owned(),
                        expected: t.clone(),
                        actual: excerpt(&text, BODY_EXCERPT),
                        diff: None,
                    })
                    .collect();
                Err(f)
            }
            ArtifactCheck::Absent => match self.read_artifact(&artifact.on, &path).await? {
                None => Ok(()),
                Some(_) => Err(failure(format!("{path} is still on `{}`", artifact.on))),
            },
        }
    }

    pub(super) async fn read_artifact(
        &mut self,
        on: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, Box<Failure>> {
        self.target
            .disk()
            .ok_or_else(|| failure("no disk"))?
            .read_file(on, path)
            .await
            .map_err(|e| failure(format!("{path} on `{on}` not read: {e}")))
    }
}
