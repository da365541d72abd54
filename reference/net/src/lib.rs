//! Network plumbing handed to every node from outside.
//!
//! No node binds a socket or resolves a name by itself: it is given [`Listener`]s and an
//! [`Outbound`] (connector + host map + truststore). In-process the harness binds loopback
//! addresses and maps `gw.wso2.com`-style names to them, as the guide's step 5 does in
//! `/etc/hosts`; in containers the same names resolve through Docker's DNS. In-process, the
//! harness's [`FaultPlane`](fault::FaultPlane) rides along: `Outbound::with_faults` for a node's
//! connections, [`FaultPlane::listener`](fault::FaultPlane::listener) for its listeners (see
//! [`fault`]).
//!
//! What crosses the wire (artifacts, events, throttle messages) is `tollgate-protocol`'s; this
//! crate is how it gets there:
//!
//! | module | what it holds |
//! |---|---|
//! | [`outbound`] | host map, outbound connector and pooled client ([`Outbound`]) |
//! | [`pool`] | the gateway's backend client: HTTP/1.1 in the request's own task over a keep-alive pool ([`ProxyClient`]) |
//! | [`listen`] | listeners and the HTTP(S) accept/serve loop ([`serve()`], [`ListenerLimits`]); every response dated by the node's clock |
//! | [`exchange`] | HTTP exchanges as transcripts record them, and a node's records of its own ([`exchange::begin`], [`exchange::Teed`]) |
//! | [`fault`] | the in-process fault layer: partitions and pauses between named instances |
//! | [`headers`] | hop-by-hop header rules for the nodes that proxy ([`strip_hop_by_hop`]) |
//! | [`ndjson`] | newline-delimited JSON streams with heartbeats, both ends (event hub, Traffic Manager) |
//! | [`dead_port`] | test support: a port that refuses connections and cannot be taken ([`DeadPort`]) |
//! | [`security`] | the built-in `wso2carbon` key and certificate, TLS configs |

pub mod dead_port;
pub mod exchange;
pub mod fault;
pub mod headers;
pub mod listen;
pub mod ndjson;
pub mod outbound;
pub mod pool;
pub mod security;

pub use dead_port::DeadPort;
pub use headers::strip_hop_by_hop;
pub use listen::{Listener, ListenerLimits, RemoteAddr, accept_loop, serve, serve_with};
pub use outbound::{
    Connector, FaultConnector, HostMap, HostResolver, HttpClient, Outbound, Stream,
};
pub use pool::{BackendBody, ProxyClient, ProxyError};
