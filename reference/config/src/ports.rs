//! Every listener port of an instance, from its `[server] offset` (docs/wso2-behaviour.md §1).
//!
//! WSO2 adds the offset to every port it listens on; literal ports written inside URLs do not
//! move. [`Ports::for_config`] applies the `[transport.*]` base-port overrides first, then the
//! offset, as Carbon does.

use crate::model::DeploymentConfig;

/// The listener ports of one instance, offset applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    pub offset: u16,
    /// 9443: Publisher, Developer Portal, Admin, `/oauth2/token`, `/internal/data/v1`, `/services/`.
    pub mgmt_https: u16,
    /// 9763: servlet HTTP.
    pub servlet_http: u16,
    /// 8280: gateway pass-through HTTP (`${http.nio.port}`).
    pub passthru_http: u16,
    /// 8243: gateway pass-through HTTPS (`${https.nio.port}`).
    pub passthru_https: u16,
    /// 9611: Traffic Manager binary receiver (`${receiver.url.port}`).
    pub tm_binary: u16,
    /// 9711: Traffic Manager binary SSL receiver (`${auth.url.port}`).
    pub tm_binary_ssl: u16,
    /// 5672: the embedded broker's AMQP port (`${jms.port}`).
    pub amqp: u16,
    /// 8672: AMQP over SSL (moves with the offset: UNCONFIRMED in WSO2, likely).
    pub amqp_ssl: u16,
    /// 9099: WebSocket inbound endpoint.
    pub ws: u16,
    /// 8099: secure WebSocket inbound endpoint.
    pub wss: u16,
    /// 9021: WebSub inbound HTTP (moves with the offset: UNCONFIRMED in WSO2, probably).
    pub websub_http: u16,
    /// 8021: WebSub inbound HTTPS.
    pub websub_https: u16,
}

/// A port that would pass 65535 once the offset is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("port {name} {base} + offset {offset} = {sum} is past 65535", sum = u32::from(*base) + u32::from(*offset))]
pub struct PortOverflow {
    /// Which listener (`mgmt_https`, `passthru_http`, ...).
    pub name: &'static str,
    pub base: u16,
    pub offset: u16,
}

impl Ports {
    /// WSO2's default ports, before any offset.
    pub const BASE: Ports = Ports {
        offset: 0,
        mgmt_https: 9443,
        servlet_http: 9763,
        passthru_http: 8280,
        passthru_https: 8243,
        tm_binary: 9611,
        tm_binary_ssl: 9711,
        amqp: 5672,
        amqp_ssl: 8672,
        ws: 9099,
        wss: 8099,
        websub_http: 9021,
        websub_https: 8021,
    };

    /// The default ports shifted by `offset`.
    pub fn with_offset(offset: u16) -> Result<Ports, PortOverflow> {
        Self::BASE.shifted(offset)
    }

    /// The ports of an instance: `[transport.*]` base overrides, then `[server] offset`.
    pub fn for_config(config: &DeploymentConfig) -> Result<Ports, PortOverflow> {
        let transport = &config.transport;
        let base = Ports {
            mgmt_https: transport.https_port.unwrap_or(Self::BASE.mgmt_https),
            servlet_http: transport.http_port.unwrap_or(Self::BASE.servlet_http),
            passthru_http: transport
                .passthru_http_port
                .unwrap_or(Self::BASE.passthru_http),
            passthru_https: transport
                .passthru_https_port
                .unwrap_or(Self::BASE.passthru_https),
            ..Self::BASE
        };
        base.shifted(config.server.offset)
    }

