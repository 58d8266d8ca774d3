//! End-to-end harness: a real relay and a real client engine on `127.0.0.1:0`,
//! a real local HTTP server that records requests exactly as they arrived on
//! the wire, and a raw-socket sender. Every wait has a timeout; everything
//! shuts down on drop.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod process;
pub mod tmux;

use bytes::Bytes;
use hookhole::engine::{self, EngineConfig, EngineError};
use hookhole::events::Event;
use hookhole::forward::Forwarder;
use hookhole::target::Target;
use hookhole_relay::RelayConfig;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Upper bound for any single wait in a test: generous, since CI is noisy;
/// a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(30);

pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

// ---------------------------------------------------------------- relay

pub struct TestRelay {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestRelay {
    pub async fn start() -> Self {
        Self::start_with(RelayConfig::default()).await
    }

    pub async fn start_with(config: RelayConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, config)
    }

    pub fn on(listener: TcpListener, config: RelayConfig) -> Self {
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(hookhole_relay::serve(listener, config, shutdown.clone()));
        TestRelay {
            addr,
            shutdown,
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The relay's metrics text once it contains `needle` (a rejection is
    /// counted when its connection task ends, which may follow the answer).
    pub async fn metrics_with(&self, needle: &str) -> String {
        let url = format!("{}/_hookhole/metrics", self.url());
        within(&format!("{needle} in the metrics"), async {
            loop {
                let sent = send("GET", &url, &[], b"").await;
                let text = String::from_utf8_lossy(&sent.body).into_owned();
                if sent.status == 200 && text.contains(needle) {
                    return text;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
    }

    /// Cancels the relay and waits until it has drained and stopped.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            within("relay to stop", task).await.unwrap().unwrap();
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

// ---------------------------------------------------------------- client

pub struct TestClient {
    pub events: mpsc::Receiver<Event>,
    pub shutdown: CancellationToken,
    pub task: Option<JoinHandle<Result<(), EngineError>>>,
    pub public_url: String,
    pub channel: String,
    pub listeners: u32,
}

pub fn engine_config(relay_url: &str, channel: Option<&str>, target: &str) -> EngineConfig {
    let forwarder = Forwarder::new(
        Target::parse(target).unwrap(),
        Duration::from_secs(30),
        hookhole::forward::DEFAULT_MAX_RESPONSE,
    );
    let mut config = EngineConfig::new(relay_url.to_string(), forwarder);
    config.channel = channel.map(str::to_string);
    config
}

impl TestClient {
    pub async fn start(relay_url: &str, channel: Option<&str>, target: &str) -> Self {
        Self::start_with(engine_config(relay_url, channel, target)).await
    }

    /// Starts an engine and waits for its `ready` event.
    pub async fn start_with(config: EngineConfig) -> Self {
        let (tx, mut events) = mpsc::channel(4096);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(engine::run(config, tx, shutdown.clone()));
        let ready = within("the client's ready event", events.recv()).await;
        let Some(Event::Ready {
            public_url,
            channel,
            listeners,
            ..
        }) = ready
        else {
            panic!("expected ready, got {ready:?}");
        };
        TestClient {
            events,
            shutdown,
            task: Some(task),
            public_url,
            channel,
            listeners,
        }
    }

    pub async fn next_event(&mut self) -> Event {
        within("a client event", self.events.recv())
            .await
            .expect("the engine stopped")
    }

    /// Skips events until one matches.
    pub async fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Event {
        within(what, async {
            loop {
                match self.events.recv().await {
                    Some(e) if pred(&e) => return e,
                    Some(_) => continue,
                    None => panic!("the engine stopped while waiting for {what}"),
                }
            }
        })
        .await
    }

    pub async fn stop(mut self) -> Result<(), EngineError> {
        self.shutdown.cancel();
        let task = self.task.take().unwrap();
        within("the client to stop", task).await.unwrap()
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

// ---------------------------------------------------------------- local target

/// A request exactly as it arrived at the local server.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names as sent on the wire, values as raw bytes, in wire order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status: 200,
            headers: vec![],
            body: body.into(),
        }
    }
}

/// A websocket that speaks the protocol by hand.
pub type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A websocket to the relay at `relay`: `hello` (raw JSON) is sent first
/// when given; nothing is read.
pub async fn raw_peer(relay: SocketAddr, hello: Option<&str>) -> RawWs {
    use futures_util::SinkExt;
    let url = format!("ws://{relay}/_hookhole/connect");
    let (mut ws, _) = within(
        "a raw websocket",
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .unwrap();
    if let Some(hello) = hello {
        ws.send(tokio_tungstenite::tungstenite::Message::text(hello))
            .await
            .unwrap();
    }
    ws
}

/// The code of the close frame the relay ends `ws` with (other messages
/// before it are skipped).
pub async fn close_code(ws: &mut RawWs) -> u16 {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    within("a close frame", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
}

pub type Handler =
    Arc<dyn Fn(Recorded) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// A real HTTP/1.1 server on 127.0.0.1:0 that records every request.
pub struct TestTarget {
    pub addr: SocketAddr,
    pub requests: mpsc::UnboundedReceiver<Recorded>,
    task: JoinHandle<()>,
}

impl TestTarget {
    /// Answers 200 with the request body.
    pub async fn echo() -> Self {
        Self::start(|req| async move { Reply::ok(req.body) }).await
    }

    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Recorded) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), handler)
    }

    /// A target on an already bound listener (a port chosen earlier).
    pub fn on<F, Fut>(listener: TcpListener, handler: F) -> Self
    where
        F: Fn(Recorded) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |r| Box::pin(handler(r)));
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve_connection(stream, handler.clone(), tx.clone()));
            }
        });
        TestTarget {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn next_request(&mut self) -> Recorded {
        within("a request at the local server", self.requests.recv())
            .await
            .unwrap()
    }
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.x message head; returns it and any body bytes read past it.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(pos + 4);
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Headers in wire order, and the Content-Length (0 when absent).
fn header_list(headers: &[httparse::Header<'_>]) -> (Vec<(String, Vec<u8>)>, usize) {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    let len = list
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0);
    (list, len)
}

async fn read_exact_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    start: usize,
    len: usize,
) -> Option<Vec<u8>> {
    while buf.len() < start + len {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[start..start + len].to_vec();
    buf.drain(..start + len);
    Some(body)
}

async fn serve_connection(
    mut stream: TcpStream,
    handler: Handler,
    tx: mpsc::UnboundedSender<Recorded>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(head_len) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut headers);
        if !matches!(
            req.parse(&buf[..head_len]),
            Ok(httparse::Status::Complete(_))
        ) {
            return;
        }
        let method = req.method.unwrap_or_default().to_string();
        let target = req.path.unwrap_or_default().to_string();
        let (headers, len) = header_list(req.headers);
        let Some(body) = read_exact_body(&mut stream, &mut buf, head_len, len).await else {
            return;
        };
        let recorded = Recorded {
            method,
            target,
            headers,
            body,
        };
        let _ = tx.send(recorded.clone());
        let reply = handler(recorded).await;
        let mut out = format!("HTTP/1.1 {} X\r\n", reply.status).into_bytes();
        for (name, value) in &reply.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", reply.body.len()).as_bytes());
        out.extend_from_slice(&reply.body);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// A port with nothing listening on it (bound, then released).
pub async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

// ---------------------------------------------------------------- sender

#[derive(Debug, Clone)]
pub struct Sent {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

impl Sent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Writes `head` + `body` on a new connection and reads the response.
pub async fn raw_request(addr: SocketAddr, head: &str, body: &[u8]) -> Sent {
    let mut stream = within("a connection to the relay", TcpStream::connect(addr))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    response_on(&mut stream).await
}

/// Sends `method url` with extra header lines and a body.
pub async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Sent {
    let uri: http::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().as_str().to_string();
    let addr: SocketAddr = authority.parse().unwrap();
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    raw_request(addr, &head, body).await
}

pub async fn post(url: &str, body: &[u8]) -> Sent {
    send("POST", url, &[("content-type", "application/json")], body).await
}

/// Reads one response from a connection the test wrote a request to itself.
pub async fn response_on(stream: &mut TcpStream) -> Sent {
    within("the relay's response", async {
        let mut buf = Vec::new();
        let head_len = read_head(stream, &mut buf).await.expect("response head");
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut resp = httparse::Response::new(&mut headers);
        resp.parse(&buf[..head_len]).unwrap();
        let status = resp.code.unwrap();
        let (headers, len) = header_list(resp.headers);
        let body = read_exact_body(stream, &mut buf, head_len, len)
            .await
            .unwrap();
        Sent {
            status,
            headers,
            body: Bytes::from(body),
        }
    })
    .await
}

/// Runs an engine against `relay_url` and returns the reason it was
/// refused with `UNAUTHORIZED`.
pub async fn refusal(relay_url: &str, channel: Option<&str>, token: Option<&str>) -> String {
    let mut config = engine_config(relay_url, channel, "http://127.0.0.1:9");
    config.token = token.map(|t| hookhole_shared::protocol::Token(t.to_string()));
    let (tx, _events) = tokio::sync::mpsc::channel(16);
    let result = within(
        "the engine to be refused",
        hookhole::engine::run(config, tx, tokio_util::sync::CancellationToken::new()),
    )
    .await;
    match result {
        Err(EngineError::Refused { code, reason }) => {
            assert_eq!(
                code,
                hookhole_shared::protocol::close::UNAUTHORIZED,
                "{reason}"
            );
            reason
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
