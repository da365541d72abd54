//! tollgate-load-balancer (being written).
