//! tollgate-gateway (being written).
