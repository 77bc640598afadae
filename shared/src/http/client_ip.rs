//! The caller's IP address, for per-source rate limits.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use lambda_http::request::RequestContext;

/// The source IP as API Gateway saw it, or the peer address when served directly (local stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl ClientIp {
    /// The network the address belongs to, as one subscriber usually holds it: its /24 (IPv4)
    /// or /64 (IPv6); the address itself when it is not one.
    pub fn network(&self) -> String {
        // A dual-stack listener reports IPv4 peers as `::ffff:a.b.c.d`.
        let address = self.0.parse::<std::net::IpAddr>().map(|ip| match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        });
        match address {
            Ok(std::net::IpAddr::V4(v4)) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            Ok(std::net::IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Err(_) => self.0.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(RequestContext::ApiGatewayV2(context)) = parts.extensions.get::<RequestContext>()
            && let Some(ip) = &context.http.source_ip
        {
            return Ok(Self(ip.clone()));
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(Self(peer.ip().to_string()));
        }
        Ok(Self("unknown".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_a_subscriber_s_block() {
        assert_eq!(ClientIp("203.0.113.77".into()).network(), "203.0.113.0/24");
        assert_eq!(ClientIp("2001:db8:aa:bb:1:2:3:4".into()).network(), "2001:db8:aa:bb::/64");
        assert_eq!(ClientIp("unknown".into()).network(), "unknown");
        assert_eq!(ClientIp("::ffff:203.0.113.9".into()).network(), "203.0.113.0/24");
    }
}
