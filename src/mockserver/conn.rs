//! One client connection: HTTP/1.1 served by hyper, under two limits (see
//! [`super::MockParams`]): a header read timeout counted from a request's first byte, and an idle
//! timeout counted while no request is in flight.
//!
//! hyper's own `header_read_timeout` starts whenever it waits for a request head, also on a
//! connection that is merely idle between requests, so it would close every idle keep-alive
//! connection at the header timeout (its default, 30 s, did). It is turned off, and both limits
//! are kept here from two signals: bytes arriving on the socket ([`Watched`]) and requests in
//! flight ([`InFlight`], held from the moment hyper has a request's head until its response body
//! is dropped, i.e. sent in full or abandoned). So a streaming response is in flight however long
//! it runs or pauses, and is never cut by the idle timeout.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use super::http::{self, Shared};
use super::response::MockBody;

/// The limits of every connection; `None` = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the first byte of a request (none in flight) to the end of its headers.
    pub header_read: Option<Duration>,
    /// With no request in flight and no byte of the next one.
    pub idle: Option<Duration>,
    /// After each response, whatever is in flight then (a fault: see
    /// [`super::MockParams::close_after_response_ms`]).
    pub close_after_response: Option<Duration>,
}

/// Serves one connection until the client closes it, a limit expires (the socket is then closed
/// without an answer: nothing is in flight), or `stop` changes (graceful: the request in flight
/// finishes, then the connection closes).
pub async fn serve(
    stream: TcpStream,
    shared: Arc<Shared>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new(limits.close_after_response));
    let io = TokioIo::new(Watched { inner: stream, activity: Arc::clone(&activity) });
    let tracker = Arc::clone(&activity);
    let service = service_fn(move |req| {
        // The close-after-response fault: a request on a connection that is closing is never
        // answered (the connection closes under it).
        let closing = tracker.closing();
        let in_flight = tracker.request_started();
        let shared = Arc::clone(&shared);
        async move {
            if closing {
                std::future::pending::<()>().await;
            }
            let response = http::handle(req, shared).await?;
            Ok::<_, Infallible>(response.map(|body| Tracked { body, _in_flight: in_flight }))
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        // Kept by `activity` instead (see the module documentation).
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = activity.expired(limits) => return,
        _ = stop.changed() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// What the limits watch on one connection.
#[derive(Debug)]
struct Activity {
    state: Mutex<State>,
    /// Signalled on every change of `state` (one waiter: [`Activity::expired`]).
    changed: Notify,
    /// The close-after-response fault's delay.
    close_after: Option<Duration>,
}

#[derive(Debug)]
struct State {
    /// Requests between their head and the drop of their response body.
    in_flight: usize,
    /// When the first byte of the next request arrived (only while none is in flight).
    head_since: Option<Instant>,
    /// Since when nothing has been in flight: the accept, or the end of the last response.
    idle_since: Instant,
    /// When the connection closes whatever is in flight (the close-after-response fault).
    close_at: Option<Instant>,
}

impl Activity {
    fn new(close_after: Option<Duration>) -> Self {
        let now = Instant::now();
        let state = State { in_flight: 0, head_since: None, idle_since: now, close_at: None };
        Self { state: Mutex::new(state), changed: Notify::new(), close_after }
    }

    /// The state; a panic elsewhere while holding the lock leaves it usable (plain counters).
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the connection closes soon (the close-after-response fault).
    fn closing(&self) -> bool {
        self.state().close_at.is_some()
    }

    fn bytes_read(&self) {
        let mut s = self.state();
        if s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(Instant::now());
            drop(s);
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut s = self.state();
        s.in_flight += 1;
        s.head_since = None;
        drop(s);
        self.changed.notify_one();
        InFlight(Arc::clone(self))
    }

    fn request_finished(&self) {
        let mut s = self.state();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.idle_since = Instant::now();
        }
        if let Some(d) = self.close_after
            && s.close_at.is_none()
        {
            s.close_at = Instant::now().checked_add(d);
        }
        drop(s);
        self.changed.notify_one();
    }

    /// When the connection is to be closed if nothing changes; `None`: not while nothing does.
    fn deadline(&self, limits: Limits) -> Option<Instant> {
        let s = self.state();
        if s.close_at.is_some() {
            return s.close_at;
        }
        if s.in_flight > 0 {
            return None;
        }
        match s.head_since {
            Some(since) => limits.header_read.and_then(|d| since.checked_add(d)),
            None => limits.idle.and_then(|d| s.idle_since.checked_add(d)),
        }
    }

    /// Completes once a limit has expired; never when there is none.
    async fn expired(&self, limits: Limits) {
        if limits.header_read.is_none()
            && limits.idle.is_none()
            && limits.close_after_response.is_none()
        {
            return std::future::pending().await;
        }
        loop {
            // Created before the state is read: a change in between leaves a permit, not a miss.
            let changed = self.changed.notified();
            match self.deadline(limits) {
                None => changed.await,
                Some(at) if at <= Instant::now() => return,
                Some(at) => tokio::select! {
                    () = changed => {}
                    () = tokio::time::sleep_until(at.into()) => {}
                },
            }
        }
    }
}

/// A request in flight, from its head to the drop of its response body.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that keeps its request in flight until hyper drops it (sent, or abandoned
/// when the client went away).
pub struct Tracked {
    body: MockBody,
    _in_flight: InFlight,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The client's socket, telling [`Activity`] when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
