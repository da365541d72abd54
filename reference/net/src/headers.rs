//! Header rules every proxying node shares (the gateway and the load balancer).

use http::header::{self, HeaderMap, HeaderName};

/// Connection-specific fields (RFC 9110 §7.6.1: `Connection`, `Proxy-Connection`, `Keep-Alive`,
/// `TE`, `Transfer-Encoding`, `Upgrade`), plus `Trailer` and the proxy-auth pair, which describe
/// one hop too (RFC 2616 §13.5.1's list).
pub const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes the hop-by-hop fields of [`HOP_BY_HOP`] and every field named in `Connection`, before
/// a message is forwarded. Framing is re-decided per hop by hyper from the body (Content-Length
/// kept when known), so `Transfer-Encoding` never crosses a hop.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over their few names is cheaper than ten hashed
    // removals (~1.9k instructions a message, twice per gateway request).
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    // Fields named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

/// Whether `Transfer-Encoding`'s last coding is `chunked` (it must be last to frame a body).
pub fn is_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spelled out rather than read from [`HOP_BY_HOP`], so shrinking the list fails here.
    const EXPECTED: [&str; 9] = [
        // RFC 9110 §7.6.1
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        // one hop too
        "trailer",
        "proxy-authenticate",
        "proxy-authorization",
    ];

    #[test]
    fn each_hop_by_hop_header_alone_is_removed_and_others_kept() {
        for name in EXPECTED {
            let mut h = HeaderMap::new();
            h.insert(HeaderName::from_static(name), "x".parse().unwrap());
            h.insert("x-kept", "1".parse().unwrap());
            strip_hop_by_hop(&mut h);
            assert_eq!(h.len(), 1, "{name}");
            assert!(h.contains_key("x-kept"), "{name}");
        }
        let mut clean = HeaderMap::new();
        clean.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut clean);
        assert_eq!(clean.len(), 1);
    }

    #[test]
    fn all_of_them_together_and_the_fields_named_in_connection_are_removed() {
        let mut h = HeaderMap::new();
        for name in EXPECTED {
            h.insert(HeaderName::from_static(name), "x".parse().unwrap());
        }
        // Two `Connection` lines, odd spacing and case: every named field goes.
        h.insert(
            header::CONNECTION,
            "keep-alive, X-Trace ,x-session".parse().unwrap(),
        );
        h.append(header::CONNECTION, "close,X-Other".parse().unwrap());
        for name in ["x-trace", "x-session", "x-other"] {
            h.insert(HeaderName::from_static(name), "1".parse().unwrap());
        }
        h.insert("x-kept", "1".parse().unwrap());
        h.insert(header::CONTENT_LENGTH, "7".parse().unwrap());
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-kept", "content-length"]);
    }

    #[test]
    fn a_field_named_in_connection_alone_is_removed() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "x-trace".parse().unwrap());
        h.insert("x-trace", "1".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
