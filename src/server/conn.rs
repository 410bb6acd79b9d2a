//! Connections: the accept loop behind [`super::serve_with`], with the
//! limits a public tile server needs so that a few slow or half-open
//! clients cannot hold every file descriptor.
//!
//! - **header timeout**: a request's headers must arrive within it
//!   (hyper's `header_read_timeout`), or the connection is closed; the
//!   timer runs whenever the connection waits for a request, so it is also
//!   how long an idle keep-alive connection stays open;
//! - **idle timeout**: a connection on which nothing is read or written for
//!   that long is closed (a client that stopped reading its response);
//! - **connection cap**: at most that many connections are served at once;
//!   further ones wait in the listen backlog until one closes;
//! - **request timeout**: a request whose response is not ready by then
//!   gets `503` (the render is left to finish and fill the cache).
//!
//! Dropped connections and timed-out requests are counted
//! ([`ConnectionStats`]) and reported by `/health`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};

/// Connection limits of [`super::serve_with`].
///
/// ```
/// use std::time::Duration;
/// use pointillist::server::ConnectionLimits;
///
/// let limits = ConnectionLimits::default()
///     .with_header_timeout(Duration::from_secs(5))
///     .with_max_connections(256);
/// assert_eq!(limits.max_connections, 256);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionLimits {
    /// Time for a request's headers to arrive, counted from when the
    /// connection waits for one, so also the keep-alive limit (default 10 s).
    pub header_timeout: Duration,
    /// Time a connection may read and write nothing (default 60 s).
    pub idle_timeout: Duration,
    /// Connections served at once (default 1024).
    pub max_connections: usize,
    /// Time for one response (default 30 s).
    pub request_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl ConnectionLimits {
    /// Set [`ConnectionLimits::header_timeout`].
    pub fn with_header_timeout(mut self, d: Duration) -> Self {
        self.header_timeout = d;
        self
    }

    /// Set [`ConnectionLimits::idle_timeout`].
    pub fn with_idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// Set [`ConnectionLimits::max_connections`] (at least 1).
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Set [`ConnectionLimits::request_timeout`].
    pub fn with_request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
}

/// Counters of the connection layer, shared with `/health`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicUsize,
    accepted: AtomicU64,
    dropped_header_timeout: AtomicU64,
    dropped_idle: AtomicU64,
    request_timeouts: AtomicU64,
}

impl ConnectionStats {
    /// `/health`'s `connections` object.
    pub(super) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "open": self.open.load(Ordering::Relaxed),
            "accepted": self.accepted.load(Ordering::Relaxed),
            "dropped_header_timeout": self.dropped_header_timeout.load(Ordering::Relaxed),
            "dropped_idle": self.dropped_idle.load(Ordering::Relaxed),
            "request_timeouts": self.request_timeouts.load(Ordering::Relaxed),
        })
    }

    /// Count one request that ran past the request timeout.
    pub(super) fn request_timed_out(&self) {
        self.request_timeouts.fetch_add(1, Ordering::Relaxed);
    }
}

/// Serve `app` on `listener` with `limits` until `shutdown` resolves, then
/// let the connections in flight finish their requests.
pub(super) async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                // Out of descriptors, a reset before accept: keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let idle = IdleIo::new(stream, limits.idle_timeout);
        let idle_fired = Arc::clone(&idle.fired);
        let service = TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(idle), service);
        let conn = graceful.watch(conn);
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            let result = conn.await;
            if idle_fired.load(Ordering::Relaxed) != 0 {
                stats.dropped_idle.fetch_add(1, Ordering::Relaxed);
            } else if result.as_ref().is_err_and(|e| e.is_timeout()) {
                stats.dropped_header_timeout.fetch_add(1, Ordering::Relaxed);
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A stream that fails with `TimedOut` once nothing has been read from or
/// written to it for `timeout`.
struct IdleIo<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    /// Set to 1 when the timeout closed the stream.
    fired: Arc<AtomicUsize>,
}

impl<S> IdleIo<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        IdleIo {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            fired: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn touch(&mut self) {
        let next = Instant::now() + self.timeout;
        self.deadline.as_mut().reset(next);
    }

    /// A write's outcome: progress moves the deadline, `Pending` past the
    /// deadline becomes `TimedOut`.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match r {
            Poll::Ready(r) => {
                if r.as_ref().is_ok_and(|&n| n > 0) {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.check(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }

    /// `Pending` turned into `TimedOut` once the deadline has passed.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.fired.store(1, Ordering::Relaxed);
                Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection idle past the idle timeout",
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending => self.check(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        self.after_write(cx, r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
