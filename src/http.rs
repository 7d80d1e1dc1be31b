//! The HTTP/1 serving loop: accept connections, hand each request to a service, and on
//! shutdown let requests in flight finish.
//!
//! No client can take the server for itself: one client address may hold at most
//! [`Options::max_connections_per_client`] connections; at [`Options::max_connections`] a
//! new connection takes the place of the one idle the longest (asked to close gracefully,
//! so that a request in flight finishes), and is closed as soon as accepted when none is
//! idle; a client that stops reading its answer is
//! dropped after [`WRITE_TIMEOUT`] without progress, one that sends no request (or an
//! idle keep-alive connection) after [`HEADER_READ_TIMEOUT`]; each connection's buffers
//! are capped at [`MAX_BUFFER`], and its kernel send buffer at [`SEND_BUFFER`]. With a web
//! config file, connections speak TLS if it says so; the file is looked at again for each
//! new connection.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Buf;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::rt::{Read, Write};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use prometheus_client::metrics::counter::Counter;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;

use crate::web_config::WebConfig;

/// How long requests in flight get to finish after shutdown is asked for. Kept under the
/// 5 s that orchestrators usually allow between SIGTERM and SIGKILL.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);

/// A client that has not sent its request headers by then is dropped, so that idle or
/// slow connections cannot pile up. It also bounds the TLS handshake, and the time a
/// keep-alive connection may sit idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that takes nothing of its answer for this long is dropped. It counts from the
/// moment the socket's send buffer is full, not from the request: a slow link that keeps
/// reading gets the whole body, however large.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Each connection's read and write buffers stay under this (hyper's default is ~400 KiB):
/// request headers longer than that get 431. A scrape request is a few hundred bytes.
/// 16 KiB was tried first: under load (the hostile tests beside the 200-scraper test)
/// scrapers then saw connections closed before their answer, for a reason not yet found.
pub const MAX_BUFFER: usize = 64 * 1024;

/// The most bytes of a request's head (its request line and headers), as the README says:
/// past it the request gets 431. hyper's own limit ([`MAX_BUFFER`]) is on its read buffer,
/// which one read may take past the cap: a 100,000-byte header got through it.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The size of `request`'s head as sent, give or take the spaces around header values.
pub fn head_bytes<B>(request: &Request<B>) -> usize {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, str::len);
    let line = request.method().as_str().len() + target + 12;
    request.headers().iter().fold(line, |total, (name, value)| {
        total + name.as_str().len() + value.len() + 4
    })
}

/// The address a request came from, in each request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub std::net::IpAddr);

/// Each connection's kernel send buffer (which Linux doubles for its bookkeeping). Left to
/// itself, Linux lets a socket's send buffer grow to 4 MiB: 512 clients that never read
/// would hold 2 GiB of kernel memory, enough to put the whole host's TCP under memory
/// pressure and have it reset other connections. At 64 KiB they hold at most 64 MiB; a
/// scrape still moves 64 KiB per round trip, tens of MB/s on a LAN.
pub const SEND_BUFFER: usize = 64 * 1024;

/// How often, at most, refused connections are logged.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

type BoxError = Box<dyn StdError + Send + Sync>;

/// What the loop serves: a hyper service, cloned for each connection.
pub trait HttpService<B>:
    Service<
        Request<Incoming>,
        Response = Response<B>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S where
    S: Service<
            Request<Incoming>,
            Response = Response<B>,
            Error: Into<BoxError>,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// The body of its answers.
pub trait HttpBody: Body<Data: Send, Error: Into<BoxError>> + Send + 'static {}

impl<B> HttpBody for B where B: Body<Data: Send, Error: Into<BoxError>> + Send + 'static {}

/// How the loop serves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Connections past this many are closed at once, unless one is idle to make room.
    pub max_connections: usize,
    /// Connections from one client address past this many are closed at once.
    pub max_connections_per_client: usize,
    /// TLS (and, for the service, authentication) from a web config file.
    pub web: Option<Arc<WebConfig>>,
    /// Counts the connections refused for the cap.
    pub refused: Counter,
}

