//! A raw-socket sender: requests written byte for byte (so tests can send
//! what no HTTP client would), responses read and parsed.

use super::target::{header_list, read_exact_body, read_head};
use super::within;
use bytes::Bytes;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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