    /// Each port of `self` (taken as base ports) plus `offset`.
    pub(crate) fn shifted(&self, offset: u16) -> Result<Ports, PortOverflow> {
        let add = |name: &'static str, base: u16| {
            base.checked_add(offset)
                .ok_or(PortOverflow { name, base, offset })
        };
        Ok(Ports {
            offset,
            mgmt_https: add("mgmt_https", self.mgmt_https)?,
            servlet_http: add("servlet_http", self.servlet_http)?,
            passthru_http: add("passthru_http", self.passthru_http)?,
            passthru_https: add("passthru_https", self.passthru_https)?,
            tm_binary: add("tm_binary", self.tm_binary)?,
            tm_binary_ssl: add("tm_binary_ssl", self.tm_binary_ssl)?,
            amqp: add("amqp", self.amqp)?,
            amqp_ssl: add("amqp_ssl", self.amqp_ssl)?,
            ws: add("ws", self.ws)?,
            wss: add("wss", self.wss)?,
            websub_http: add("websub_http", self.websub_http)?,
            websub_https: add("websub_https", self.websub_https)?,
        })
    }

    /// Every port with its name, in declaration order (offset excluded).
    pub fn all(&self) -> [(&'static str, u16); 12] {
        [
            ("mgmt_https", self.mgmt_https),
            ("servlet_http", self.servlet_http),
            ("passthru_http", self.passthru_http),
            ("passthru_https", self.passthru_https),
            ("tm_binary", self.tm_binary),
            ("tm_binary_ssl", self.tm_binary_ssl),
            ("amqp", self.amqp),
            ("amqp_ssl", self.amqp_ssl),
            ("ws", self.ws),
            ("wss", self.wss),
            ("websub_http", self.websub_http),
            ("websub_https", self.websub_https),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_guides_offsets_give_the_guides_ports() {
        let gateway = Ports::with_offset(1).unwrap();
        assert_eq!(
            (
                gateway.mgmt_https,
                gateway.passthru_http,
                gateway.passthru_https
            ),
            (9444, 8281, 8244)
        );
        let default_gateway = Ports::with_offset(2).unwrap();
        assert_eq!(
            (
                default_gateway.mgmt_https,
                default_gateway.servlet_http,
                default_gateway.passthru_http,
                default_gateway.passthru_https
            ),
            (9445, 9765, 8282, 8245)
        );
        let control_plane = Ports::with_offset(0).unwrap();
        assert_eq!(control_plane, Ports::BASE);
    }

    #[test]
    fn an_offset_that_pushes_the_highest_port_past_65535_is_refused() {
        let err = Ports::with_offset(65535 - 9763 + 1).unwrap_err();
        assert_eq!(err.name, "servlet_http");
        assert_eq!(
            err.to_string(),
            "port servlet_http 9763 + offset 55773 = 65536 is past 65535"
        );
        assert!(Ports::with_offset(65535 - 9763).is_ok());
    }

    proptest! {
        #[test]
        fn every_port_is_its_base_plus_the_offset(offset in any::<u16>()) {
            let highest = Ports::BASE.all().iter().map(|(_, p)| u32::from(*p)).max().unwrap();
            match Ports::with_offset(offset) {
                Ok(ports) => {
                    prop_assert!(highest + u32::from(offset) <= 65535);
                    prop_assert_eq!(ports.offset, offset);
                    for ((name, port), (_, base)) in ports.all().iter().zip(Ports::BASE.all()) {
                        prop_assert_eq!(u32::from(*port), u32::from(base) + u32::from(offset), "{}", name);
                    }
                }
                Err(overflow) => {
                    prop_assert!(highest + u32::from(offset) > 65535);
                    prop_assert!(u32::from(overflow.base) + u32::from(offset) > 65535);
                }
            }
        }

        #[test]
        fn transport_overrides_move_their_base_before_the_offset(base in 1u16..=65535, offset in any::<u16>()) {
            let ports = Ports { passthru_http: base, ..Ports::BASE }.shifted(offset);
            let fits = u32::from(base) + u32::from(offset) <= 65535
                && u32::from(Ports::BASE.servlet_http) + u32::from(offset) <= 65535;
            prop_assert_eq!(ports.is_ok(), fits);
            if let Ok(ports) = ports {
                prop_assert_eq!(u32::from(ports.passthru_http), u32::from(base) + u32::from(offset));
            }
        }
    }
}
