//! The local server under test: a real HTTP/1.1 server on 127.0.0.1:0 that
//! records each request exactly as it arrived on the wire, and answers what
//! the test says. The wire-reading helpers serve the raw sender too.

use super::within;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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

pub type Handler =
    Arc<dyn Fn(Recorded) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// A real HTTP/1.1 server on 127.0.0.1:0 that records every request.
pub struct TestTarget {
    pub addr: SocketAddr,
    pub requests: mpsc::UnboundedReceiver<Recorded>,
    task: JoinHandle<()>,
}

/// The slow answer's sleep: longer than any early answer may take, shorter
/// than the relay's response timeout (10 s).
pub const SLOW: std::time::Duration = std::time::Duration::from_secs(10);

impl TestTarget {
    /// Answers 200 with the request body.
    pub async fn echo() -> Self {
        Self::start(|req| async move { Reply::ok(req.body) }).await
    }

    /// A local server answering `/slow` with `201 late` after [`SLOW`], and
    /// anything else with `200 fast` at once (answer modes).
    pub async fn slow_and_fast() -> Self {
        Self::start(|req| async move {
            if req.target.ends_with("/slow") {
                tokio::time::sleep(SLOW).await;
                Reply {
                    status: 201,
                    headers: vec![],
                    body: b"late".to_vec(),
                }
            } else {
                Reply::ok("fast")
            }
        })
        .await
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
pub(super) async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
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
pub(super) fn header_list(headers: &[httparse::Header<'_>]) -> (Vec<(String, Vec<u8>)>, usize) {
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

pub(super) async fn read_exact_body(
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
