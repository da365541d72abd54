//! tollgate-node (being written).
