//! tollgate-control-plane (being written).
