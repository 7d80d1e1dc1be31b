//! The HTTP/1 serving loop that the exporter and the simulator share: accept connections,
//! hand each request to a handler, and on shutdown let requests in flight finish.

use std::future::Future;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long requests in flight get to finish after shutdown is asked for. Kept under the
/// 5 s that orchestrators usually allow between SIGTERM and SIGKILL.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);

/// A client that has not sent its request headers by then is dropped, so that idle or
/// slow connections cannot pile up.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub type Body = Full<Bytes>;

/// Serves `handler` on `listener` until `shutdown` is cancelled, then waits up to
/// [`DRAIN_TIMEOUT`] for open connections to finish their current request.
pub async fn serve<H, F, B>(listener: TcpListener, handler: H, shutdown: CancellationToken)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<B>>> + Send + 'static,
    B: Buf + Send + 'static,
{
    let graceful = GracefulShutdown::new();
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
        let handler = handler.clone();
        let service = service_fn(move |request| {
            let handler = handler.clone();
            async move {
                let response = handler(request).await;
                if response.extensions().get::<DropConnection>().is_some() {
                    // An error from the service makes hyper close the connection unanswered.
                    return Err(DropConnection);
                }
                Ok(response)
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// Marks a response that must not be sent: the connection is closed without an answer
/// instead, as when a peer resets it. The simulator uses it to play a lost connection.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped without an answer, on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// A response that closes the connection instead of being sent.
pub fn drop_connection() -> Response<Body> {
    let mut response = Response::new(Body::default());
    response.extensions_mut().insert(DropConnection);
    response
}

/// A response with a status, a content type and a body.
pub fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    response_of(status, content_type, body.into())
}

/// The same with any kind of buffer as the body, such as one in several parts.
pub fn response_of<B: Buf>(status: u16, content_type: &str, body: B) -> Response<Full<B>> {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(body))
        .expect("status and content type are valid")
}

/// A JSON response.
pub fn json(status: u16, value: &impl serde::Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("our own types serialize");
    response(status, "application/json", body)
}
