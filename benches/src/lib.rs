//! Benchmarks live in benches/ (being written).
