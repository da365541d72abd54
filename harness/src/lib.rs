//! tollgate-harness (being written).
