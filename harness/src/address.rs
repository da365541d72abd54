//! Where a booted topology lives: one loopback address per topology, the guide's port numbers.
//!
//! `tollgate up` binds 127.0.0.1 so the guide's URLs work as written. Tests and parallel runs
//! give each topology its own address in 127.0.0.0/8 (Linux routes all of it to `lo`) and keep
//! the same ports, so two topologies never collide and a failing test still says 9443 and 8281.
//! The address is made from the process id and a per-process counter: parallel test processes
//! (nextest) and parallel tests in one process both get distinct addresses.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};

/// The address `tollgate up` and `tollgate node` use unless told otherwise.
pub const DEFAULT_ADDRESS: IpAddr = tollgate_node::run::DEFAULT_ADDRESS;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh private loopback address, `127.<64..=127>.x.y`, distinct for every call in this
/// process (for the first 64 Ki calls) and, barring a process-id collision modulo 64, from
/// other processes' addresses. Callers that bind should still treat "address in use" as "try
/// the next one" ([`crate::inproc::boot_private`] does).
pub fn private_address() -> IpAddr {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    address_for(std::process::id(), n)
}

fn address_for(pid: u32, n: u32) -> IpAddr {
    // 6 bits of the pid pick the second octet (64..=127: clear of 127.0.x.x and 127.1.x.x, which
    // some tools use); the counter fills the last two octets, never .0 or .255 as the last one.
    let second = 64 + (pid % 64) as u8;
    let n = n % (256 * 254);
    let third = (n / 254) as u8;
    let fourth = (n % 254) as u8 + 1;
    IpAddr::V4(Ipv4Addr::new(127, second, third, fourth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_loopback_and_distinct_within_a_process() {
        let a = address_for(1234, 0);
        let b = address_for(1234, 1);
        assert_ne!(a, b);
        assert!(a.is_loopback() && b.is_loopback());
        assert_eq!(
            address_for(1234, 253),
            "127.82.0.254".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            address_for(1234, 254),
            "127.82.1.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn different_processes_get_different_second_octets() {
        assert_ne!(address_for(100, 0), address_for(101, 0));
    }
}
