//! HTTP/1.1 test server on 127.0.0.1 that replays canned routes and records each request.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use super::pki::{CertVariant, TestPki};
use super::route::{RecordedRequest, Route};

/// Test server that runs on its own thread and tokio runtime, so synchronous tests can use it.
///
/// Dropping it stops the server: the listener closes and open connections are cut.
pub struct ReplayServer {
    addr: SocketAddr,
    host: String,
    origin: String,
    state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Routes and logs shared between the server thread and the test.
struct ServerState {
    routes: Vec<Route>,
    requests: Mutex<Vec<RecordedRequest>>,
    handshake_errors: Mutex<Vec<String>>,
}

impl ReplayServer {
    /// Starts a plain HTTP server, where `host` only fills the `{{ORIGIN}}` placeholder.
    pub fn http(host: &str, routes: Vec<Route>) -> ReplayServer {
        ReplayServer::start(host, None, routes)
    }

    /// Starts an HTTPS server that presents a `variant` certificate for `host`.
    pub fn https(
        pki: &TestPki,
        host: &str,
        variant: CertVariant,
        routes: Vec<Route>,
    ) -> ReplayServer {
        let config = pki.server_config(&[host], variant);
        ReplayServer::start(host, Some(TlsAcceptor::from(config)), routes)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Origin that `{{ORIGIN}}` expands to, such as `https://auth.example:41234`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Returns the origin followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Formats a `--resolve` argument, `HOST=127.0.0.1:PORT`, that sends `host` to this server.
    pub fn resolve_arg(&self, host: &str) -> String {
        format!("{host}={}", self.addr)
    }

    /// Returns a copy of every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// Returns the errors of failed TLS handshakes, such as a client rejecting the certificate.
    pub fn handshake_errors(&self) -> Vec<String> {
        lock(&self.state.handshake_errors).clone()
    }

    /// Binds the port first, so the server accepts connections as soon as this returns.
    pub(crate) fn start(host: &str, tls: Option<TlsAcceptor>, routes: Vec<Route>) -> ReplayServer {
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("failed to bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("failed to make the listener non-blocking");
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");

        let scheme = if tls.is_some() { "https" } else { "http" };
        let origin = format_origin(scheme, host, addr.port());
        let routes = routes
            .into_iter()
            .map(|route| route.resolve(&origin, addr.port()))
            .collect();
        let state = Arc::new(ServerState {
            routes,
            requests: Mutex::new(Vec::new()),
            handshake_errors: Mutex::new(Vec::new()),
        });

        let (shutdown, shutdown_signal) = oneshot::channel();
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("replay-server-{}", addr.port()))
            .spawn(move || run(listener, tls, thread_state, shutdown_signal))
            .expect("failed to spawn the server thread");

        ReplayServer {
            addr,
            host: host.to_string(),
            origin,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // A send error means the server thread has already ended.
            let _ = shutdown.send(());
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Panicking inside drop would abort a test that is already unwinding.
        if thread.join().is_err() {
            eprintln!("replay server on {} panicked", self.addr);
        }
    }
}

/// Omits the port when it is the scheme's default, as browsers and URL parsers do.
fn format_origin(scheme: &str, host: &str, port: u16) -> String {
    let default_port = if scheme == "https" { 443 } else { 80 };
    if port == default_port {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

fn run(
    listener: StdTcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<ServerState>,
    shutdown: oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("failed to build the server runtime");
    runtime.block_on(accept_loop(listener, tls, state, shutdown));
    // Dropping the runtime here cancels the connection tasks, which closes their sockets.
}

async fn accept_loop(
    listener: StdTcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<ServerState>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("failed to register the listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                // Accept errors such as a reset before accept concern one connection only.
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve_connection(stream, tls.clone(), Arc::clone(&state)));
                }
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, tls: Option<TlsAcceptor>, state: Arc<ServerState>) {
    let Some(acceptor) = tls else {
        serve_http(stream, None, state).await;
        return;
    };
    match acceptor.accept(stream).await {
        Ok(tls_stream) => {
            let sni = tls_stream.get_ref().1.server_name().map(str::to_string);
            serve_http(tls_stream, sni, state).await;
        }
        Err(error) => lock(&state.handshake_errors).push(error.to_string()),
    }
}

async fn serve_http<S>(stream: S, sni: Option<String>, state: Arc<ServerState>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle(request, sni.clone(), Arc::clone(&state)));
    // Connection errors come from clients that close early, such as after a client timeout or
    // a size limit. Tests cause those on purpose, so they are not errors of the server.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Records the request, then responds from the first matching route or with 404.
async fn handle(
    request: Request<Incoming>,
    sni: Option<String>,
    state: Arc<ServerState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let recorded = record(request, sni).await;
    lock(&state.requests).push(recorded.clone());

    let Some(route) = state.routes.iter().find(|route| route.matches(&recorded)) else {
        return Ok(not_found(&recorded));
    };
    if !route.delay().is_zero() {
        tokio::time::sleep(route.delay()).await;
    }
    Ok(route.response())
}

async fn record(request: Request<Incoming>, sni: Option<String>) -> RecordedRequest {
    let (parts, body) = request.into_parts();
    // NOTE: a body that fails mid-read (the client aborted) is recorded as empty.
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();

    RecordedRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers,
        body,
        sni,
    }
}

fn not_found(request: &RecordedRequest) -> Response<Full<Bytes>> {
    let message = format!("no route matches {} {}\n", request.method, request.target());
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Locks a log, and keeps using it after a panic elsewhere because each push is complete.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
