//! Why the mock could not start, and the exit code each reason gets.

use crate::diag::ConfigErrors;
use crate::keys::KeyFileError;
use crate::settings::SettingErrors;

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Settings with values they cannot have.
    #[error("{0}")]
    Settings(#[source] SettingErrors),
    /// Key files that could not be loaded.
    #[error("{}", KeyFileList(.0))]
    KeyFiles(Vec<KeyFileError>),
    /// Scenario files with errors.
    #[error("{0}")]
    Scenarios(#[source] ConfigErrors),
    /// The default scenario does not exist.
    #[error(
        "unknown scenario {name:?}{suggestion}: give the name of a scenario ({available}) or the path of a .toml file"
    )]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The scenarios there are.
        available: String,
        /// ` (did you mean "x"?)`, or nothing.
        suggestion: String,
    },
    /// The listening socket could not be set up.
    #[error("cannot listen on {address}: {source}{}", bind_hint(.source))]
    Bind {
        /// The address asked for, as `host:port`.
        address: String,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
}

/// Exit code for a bad flag, config, key or scenario file.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure at run time (e.g. the port is taken).
pub const EXIT_RUNTIME: u8 = 1;

impl StartError {
    /// The process exit code for this failure: 2 for configuration
    /// mistakes, 1 for failures at run time.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Bind { .. } => EXIT_RUNTIME,
            _ => EXIT_CONFIG,
        }
    }
}

/// Key file errors, one per line.
struct KeyFileList<'a>(&'a [KeyFileError]);

impl std::fmt::Display for KeyFileList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::diag::write_lines(f, self.0)
    }
}

fn bind_hint(source: &std::io::Error) -> &'static str {
    if source.kind() == std::io::ErrorKind::AddrInUse {
        "; stop what is using it, or pass --port 0 to pick a free port"
    } else {
        ""
    }
}
