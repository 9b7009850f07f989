//! Server settings: built-in defaults, then a TOML file, then `BATON_*` environment variables
//! (e.g. `BATON_LISTEN=0.0.0.0:8080`, `BATON_MAX_BODY_BYTES=65536`).

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: String,
    /// SQLite database file.
    pub db: PathBuf,
    /// Escalation policy file; the shipped default when absent.
    pub policy: Option<PathBuf>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest accepted message text, in bytes.
    pub max_text_bytes: usize,
    /// How far in the future a message's `at` may be, in seconds.
    pub max_clock_skew_seconds: u64,
    /// Requests per second allowed to one API key (0 = no limit); bursts up to twice that.
    pub rate_limit_per_second: u32,
    /// How often an event stream looks for new events when nothing woke it, in milliseconds
    /// (this instance's writes and, on PostgreSQL, every instance's wake it at once).
    pub event_poll_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            db: PathBuf::from("baton.db"),
            policy: None,
            max_body_bytes: 256 * 1024,
            max_text_bytes: 64 * 1024,
            max_clock_skew_seconds: 300,
            rate_limit_per_second: 2000,
            event_poll_ms: 500,
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if given), then `BATON_*` variables. Errors name the key.
    pub fn load(file: Option<&Path>) -> Result<Settings, String> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(format!("config file {} does not exist", f.display()));
            }
            fig = fig.merge(Toml::file(f));
        }
        // Only the settings' own names: other BATON_* variables (BATON_LOG) belong elsewhere.
        fig = fig.merge(Env::prefixed("BATON_").only(&[
            "listen",
            "db",
            "policy",
            "max_body_bytes",
            "max_text_bytes",
            "max_clock_skew_seconds",
            "rate_limit_per_second",
            "event_poll_ms",
        ]));
        fig.extract().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "baton.toml",
                "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 1000\n",
            )?;
            jail.set_env("BATON_MAX_BODY_BYTES", "2000");
            jail.set_env("BATON_LOG", "debug");
            let s = Settings::load(Some(Path::new("baton.toml"))).unwrap();
            assert_eq!(s.listen, "127.0.0.1:9000");
            assert_eq!(s.max_body_bytes, 2000);
            assert_eq!(s.max_text_bytes, Settings::default().max_text_bytes);
            Ok(())
        });
    }

    #[test]
    fn a_wrong_key_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("baton.toml", "max_body_byte = 1\n")?;
            let e = Settings::load(Some(Path::new("baton.toml"))).unwrap_err();
            assert!(e.contains("max_body_byte"), "{e}");
            Ok(())
        });
    }
}
