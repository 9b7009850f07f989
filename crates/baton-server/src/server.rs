//! The connection side of `baton serve`: accepting, connection limits, timeouts and shutdown.
//!
//! - HTTP/1.1 (hyper's connection builder with its timer). A request head (the request line
//!   and headers) must arrive within
//!   [`Settings::header_timeout_seconds`] of the connection opening or of its previous
//!   response, so half-sent headers and idle keep-alive connections are both closed then
//!   (hyper's `header_read_timeout`, which starts when hyper waits for a head, from the
//!   connection's first moment).
//! - A request body must arrive within [`Settings::body_timeout_seconds`] (408) and a handler
//!   answer within [`Settings::request_timeout_seconds`] (503); see [`crate::router`].
//! - At most [`max_connections`] connections are open at once; one more is answered
//!   `503` with `Retry-After` and closed, so a flood of idle clients never starves the process of
//!   file descriptors.
//! - On shutdown the listener closes, event streams end with a `reconnect` event, in-flight
//!   requests finish, and whatever is still open after [`Settings::shutdown_grace_seconds`] is
//!   dropped.
//!
//! [`Settings::header_timeout_seconds`]: crate::Settings::header_timeout_seconds
//! [`Settings::body_timeout_seconds`]: crate::Settings::body_timeout_seconds
//! [`Settings::request_timeout_seconds`]: crate::Settings::request_timeout_seconds
//! [`Settings::shutdown_grace_seconds`]: crate::Settings::shutdown_grace_seconds

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::Settings;

/// File descriptors kept free for everything but client connections: database files, the
/// webhook client, the listener, and up to [`LINGERING_REFUSALS`] refused connections.
const RESERVED_FDS: u64 = 64;

/// How the server treats connections, from the settings.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
}

impl ConnectionLimits {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            header_timeout: Duration::from_secs(s.header_timeout_seconds.max(1)),
            max_connections: s.max_connections.max(1),
            shutdown_grace: Duration::from_secs(s.shutdown_grace_seconds),
        }
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self::from_settings(&Settings::default())
    }
}

/// The soft limit on open files in force (`None` if it cannot be read).
pub fn open_files_limit() -> Option<u64> {
    nofile().map(|(soft, _)| soft)
}

/// (soft, hard) limits on open files.
fn nofile() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct passed by reference.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // `rlim_t` is not `u64` on every platform
        Some((lim.rlim_cur as u64, lim.rlim_max as u64))
    }
    #[cfg(not(unix))]
    None
}

/// Caps glibc's malloc arenas at two. glibc gives each thread that allocates under contention an
/// arena of its own (up to 8 per core) and keeps what each arena ever held, so a burst of report
/// work on the blocking pool left the server at the burst's peak RSS: a flood of 400 report
/// requests peaked at 115-179 MB with the default and at 93 MB with two arenas (the same flood,
/// `sockets::a_report_flood_from_every_role_keeps_memory_and_cpu_bounded`). The price is malloc
/// contention: about 10% more server CPU per ingested message (BENCHMARKS.md). An operator who
/// prefers the speed sets `MALLOC_ARENA_MAX` (glibc reads it; then this leaves it alone). Call it
/// first thing, before any thread starts. Elsewhere (musl, other systems) it does nothing.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt takes two integers and changes an allocator setting; M_ARENA_MAX
        // applies to arenas created from now on, so calling it while allocations are live is
        // allowed.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Raises the soft limit on open files to the hard limit, where the system allows it, and
/// returns the soft limit (before, after); `None` if it cannot be read. Call it before serving:
/// the connection cap of [`serve_with`] follows the limit in force.
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    let (before, hard) = nofile()?;
    #[cfg(unix)]
    if before < hard {
        let raised = libc::rlimit {
            rlim_cur: hard as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct passed by reference.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
    }
    Some((before, open_files_limit()?))
}

/// The connection cap in force: the configured one, lowered to what the open-files limit
/// leaves after [`RESERVED_FDS`].
pub fn max_connections(configured: usize, fd_limit: Option<u64>) -> usize {
    match fd_limit {
        Some(n) => configured.min(n.saturating_sub(RESERVED_FDS).max(1) as usize),
        None => configured,
    }
}

