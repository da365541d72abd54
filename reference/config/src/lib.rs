//! tollgate-config (being written).
