//! WSO2 `deployment.toml` (being written: parser, ports). See [`model`].
pub mod model;
