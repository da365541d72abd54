//! Splitting endpoint URLs the way `java.net.URL` does for `VHost.fromEndpointUrls`.
//!
//! Only `scheme://host[:port][/path]` is needed (gateway, broker and receiver URLs); a full URL
//! crate would normalise what WSO2 keeps verbatim (a path of `""` versus `"/"`).

/// The parts of an endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint<'a> {
    /// Lower-cased by the caller when compared; kept as written here.
    pub(crate) scheme: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: Option<u16>,
    /// Everything from the first `/` to `?` or `#`; `""` when there is none.
    pub(crate) path: &'a str,
}

pub(crate) fn parse(url: &str) -> Result<Endpoint<'_>, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "\"{url}\" is not a URL: expected scheme://host[:port][/path]"
        ));
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(format!("\"{url}\" has no valid scheme"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let path = &tail[..path_end];
    // user:password@ is legal in a URL and irrelevant to a vhost.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let Some((inside, after)) = v6.split_once(']') else {
            return Err(format!("\"{url}\" has an unclosed [ in its host"));
        };
        let ipv6_ok = !inside.is_empty()
            && inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !ipv6_ok {
            return Err(format!(
                "\"{url}\" has \"[{inside}]\" as host, which is not an IPv6 address (replace the guide's placeholder with a host name)"
            ));
        }
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err(format!("\"{url}\" has text after its IPv6 host")),
        };
        (&host_port[..inside.len() + 2], port)
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(format!("\"{url}\" has no host"));
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | '%'))
    {
        return Err(format!(
            "\"{url}\" has \"{host}\" as host, which is not a host name"
        ));
    }
    let port = match port {
        None => None,
        Some(digits) => match digits.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "\"{url}\" has port \"{digits}\"; a port is a number from 1 to 65535"
                ));
            }
            Ok(port) => Some(port),
        },
    };
    Ok(Endpoint {
        scheme,
        host,
        port,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls_split_into_host_port_and_context() {
        assert_eq!(
            parse("https://gw.wso2.com:8244/ctx?q#f").unwrap(),
            Endpoint {
                scheme: "https",
                host: "gw.wso2.com",
                port: Some(8244),
                path: "/ctx"
            }
        );
        let plain = parse("http://localhost").unwrap();
        assert_eq!((plain.port, plain.path), (None, ""));
        let v6 = parse("tcp://[::1]:5672").unwrap();
        assert_eq!((v6.host, v6.port), ("[::1]", Some(5672)));
    }

    #[test]
    fn broken_urls_are_refused_with_the_reason() {
        assert!(parse("localhost:8281").unwrap_err().contains("not a URL"));
        assert!(
            parse("http://localhost:99999")
                .unwrap_err()
                .contains("port \"99999\"")
        );
        assert!(parse("http://:8080").unwrap_err().contains("no host"));
        assert!(
            parse("https://[control-plane-LB-host]/services/")
                .unwrap_err()
                .contains("placeholder")
        );
        assert!(
            parse("http://local host")
                .unwrap_err()
                .contains("not a host name")
        );
    }
}
