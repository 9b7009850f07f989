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
    /// The database: an SQLite file or a PostgreSQL URL.
    pub db: Database,
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
    /// Seconds a connection has to send a complete request head, counted from its opening or
    /// from its previous response: bounds half-sent headers and idle keep-alive connections.
    pub header_timeout_seconds: u64,
    /// Seconds a request body has to arrive in full (408 after that).
    pub body_timeout_seconds: u64,
    /// Seconds a handler has to answer (503 after that; event streams are not limited).
    pub request_timeout_seconds: u64,
    /// Most connections open at once (lowered to what the open-files limit allows); one more is
    /// answered 503 with `Retry-After` and closed.
    pub max_connections: usize,
    /// Seconds in-flight requests get to finish after SIGTERM before the process exits.
    pub shutdown_grace_seconds: u64,
    /// Reports (`GET /v1/report`) computed at once; callers asking for the same period and
    /// filter share one computation, others wait their turn.
    pub report_concurrency: usize,
    /// How long a verified API key is trusted without reading the database again, in
    /// milliseconds: the longest a key revoked elsewhere (another instance, `baton keys
    /// revoke`) keeps working here. A revocation through this instance is immediate.
    pub key_cache_ms: u64,
    /// About how many conversations' folded state the server keeps in memory (2-3 KB each);
    /// the least recently used beyond it are dropped and replayed from the store on next use.
    pub live_conversations: usize,
    /// PostgreSQL connections this instance opens at most (ignored on SQLite): transactions
    /// beyond it wait their turn in the server, in arrival order.
    pub pg_pool: usize,
}

/// The database the server uses: an SQLite file (created if missing) or a PostgreSQL URL that
/// several instances can share. Parsed once where settings are read (`--db`, `BATON_DB`, the
/// config file's `db`); written back as the same text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Database {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A `postgres://` (or `postgresql://`) URL.
    Postgres(String),
}

/// A `db` value that is neither an SQLite file nor a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseError {
    #[error("the database is empty: give an SQLite file or a postgres:// URL")]
    Empty,
    #[error(
        "database `{0}` is neither an SQLite file nor a PostgreSQL URL (postgres://user:password@host:port/database)"
    )]
    UnknownScheme(String),
}

impl Database {
    /// The value without a URL's password, for messages.
    pub fn redacted(&self) -> String {
        match self {
            Database::Sqlite(path) => path.display().to_string(),
            Database::Postgres(url) => redact(url),
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl std::str::FromStr for Database {
    type Err = DatabaseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(DatabaseError::Empty);
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres(s.to_string()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            {
                return Err(DatabaseError::UnknownScheme(redact(s)));
            }
        }
        Ok(Database::Sqlite(PathBuf::from(s)))
    }
}

impl TryFrom<String> for Database {
    type Error = DatabaseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Database> for String {
    fn from(db: Database) -> String {
        match db {
            Database::Sqlite(path) => path.to_string_lossy().into_owned(),
            Database::Postgres(url) => url,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            db: Database::Sqlite(PathBuf::from("baton.db")),
            policy: None,
            max_body_bytes: 256 * 1024,
            max_text_bytes: 64 * 1024,
            max_clock_skew_seconds: 300,
            rate_limit_per_second: 2000,
            event_poll_ms: 500,
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            request_timeout_seconds: 60,
            max_connections: 4096,
            shutdown_grace_seconds: 10,
            report_concurrency: 1,
            key_cache_ms: 1000,
            live_conversations: 20_000,
            pg_pool: 4,
        }
    }
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {} does not exist", .0.display())]
    MissingFile(PathBuf),
    /// A value that does not parse or a key that does not exist (both named).
    #[error("{0}")]
    Invalid(Box<figment::Error>),
}

impl Settings {
    /// Defaults, then `file` (if given), then `BATON_*` variables. Errors name the key.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(SettingsError::MissingFile(f.to_path_buf()));
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
            "header_timeout_seconds",
            "body_timeout_seconds",
            "request_timeout_seconds",
            "max_connections",
            "shutdown_grace_seconds",
            "report_concurrency",
            "key_cache_ms",
            "live_conversations",
            "pg_pool",
        ]));
        fig.extract()
            .map_err(|e| SettingsError::Invalid(Box::new(e)))
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
    fn the_database_is_parsed_once_and_a_bad_one_is_named() {
        assert_eq!(
            "data/baton.db".parse::<Database>(),
            Ok(Database::Sqlite(PathBuf::from("data/baton.db")))
        );
        for url in ["postgres://u:p@h:5432/d", "postgresql://h/d"] {
            assert_eq!(url.parse::<Database>(), Ok(Database::Postgres(url.into())));
        }
        assert_eq!("".parse::<Database>(), Err(DatabaseError::Empty));
        let e = "mysql://u:secret@h/d".parse::<Database>().unwrap_err();
        assert!(e.to_string().contains("`mysql://u:***@h/d`"), "{e}");
        assert_eq!(
            Database::Postgres("postgres://u:secret@h/d".into()).redacted(),
            "postgres://u:***@h/d"
        );
        figment::Jail::expect_with(|jail| {
            jail.set_env("BATON_DB", "postgres://h/d");
            let s = Settings::load(None).unwrap();
            assert_eq!(s.db, Database::Postgres("postgres://h/d".into()));
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("baton.toml", "db = \"redis://h/0\"\n")?;
            let e = Settings::load(Some(Path::new("baton.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("`redis://h/0`"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn a_wrong_key_is_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("baton.toml", "max_body_byte = 1\n")?;
            let e = Settings::load(Some(Path::new("baton.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("max_body_byte"), "{e}");
            Ok(())
        });
    }
}