/// Serves `service` on `listener` until `shutdown` is cancelled, then waits up to
/// [`DRAIN_TIMEOUT`] for open connections to finish their current request.
///
/// A request the service answers with an error gets no answer: hyper closes its connection.
///
/// Past the cap, a connection is accepted and closed at once rather than left in the
/// kernel's queue: the client learns at once that it was turned away (and Prometheus
/// reports it), the queue never fills with connections that would be served late to
/// clients that gave up, and the file descriptor is held only for that instant.
pub async fn serve_with<S: HttpService<B>, B: HttpBody>(
    listener: TcpListener,
    service: S,
    options: Options,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let open = Arc::new(Mutex::new(Open::default()));
    let mut refusals = Refusals::new(
        options.max_connections,
        options.max_connections_per_client,
        options.refused.clone(),
    );
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer.ip()),
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Some((tracked, slot)) = Open::admit(
            &open,
            &slots,
            peer,
            options.max_connections_per_client,
            &shutdown,
        ) else {
            drop(stream);
            refusals.refused();
            continue;
        };
        tokio::spawn(connection(
            stream,
            slot,
            tracked,
            service.clone(),
            options.web.clone(),
            graceful.watcher(),
        ));
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// The connections open, by client address, and which are idle: what the caps and the
/// eviction of idle connections go by.
#[derive(Default)]
struct Open {
    by_client: HashMap<IpAddr, usize>,
    connections: HashMap<u64, Connection>,
    next_id: u64,
    /// Counts up at each connection and request: the lowest `idle_since` is the
    /// connection idle the longest.
    clock: u64,
}

struct Connection {
    /// When it last went idle (on the `clock`); `None` while a request is served, or once
    /// it was asked to close.
    idle_since: Option<u64>,
    close: CancellationToken,
}

/// A connection's place in [`Open`], given back when it closes.
struct Tracked {
    open: Arc<Mutex<Open>>,
    id: u64,
    client: IpAddr,
    close: CancellationToken,
}

/// What a connection waits for: its slot, held until it closes, or the one an idle
/// connection asked to close will free.
enum Slot {
    Held(OwnedSemaphorePermit),
    Awaited(Arc<Semaphore>),
}

impl Open {
    /// A place for a new connection from `client`: its slot if one is free; if not, the
    /// slot the connection idle the longest frees once asked to close. `None` when the
    /// client holds its share already, or no slot is free and no connection idle.
    fn admit(
        open: &Arc<Mutex<Open>>,
        slots: &Arc<Semaphore>,
        client: IpAddr,
        per_client: usize,
        shutdown: &CancellationToken,
    ) -> Option<(Tracked, Slot)> {
        let mut this = lock(open);
        if this.by_client.get(&client).copied().unwrap_or(0) >= per_client {
            return None;
        }
        let slot = match slots.clone().try_acquire_owned() {
            Ok(permit) => Slot::Held(permit),
            Err(_) => {
                let (_, oldest) = this
                    .connections
                    .iter_mut()
                    .filter_map(|(_, c)| c.idle_since.map(|since| (since, c)))
                    .min_by_key(|(since, _)| *since)?;
                oldest.idle_since = None;
                oldest.close.cancel();
                Slot::Awaited(slots.clone())
            }
        };
        this.next_id += 1;
        let id = this.next_id;
        let close = shutdown.child_token();
        // The newest connection is the last to make room for others.
        this.clock += 1;
        let since = this.clock;
        this.connections.insert(
            id,
            Connection {
                // A connection is idle until its first request.
                idle_since: Some(since),
                close: close.clone(),
            },
        );
        *this.by_client.entry(client).or_default() += 1;
        drop(this);
        Some((
            Tracked {
                open: open.clone(),
                id,
                client,
                close,
            },
            slot,
        ))
    }
}

