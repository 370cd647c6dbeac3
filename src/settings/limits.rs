//! Protective limits on what a client may send and hold, and the typed
//! table of their names and ranges that the config file and the flags share.

use super::SettingError;
use std::time::Duration;

/// Protective limits on what a client may send and hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line and headers), bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// Most header lines in a request; more gets 431.
    pub max_headers: usize,
    /// How long a client may take to send a request head before the
    /// connection is closed (slow clients are dropped, not served forever).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request body; slower gets 408.
    pub body_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen queue
    /// until one closes, without affecting those being served.
    pub max_connections: usize,
    /// The longest a scripted `hang` or `delay` holds a request.
    pub max_fault: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_fault: Duration::from_secs(60),
        }
    }
}

/// One of the [`Limits`], by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::max_header_bytes`].
    MaxHeaderBytes,
    /// [`Limits::max_headers`].
    MaxHeaders,
    /// [`Limits::header_read_timeout`], in milliseconds.
    HeaderReadTimeoutMs,
    /// [`Limits::body_read_timeout`], in milliseconds.
    BodyReadTimeoutMs,
    /// [`Limits::max_connections`].
    MaxConnections,
    /// [`Limits::max_fault`], in seconds.
    MaxFaultS,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 6] = [
        Limit::MaxHeaderBytes,
        Limit::MaxHeaders,
        Limit::HeaderReadTimeoutMs,
        Limit::BodyReadTimeoutMs,
        Limit::MaxConnections,
        Limit::MaxFaultS,
    ];

    /// The name in flags (`--max-headers`) and under `[limits]`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::MaxHeaderBytes => "max-header-bytes",
            Limit::MaxHeaders => "max-headers",
            Limit::HeaderReadTimeoutMs => "header-read-timeout-ms",
            Limit::BodyReadTimeoutMs => "body-read-timeout-ms",
            Limit::MaxConnections => "max-connections",
            Limit::MaxFaultS => "max-fault-s",
        }
    }

    /// The config file's key, `limits.<name>`.
    pub fn key(self) -> &'static str {
        match self {
            Limit::MaxHeaderBytes => "limits.max-header-bytes",
            Limit::MaxHeaders => "limits.max-headers",
            Limit::HeaderReadTimeoutMs => "limits.header-read-timeout-ms",
            Limit::BodyReadTimeoutMs => "limits.body-read-timeout-ms",
            Limit::MaxConnections => "limits.max-connections",
            Limit::MaxFaultS => "limits.max-fault-s",
        }
    }

    /// The values allowed.
    pub fn range(self) -> (u64, u64) {
        match self {
            Limit::MaxHeaderBytes => (1024, 1024 * 1024),
            Limit::MaxHeaders => (1, 1000),
            Limit::HeaderReadTimeoutMs | Limit::BodyReadTimeoutMs => (100, 600_000),
            Limit::MaxConnections => (1, 100_000),
            Limit::MaxFaultS => (1, 3600),
        }
    }

    /// Whether `value` is in range; otherwise what is allowed.
    pub fn check(self, value: u64) -> Result<(), SettingError> {
        let (min, max) = self.range();
        if (min..=max).contains(&value) {
            return Ok(());
        }
        Err(SettingError {
            key: self.key(),
            item: None,
            label: self.key().to_string(),
            problem: format!("must be from {min} to {max} (got {value})"),
        })
    }
}

impl Limits {
    /// The value of one limit (timeouts in milliseconds).
    pub fn get(&self, limit: Limit) -> u64 {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match limit {
            Limit::MaxHeaderBytes => self.max_header_bytes as u64,
            Limit::MaxHeaders => self.max_headers as u64,
            Limit::HeaderReadTimeoutMs => millis(self.header_read_timeout),
            Limit::BodyReadTimeoutMs => millis(self.body_read_timeout),
            Limit::MaxConnections => self.max_connections as u64,
            Limit::MaxFaultS => self.max_fault.as_secs(),
        }
    }

    /// Sets one limit (timeouts in milliseconds); [`Limit::check`] and
    /// [`crate::Settings::validate`] say whether the value is allowed.
    pub fn set(&mut self, limit: Limit, value: u64) {
        let size = usize::try_from(value).unwrap_or(usize::MAX);
        match limit {
            Limit::MaxHeaderBytes => self.max_header_bytes = size,
            Limit::MaxHeaders => self.max_headers = size,
            Limit::HeaderReadTimeoutMs => self.header_read_timeout = Duration::from_millis(value),
            Limit::BodyReadTimeoutMs => self.body_read_timeout = Duration::from_millis(value),
            Limit::MaxConnections => self.max_connections = size,
            Limit::MaxFaultS => self.max_fault = Duration::from_secs(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_round_trips_and_defaults_are_in_range() {
        let defaults = Limits::default();
        for limit in Limit::ALL {
            assert!(limit.check(defaults.get(limit)).is_ok(), "{limit:?}");
            let mut limits = defaults;
            let (min, _) = limit.range();
            limits.set(limit, min);
            assert_eq!(limits.get(limit), min, "{limit:?}");
            assert_eq!(limit.key(), format!("limits.{}", limit.name()));
        }
        assert_eq!(
            Limit::MaxConnections.check(0).unwrap_err().to_string(),
            "limits.max-connections must be from 1 to 100000 (got 0)"
        );
    }
}
