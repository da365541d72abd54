//! tollgate-scenario (being written).
