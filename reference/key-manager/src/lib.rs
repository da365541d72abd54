//! tollgate-key-manager (being written).
