//! A connection's first request head, read by the relay itself before
//! hyper sees the connection.
//!
//! Two reasons. The head says what the connection is (a client's websocket
//! upgrade or a webhook), which decides the budget it counts against (see
//! `budget`). And the relay answers a head that is too slow, too long or
//! too large with its usual JSON error, where hyper would answer a bare
//! status (or nothing: hyper closes a connection whose head timed out).
//! The bytes read are handed to hyper unchanged ([`Prefixed`]), so hyper
//! parses the request as if it had read it; later requests on a kept-alive
//! connection are hyper's to bound (see the README's limits).

use crate::budget::Class;
use bytes::{Buf, Bytes};
use hookhole_shared::protocol::CONNECT_PATH;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Longest request target (path and query) accepted (`414` beyond).
pub const MAX_URI: usize = 8 * 1024;

/// Why a first head was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Not complete by the deadline.
    Timeout,
    /// The request target is longer than [`MAX_URI`].
    UriTooLong,
    /// The head is larger than the header limits allow.
    TooLarge,
    /// The peer closed (or broke) the connection before a whole head.
    Closed,
}

/// The most bytes a head within the limits can take: the request line and
/// `fields` header lines of `bytes` names and values in all.
fn max_head(fields: usize, bytes: usize) -> usize {
    MAX_URI + 64 + bytes + fields * 4 + 2
}

/// Reads until the first head is complete; returns what was read (the head
/// and any body bytes after it) and the class the head asks for. A head
/// the relay does not parse (an HTTP/2 preface, or malformed) is classed a
/// webhook: hyper then answers it, or serves HTTP/2.
pub async fn read<S: AsyncRead + Unpin>(
    io: &mut S,
    deadline: Instant,
    fields: usize,
    bytes: usize,
) -> (Vec<u8>, Result<Class, HeadError>) {
    let limit = max_head(fields, bytes);
    let mut buf = Vec::with_capacity(4096);
    let reading = async {
        let mut chunk = [0u8; 4096];
        loop {
            let searched = buf.len().saturating_sub(3);
            let n = match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(HeadError::Closed),
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find_end(&buf[searched..]) {
                return classify(&buf[..searched + end], fields);
            }
            if buf.len() > limit {
                let line_done = buf.windows(2).any(|w| w == b"\r\n");
                return Err(if line_done {
                    HeadError::TooLarge
                } else {
                    HeadError::UriTooLong
                });
            }
        }
    };
    let result = match tokio::time::timeout_at(deadline, reading).await {
        Ok(result) => result,
        Err(_) => Err(HeadError::Timeout),
    };
    (buf, result)
}

/// The end of the head (past its blank line) in `bytes`, if there.
fn find_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

fn classify(head: &[u8], fields: usize) -> Result<Class, HeadError> {
    let mut headers = vec![httparse::EMPTY_HEADER; fields];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        // An HTTP/2 preface or a malformed head: hyper's to answer.
        _ => return Ok(Class::Webhook),
    }
    let target = request.path.unwrap_or_default();
    if target.len() > MAX_URI {
        return Err(HeadError::UriTooLong);
    }
    let path = target.split('?').next().unwrap_or_default();
    let upgrade = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("upgrade") && h.value.eq_ignore_ascii_case(b"websocket")
    });
    Ok(
        if request.method == Some("GET") && path == CONNECT_PATH && upgrade {
            Class::Client
        } else {
            Class::Webhook
        },
    )
}

/// A connection whose first bytes were already read: they are read again
/// first, then the connection itself.
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed {
            prefix: Bytes::from(prefix),
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
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
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    async fn head_of(bytes: &[u8]) -> (Vec<u8>, Result<Class, HeadError>) {
        let (mut tx, mut rx) = tokio::io::duplex(1 << 20);
        tx.write_all(bytes).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        read(&mut rx, deadline, 10, 1024).await
    }

    #[tokio::test]
    async fn upgrades_to_the_connect_path_are_clients_and_the_rest_webhooks() {
        let upgrade = b"GET /_hookhole/connect HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\r\n";
        assert_eq!(head_of(upgrade).await.1, Ok(Class::Client));
        let post = b"POST /_hookhole/connect HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(head_of(post).await.1, Ok(Class::Webhook));
        let webhook = b"POST /dev/x HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}";
        let (bytes, class) = head_of(webhook).await;
        assert_eq!(class, Ok(Class::Webhook));
        assert_eq!(bytes, webhook, "the body bytes read are handed on too");
        let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        assert_eq!(head_of(h2).await.1, Ok(Class::Webhook));
    }

    #[tokio::test]
    async fn long_targets_large_heads_and_closed_connections_are_refused() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI));
        assert_eq!(head_of(long.as_bytes()).await.1, Err(HeadError::UriTooLong));
        let endless = format!("GET /{}", "a".repeat(3 * MAX_URI));
        assert_eq!(
            head_of(endless.as_bytes()).await.1,
            Err(HeadError::UriTooLong)
        );
        let many: String = (0..11).map(|i| format!("x-{i}: v\r\n")).collect();
        let many = format!("POST /c HTTP/1.1\r\n{many}\r\n");
        assert_eq!(head_of(many.as_bytes()).await.1, Err(HeadError::TooLarge));
        let big = format!("POST /c HTTP/1.1\r\nx: {}\r\n", "v".repeat(MAX_URI + 2048));
        assert_eq!(head_of(big.as_bytes()).await.1, Err(HeadError::TooLarge));
        let (tx, mut rx) = tokio::io::duplex(64);
        drop(tx);
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(
            read(&mut rx, deadline, 10, 1024).await.1,
            Err(HeadError::Closed)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_never_completes_times_out() {
        let (mut tx, mut rx) = tokio::io::duplex(64);
        tx.write_all(b"POST /c HTTP/1.1\r\nx: ").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (bytes, result) = read(&mut rx, deadline, 10, 1024).await;
        assert_eq!(result, Err(HeadError::Timeout));
        assert_eq!(bytes, b"POST /c HTTP/1.1\r\nx: ");
        assert_eq!(Instant::now(), deadline);
    }

    #[tokio::test]
    async fn the_prefix_is_read_again_before_the_connection() {
        let (mut tx, rx) = tokio::io::duplex(64);
        tx.write_all(b" world").await.unwrap();
        drop(tx);
        let mut io = Prefixed::new(b"hello".to_vec(), rx);
        let mut all = String::new();
        io.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }
}
