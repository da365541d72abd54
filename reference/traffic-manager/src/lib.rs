//! tollgate-traffic-manager (being written).
