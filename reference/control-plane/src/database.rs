//! The control plane's database, so that a control plane that dies comes back with its data.
//!
//! WSO2 keeps APIs, revisions, applications, subscriptions and policies in `WSO2AM_DB` (H2 files
//! under `repository/database/` by default) and OAuth clients and tokens in the identity tables;
//! a restarted control plane finds them all. Tollgate keeps the same data as one JSON document,
//! [`DATABASE_FILE`] under the node's runtime home, rewritten whole after each successful request
//! that may change it and *before* that request is answered, as WSO2 commits before it answers.
//! A temporary file renamed over the old one means a crash leaves the old document or the new
//! one, never half of one. (No fsync: the faults Tollgate injects kill processes, not machines,
//! and the page cache outlives a process.) The write is plain blocking I/O on the request's
//! task: a few kilobytes, on control-plane calls only, never on a gateway's request path.
//!
//! The event log and its sequence number are kept too, so gateways resume their streams after a
//! restart without pulling a snapshot again; so is how far each id stream was drawn, so a
//! restarted control plane never mints an id twice.

use crate::ControlPlane;
use crate::error::RestError;
use crate::state::State;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tollgate_key_manager::StoredKeyManager;

/// Where a node keeps its control plane's database, under its runtime home (`<APIM_HOME>`).
pub const DATABASE_FILE: &str = "repository/database/tollgate-control-plane.json";

/// Bumped when the document's shape changes; an older file is refused with advice, not misread.
const FORMAT: u32 = 1;

/// The document on disk; `S` is `&State` when writing, `State` when reading.
#[derive(Serialize, Deserialize)]
struct Document<S> {
    format: u32,
    control_plane: S,
    control_plane_ids: u128,
    key_manager: StoredKeyManager,
}

/// What [`Database::load`] found.
pub(crate) struct Stored {
    pub state: State,
    pub ids: u128,
    pub key_manager: StoredKeyManager,
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("{}: cannot read the control plane's database: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}:{line}:{column}: not a control-plane database Tollgate can read: {message} (delete the file to start with an empty control plane)",
        path.display()
    )]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}: database format {found}, but this Tollgate reads format {FORMAT} (delete the file to start with an empty control plane)",
        path.display()
    )]
    Format { path: PathBuf, found: u32 },
    #[error("{}: cannot write the control plane's database: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One control plane's database file.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
    /// Held from snapshot to rename, so a slower writer never puts back an older document.
    writing: Mutex<()>,
}

impl Database {
    /// The database at `path`; nothing is read or created until the control plane opens it.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            writing: Mutex::new(()),
        }
    }

    /// The database [`DATABASE_FILE`] under a node's runtime home.
    pub fn in_home(home: &Path) -> Self {
        Self::at(home.join(DATABASE_FILE))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored data, or `None` when there is no file yet (a first start).
    pub(crate) fn load(&self) -> Result<Option<Stored>, DatabaseError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(DatabaseError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let parse_error = |e: serde_json::Error| DatabaseError::Parse {
            path: self.path.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        // The format first, so a document of another shape gets the advice, not a field error.
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let Format { format } = serde_json::from_slice(&bytes).map_err(parse_error)?;
        if format != FORMAT {
            return Err(DatabaseError::Format {
                path: self.path.clone(),
                found: format,
            });
        }
        let document: Document<State> = serde_json::from_slice(&bytes).map_err(parse_error)?;
        Ok(Some(Stored {
            state: document.control_plane,
            ids: document.control_plane_ids,
            key_manager: document.key_manager,
        }))
    }

    /// Writes `control_plane`'s data: a temporary file beside the database, then a rename.
    pub(crate) fn save(&self, control_plane: &ControlPlane) -> Result<(), DatabaseError> {
        let write_error = |source| DatabaseError::Write {
            path: self.path.clone(),
            source,
        };
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        // The Key Manager's lock is never held together with the control plane's: a revocation
        // takes them in the other order.
        let key_manager = control_plane.key_manager().stored();
        let bytes = {
            let state = control_plane.lock();
            serde_json::to_vec(&Document {
                format: FORMAT,
                control_plane: &*state,
                control_plane_ids: control_plane.id_position(),
                key_manager,
            })
            .map_err(|e| write_error(std::io::Error::other(e)))?
        };
        if let Some(folder) = self.path.parent() {
            std::fs::create_dir_all(folder).map_err(write_error)?;
        }
        let temporary = self.path.with_extension("json.tmp");
        std::fs::write(&temporary, bytes).map_err(write_error)?;
        std::fs::rename(&temporary, &self.path).map_err(write_error)
    }
}

/// Middleware: after a request that may change state (any method but GET, HEAD, OPTIONS) and
/// succeeded, the database is written before the answer leaves. A failed write is a 500 in
/// WSO2's `Error` shape (`RestApiUtil.handleInternalServerError`): the change is in memory but
/// would not survive a restart, and the client must not believe it would.
pub(crate) async fn commit(
    axum::extract::State(control_plane): axum::extract::State<Arc<ControlPlane>>,
    request: Request,
    next: Next,
) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if !changes || !response.status().is_success() {
        return response;
    }
    match control_plane.save() {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(error = %e, "control-plane database write failed");
            RestError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                500,
                "Internal Server Error",
                "Error while saving the change to the database",
            )
            .into_response()
        }
    }
}