impl Tracked {
    /// Marks the connection busy (a request came in) or idle (its answer is out).
    fn busy(&self, busy: bool) {
        let mut open = lock(&self.open);
        open.clock += 1;
        let clock = open.clock;
        if let Some(connection) = open.connections.get_mut(&self.id)
            && !connection.close.is_cancelled()
        {
            connection.idle_since = (!busy).then_some(clock);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        open.connections.remove(&self.id);
        if let Some(count) = open.by_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves one connection, in TLS if the web config asks for it, holding its slot until it
/// closes.
async fn connection<S: HttpService<B>, B: HttpBody>(
    stream: TcpStream,
    slot: Slot,
    tracked: Tracked,
    service: S,
    web: Option<Arc<WebConfig>>,
    // Held until the connection closes: the drain waits for it.
    _watcher: Watcher,
) {
    let _slot = match slot {
        Slot::Held(permit) => permit,
        // The idle connection asked to close frees its slot at once; a busy one may
        // have been picked by a race, so the wait is bounded.
        Slot::Awaited(slots) => {
            let acquire = slots.acquire_owned();
            match tokio::time::timeout(HEADER_READ_TIMEOUT, acquire).await {
                Ok(Ok(permit)) => permit,
                _ => return,
            }
        }
    };
    let tracked = Arc::new(tracked);
    if let Err(error) = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER) {
        tracing::debug!(%error, "cannot set the send buffer size");
    }
    // Below TLS, so that a stalled TLS write times out too.
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let stream = Box::pin(stream);
    let client = tracked.client;
    let service = with_client(service, client, tracked.clone());
    let tls = match &web {
        Some(web) => web.current().await.tls(),
        None => None,
    };
    let Some(tls) = tls else {
        return serve_connection(TokioIo::new(stream), service, &tracked.close).await;
    };
    // One deadline for the first byte and the handshake together: a silent client is
    // dropped after HEADER_READ_TIMEOUT, as on the plain port.
    let deadline = tokio::time::Instant::now() + HEADER_READ_TIMEOUT;
    match tokio::time::timeout_at(deadline, opens_with_plain_http(stream.get_ref())).await {
        Ok(true) => return refuse_plain_http(stream, deadline).await,
        Ok(false) => {}
        Err(_) => return tracing::debug!("no TLS handshake within {HEADER_READ_TIMEOUT:?}"),
    }
    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
    match tokio::time::timeout_at(deadline, accept).await {
        Ok(Ok(stream)) => serve_connection(TokioIo::new(stream), service, &tracked.close).await,
        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake not done within {HEADER_READ_TIMEOUT:?}"),
    }
}

/// What Go's net/http answers a plain HTTP request on a TLS port, in its words, before it
/// closes the connection: without it, a client gets the TLS alert as HTTP/0.9 garbage.
const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Whether a connection to the TLS port opens with a plain HTTP request rather than a TLS
/// handshake, told by its first byte: a handshake record starts with 22 (0x16), a request
/// with its method's first letter. Only peeked, so that TLS reads a handshake from its
/// first byte; anything else is left to TLS to refuse.
async fn opens_with_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0_u8; 1];
    // A peek waits until a byte has come (or the client has gone: 0 bytes).
    matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Answers a plain HTTP request on the TLS port with [`PLAIN_HTTP_ANSWER`], and closes the
/// connection once the client has, reading what it sent meanwhile (at most
/// [`MAX_HEAD_BYTES`], until `deadline`): closing with the request unread would reset the
/// connection, and the client might lose the answer.
async fn refuse_plain_http<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    deadline: tokio::time::Instant,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tracing::debug!("plain HTTP sent to the TLS port; answered 400");
    if stream.write_all(PLAIN_HTTP_ANSWER).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut buffer = [0_u8; 4096];
        let mut read = 0;
        while read < MAX_HEAD_BYTES {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, drain).await;
}

/// `service`, with each request told where it came from, and the connection marked busy
/// while it is served.
fn with_client<S: HttpService<B>, B: HttpBody>(
    service: S,
    client: IpAddr,
    tracked: Arc<Tracked>,
) -> impl HttpService<B> {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ClientAddr(client));
        tracked.busy(true);
        let answer = service.call(request);
        let tracked = tracked.clone();
        async move {
            let response = answer.await;
            tracked.busy(false);
            response
        }
    })
}

/// Serves `io` until it closes; when `close` is cancelled (shutdown, or room for a new
/// connection), the request in flight finishes and the connection closes.
async fn serve_connection<I, S: HttpService<B>, B: HttpBody>(
    io: I,
    service: S,
    close: &CancellationToken,
) where
    I: Read + Write + Unpin + Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_BUFFER)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = close.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Counts refused connections, and logs them at most once per [`REFUSAL_LOG_INTERVAL`],
/// so that a flood of connections does not flood the log too.
struct Refusals {
    max_connections: usize,
    max_connections_per_client: usize,
    counter: Counter,
    unlogged: u64,
    last_logged: Option<Instant>,
}

impl Refusals {
    fn new(max_connections: usize, max_connections_per_client: usize, counter: Counter) -> Self {
        Refusals {
            max_connections,
            max_connections_per_client,
            counter,
            unlogged: 0,
            last_logged: None,
        }
    }

    fn refused(&mut self) {
        self.counter.inc();
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last_logged
            .is_some_and(|last| now.saturating_duration_since(last) < REFUSAL_LOG_INTERVAL)
        {
            return;
        }
        tracing::warn!(
            refused = self.unlogged,
            max_connections = self.max_connections,
            max_connections_per_client = self.max_connections_per_client,
            "connection limit reached: closing new connections at once (none idle to make room, or the client holds max_connections_per_client; raise them if this is expected)"
        );
        self.unlogged = 0;
        self.last_logged = Some(now);
    }
}

/// A response with a status, a content type and a body of any kind of buffer, such as one
/// in several parts. The content type is a static string, so that answering copies and
/// checks nothing of it: `/metrics` answers many small bodies, and each one counts.
pub fn response_of<B: Buf>(status: u16, content_type: &'static str, body: B) -> Response<Full<B>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
