//! A port that refuses connections for as long as a test holds it.
//!
//! Binding a listener, dropping it and using its port as a "dead" address races: the port is
//! free again, and another test's bind (or an outgoing connection's ephemeral port) can take it,
//! so the "dead" peer may answer. A [`DeadPort`] keeps its socket bound but never listens: the
//! kernel answers every connect with a reset (`ConnectionRefused`, at once), and no other socket
//! can bind the port while it is held.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

/// A loopback port bound, not listening, until dropped. Test support.
#[derive(Debug)]
pub struct DeadPort {
    // Bound without SO_REUSEADDR, so not even a SO_REUSEADDR bind (tokio's listeners) can share
    // the port.
    _socket: tokio::net::TcpSocket,
    addr: SocketAddr,
}

impl DeadPort {
    /// Binds a fresh loopback port.
    pub fn new() -> io::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = socket.local_addr()?;
        Ok(Self {
            _socket: socket,
            addr,
        })
    }

    /// `127.0.0.1:<port>`: connections to it are refused.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connects_are_refused_and_the_port_cannot_be_bound_again() {
        let dead = DeadPort::new().unwrap();
        for _ in 0..3 {
            let error = tokio::net::TcpStream::connect(dead.addr())
                .await
                .unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        }
        // Neither a plain bind nor tokio's (which sets SO_REUSEADDR) gets the port.
        let error = std::net::TcpListener::bind(dead.addr()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        let error = tokio::net::TcpListener::bind(dead.addr())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        let addr = dead.addr();
        drop(dead);
        // Released on drop.
        std::net::TcpListener::bind(addr).unwrap();
    }

    #[test]
    fn it_needs_no_runtime() {
        let dead = DeadPort::new().unwrap();
        let error = std::net::TcpStream::connect(dead.addr()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }
}
