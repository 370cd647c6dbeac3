//! Who may reach the control API and the hosted page from a browser.
//!
//! - **Cross-site requests.** A page on any site can send a `POST` to the
//!   mock (as `text/plain`, no preflight). Browsers name the page's origin
//!   in `Origin` on such requests, so a control or hosted request whose
//!   `Origin` is not the request's own (`http://` or `https://` and its
//!   `Host`) or a configured `cors-origins` entry is refused with a 403.
//! - **DNS rebinding.** A page can make its own name resolve to 127.0.0.1
//!   and then read the mock as same-origin. Such requests carry the page's
//!   name in `Host`, so where the control API is served without a token (a
//!   loopback address), a control or hosted request whose `Host` is not a
//!   loopback name or address or an `allowed-hosts` entry is refused too.
//!   Beyond loopback the control token is the gate, and any `Host` (a
//!   Compose service name) is served.
//!
//! Requests without `Origin` (curl, SDKs, test harnesses) pass the first
//! check; `GET /__mock/health` reveals nothing and is always answered.

use super::heads::Heads;
use crate::api::ApiError;
use crate::state::{ControlAccess, State};
use hyper::StatusCode;
use hyper::http::request::Parts;

/// Refuses a control or hosted request from another site, or (on
/// loopback) one that names a foreign `Host`.
pub(super) fn check(state: &State, parts: &Parts, heads: &Heads<'_>) -> Result<(), ApiError> {
    if super::router::is_health(parts.uri.path()) {
        return Ok(());
    }
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    if state.control == ControlAccess::Loopback
        && let Some(host) = host
        && !is_loopback_host(host)
        && !state
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host_name(host)))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "persona-mock serves its control API and hosted page on loopback only to loopback names, and this request names Host {:?} (a page that rebinds its own name to 127.0.0.1 would). To serve them under that name, add it to allowed-hosts (--allowed-host {}).",
                crate::api::conventions::truncate(host),
                crate::api::conventions::truncate(host_name(host)),
            ),
        ));
    }
    if let Some(origin) = heads.origin {
        let origin = origin.to_str().unwrap_or_default();
        let own = host.is_some_and(|host| {
            ["http://", "https://"].iter().any(|scheme| {
                origin.len() == scheme.len() + host.len()
                    && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
                    && origin[scheme.len()..].eq_ignore_ascii_case(host)
            })
        });
        let configured = state.cors_origins().any(|o| o == origin);
        if !own && !configured {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "persona-mock refuses control and hosted-page requests from a page of another site (Origin {:?}). Add the origin to cors-origins to allow it.",
                    crate::api::conventions::truncate(origin)
                ),
            ));
        }
    }
    Ok(())
}

/// The name or address of a `Host` value, without its port.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(host, |(address, _)| address);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether a `Host` value names this machine: `localhost`, a name under
/// `.localhost` (RFC 6761), or a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let name = host_name(host).trim_end_matches('.');
    if name.eq_ignore_ascii_case("localhost")
        || name
            .len()
            .checked_sub(".localhost".len())
            .is_some_and(|at| {
                name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(".localhost")
            })
    {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_with_or_without_a_port() {
        for host in [
            "localhost",
            "localhost:9577",
            "LOCALHOST:1",
            "app.localhost:3000",
            "127.0.0.1:9577",
            "127.8.9.10",
            "[::1]:9577",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:9577",
            "localhost.evil.example",
            "notlocalhost",
            "0.0.0.0:9577",
            "10.0.0.1",
            "[::2]:1",
            "persona-mock:9577",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        assert_eq!(host_name("persona-mock:9577"), "persona-mock");
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("a.b"), "a.b");
    }
}