/// Serves `app` with the default limits until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        app,
        ConnectionLimits::default(),
        CancellationToken::new(),
        shutdown,
    )
    .await
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves; then cancels `stopping`
/// (the token of [`crate::AppState::stopping`]: event streams end), lets in-flight requests
/// finish for at most `limits.shutdown_grace`, and returns.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stopping: CancellationToken,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let fd_limit = open_files_limit();
    let cap = max_connections(limits.max_connections, fd_limit);
    tracing::info!(
        open_files_limit = ?fd_limit,
        max_connections = cap,
        header_timeout = ?limits.header_timeout,
        "accepting connections"
    );
    let permits = Arc::new(Semaphore::new(cap));
    let (refusal, lingering) = (refusal(), Arc::new(Semaphore::new(LINGERING_REFUSALS)));
    // HTTP/1.1 only: hyper-util's HTTP/2-sniffing builder waits for a connection's first bytes
    // with no timeout at all, so a client that connects and sends nothing would be held for ever.
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
    };
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a little
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(stream, &refusal, &lingering);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = http1.serve_connection(
            TokioIo::new(JsonParseErrors::new(stream)),
            TowerToHyperService::new(app.clone()),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    stopping.cancel();
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?limits.shutdown_grace, "connections still open after the grace period; closing them");
    }
    Ok(())
}

/// Refused connections kept open for a moment so their client reads the answer; beyond these,
/// a refused connection is closed as soon as the answer is written. Part of [`RESERVED_FDS`].
const LINGERING_REFUSALS: usize = 32;

/// The answer to a connection over the cap: 503 with `Retry-After`, then close.
fn refusal() -> String {
    const BODY: &str =
        r#"{"error":{"code":"unavailable","message":"too many open connections; retry later"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
}

/// Answers a connection over the cap and closes it, without ever holding more than
/// [`LINGERING_REFUSALS`] descriptors for refusals.
fn refuse(stream: TcpStream, answer: &str, lingering: &Arc<Semaphore>) {
    metrics::counter!("baton_connections_refused_total").increment(1);
    // A new socket's send buffer is empty: the answer fits at once.
    let _ = stream.try_write(answer.as_bytes());
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        return; // closed at once
    };
    tokio::spawn(async move {
        let mut stream = stream;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.shutdown().await?;
            // Read what the client sent, so closing does not reset the connection before it
            // has read the answer.
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            std::io::Result::Ok(())
        })
        .await;
        drop(permit);
    });
}

/// A connection that turns hyper's own answers to requests it cannot parse (raw bytes not
/// allowed in a URL or header such as 0xFF, control characters or NUL; a URL over 64 KiB;
/// headers over the buffer) into the API's JSON error: hyper sends those with an empty body
/// before any of our code runs. Such an answer is recognised on the wire as a 400, 414 or 431
/// head with `content-length: 0`; the API's own error answers always have a JSON body.
struct JsonParseErrors<T> {
    inner: T,
    /// A rewritten answer still to be written, and how much of it is.
    pending: Vec<u8>,
    sent: usize,
}

impl<T> JsonParseErrors<T> {
    fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

/// The JSON version of a parse-error answer hyper wrote as `head`, if it is one.
fn rewrite_parse_error(head: &[u8]) -> Option<Vec<u8>> {
    let (code, message) = match head.get(..13)? {
        b"HTTP/1.1 400 " => (
            "invalid_request",
            "the request line or a header could not be parsed (bytes such as 0xFF, control characters or NUL are not allowed in a URL or header)",
        ),
        b"HTTP/1.1 414 " => ("uri_too_long", "the URL is longer than the server accepts (64 KiB)"),
        b"HTTP/1.1 431 " => ("headers_too_large", "the request headers are too large"),
        _ => return None,
    };
    const EMPTY: &str = "\r\ncontent-length: 0\r\n";
    let text = std::str::from_utf8(head).ok()?;
    if head.len() > 1024 || !text.ends_with("\r\n\r\n") || !text.contains(EMPTY) {
        return None;
    }
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let mut out = text
        .replacen(EMPTY, "\r\n", 1)
        .trim_end_matches("\r\n")
        .to_string();
    out.push_str(&format!(
        "\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(out.into_bytes())
}

impl<T: AsyncWrite + Unpin> JsonParseErrors<T> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonParseErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        if let Some(json) = rewrite_parse_error(buf) {
            this.pending = json;
            // What cannot be written now is written by the flush that follows.
            if let Poll::Ready(Err(e)) = this.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_parse_error_answers_become_json() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 29 Nov 2026 18:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite_parse_error(head).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 414 URI Too Long\r\ndate: "),
            "{head}"
        );
        assert!(
            head.ends_with(&format!(
                "content-type: application/json\r\ncontent-length: {}",
                body.len()
            )),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "uri_too_long");
        // Our own answers are left alone.
        assert!(rewrite_parse_error(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n").is_none());
        assert!(rewrite_parse_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }

    #[test]
    fn the_cap_leaves_room_for_the_process_own_files() {
        assert_eq!(max_connections(4096, Some(1024)), 960);
        assert_eq!(max_connections(100, Some(1024)), 100);
        assert_eq!(max_connections(100, Some(10)), 1);
        assert_eq!(max_connections(100, None), 100);
    }
}
