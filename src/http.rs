//! The HTTP/1 serving loop: accept connections, hand each request to a service, and on
//! shutdown let requests in flight finish.
//!
//! No client can take the server for itself: connections past [`Options::max_connections`]
//! are closed as soon as they are accepted, a client that stops reading its answer is
//! dropped after [`WRITE_TIMEOUT`] without progress, one that sends no request (or an
//! idle keep-alive connection) after [`HEADER_READ_TIMEOUT`]; each connection's buffers
//! are capped at [`MAX_BUFFER`], and its kernel send buffer at [`SEND_BUFFER`]. With a web
//! config file, connections speak TLS if it says so; the file is looked at again for each
//! new connection.

use std::error::Error as StdError;
use std::sync::Arc;
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
    /// Connections past this many are closed at once.
    pub max_connections: usize,
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
    let mut refusals = Refusals::new(options.max_connections, options.refused.clone());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            refusals.refused();
            continue;
        };
        tokio::spawn(connection(
            stream,
            slot,
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

/// Serves one connection, in TLS if the web config asks for it, holding its slot until it
/// closes.
async fn connection<S: HttpService<B>, B: HttpBody>(
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    service: S,
    web: Option<Arc<WebConfig>>,
    watcher: Watcher,
) {
    if let Err(error) = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER) {
        tracing::debug!(%error, "cannot set the send buffer size");
    }
    // Below TLS, so that a stalled TLS write times out too.
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let stream = Box::pin(stream);
    let service = match stream.get_ref().peer_addr() {
        Ok(peer) => with_client(service, peer.ip()),
        Err(_) => with_client(service, std::net::Ipv4Addr::UNSPECIFIED.into()),
    };
    let tls = match &web {
        Some(web) => web.current().await.tls(),
        None => None,
    };
    let Some(tls) = tls else {
        return serve_connection(TokioIo::new(stream), service, watcher).await;
    };
    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
    match tokio::time::timeout(HEADER_READ_TIMEOUT, accept).await {
        Ok(Ok(stream)) => serve_connection(TokioIo::new(stream), service, watcher).await,
        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake not done within {HEADER_READ_TIMEOUT:?}"),
    }
}

/// `service`, with each request told where it came from.
fn with_client<S: HttpService<B>, B: HttpBody>(
    service: S,
    client: std::net::IpAddr,
) -> impl HttpService<B> {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ClientAddr(client));
        service.call(request)
    })
}

async fn serve_connection<I, S: HttpService<B>, B: HttpBody>(io: I, service: S, watcher: Watcher)
where
    I: Read + Write + Unpin + Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_BUFFER)
        .serve_connection(io, service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Counts refused connections, and logs them at most once per [`REFUSAL_LOG_INTERVAL`],
/// so that a flood of connections does not flood the log too.
struct Refusals {
    max_connections: usize,
    counter: Counter,
    unlogged: u64,
    last_logged: Option<Instant>,
}

impl Refusals {
    fn new(max_connections: usize, counter: Counter) -> Self {
        Refusals {
            max_connections,
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
            "connection limit reached: closing new connections at once (raise max_connections if this is expected)"
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
