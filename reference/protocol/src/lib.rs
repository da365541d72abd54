//! The meeting place of the control plane and the gateways.
//!
//! They never import each other: they meet here, as they meet on the wire. This crate holds
//! what crosses that wire, plus the two inputs every node is handed from outside and the wire's
//! meaning depends on (wall clock, seed). How bytes get across (listeners, the outbound
//! connector, TLS, faults, streams) is `tollgate-net`'s:
//!
//! | module | what it holds |
//! |---|---|
//! | [`artifact`] | the runtime artifact of one API revision for one gateway environment |
//! | [`store`] | subscription data a gateway keeps: applications, key mappings, subscriptions |
//! | [`event`] | the event-hub notifications (WSO2's event types, our own wire) |
//! | [`internal`] | internal REST paths (`/internal/data/v1/...`) and their payloads |
//! | [`clock`] | the injected wall clock ([`Clock`]), real or manual |
//! | [`defect`] | test-only deliberate defects, absent from a normal build |
//! | [`seed`] | one seed for every random choice ([`SeededRng`]) |
//! | [`tap`] | an observer of what a node applies and decides ([`Tap`]), for transcripts |
//! | [`throttle`] | throttling policies, gateway→TM request events, TM→gateway decisions |

pub mod artifact;
pub mod clock;
pub mod defect;
pub mod event;
pub mod internal;
pub mod seed;
pub mod store;
pub mod tap;
pub mod throttle;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use seed::SeededRng;
pub use tap::{SharedTap, Tap};
