//! Throttling on the wire (being written).
