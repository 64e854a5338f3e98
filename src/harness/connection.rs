//! A buyer's own HTTP/1.1 connection: opened before the release, kept alive for every attempt
//! of that buyer, nothing pooled or shared.
//!
//! A burst uses **last-byte synchronisation** (the "single-packet" technique of race-condition
//! testing): before the release each buyer writes its whole order request but the final byte,
//! so the server has read and routed it; at the release only one byte per buyer remains to be
//! sent. The buyer hands that byte to the [`super::StartGate`] as a [`LastByte`], and the
//! gate writes all of them in one tight loop at the release, so that the requests complete
//! at the server within a far narrower window than whole requests from woken tasks could.
//! Responses are parsed with `httparse`.

use bytes::{Buf, Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Largest response head or body accepted.
const MAX_RESPONSE: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection before answering")]
    Closed,
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("no request was prepared on this connection")]
    NotPrepared,
}

impl ConnError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, ConnError::Timeout(_))
    }
}

/// An answer: status and the whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// The final byte of a prepared request, for the gate to write at the release.
#[derive(Debug)]
pub struct LastByte {
    stream: Arc<TcpStream>,
    byte: u8,
    written_at: Arc<OnceLock<Instant>>,
}

impl LastByte {
    /// Writes the byte now, without waiting; false when the socket would block or failed
    /// (the buyer then writes it itself).
    pub fn write_now(&self) -> bool {
        let at = Instant::now();
        if matches!(self.stream.try_write(&[self.byte]), Ok(1)) {
            let _ = self.written_at.set(at);
            true
        } else {
            false
        }
    }
}

struct Pending {
    byte: u8,
    written_at: Arc<OnceLock<Instant>>,
}

/// One open connection to one server instance.
pub struct BuyerConn {
    addr: SocketAddr,
    stream: Option<Arc<TcpStream>>,
    buf: BytesMut,
    /// The final byte of a prepared request, still to be written (by the gate or by us).
    pending: Option<Pending>,
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The bytes of one request.
pub fn request_bytes(method: &str, path: &str, host: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
    if !body.is_empty() {
        out.extend_from_slice(
            format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()).as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

impl BuyerConn {
    pub fn new(addr: SocketAddr) -> Self {
        BuyerConn { addr, stream: None, buf: BytesMut::with_capacity(512), pending: None }
    }

    async fn stream(&mut self, timeout: Duration) -> Result<Arc<TcpStream>, ConnError> {
        if self.stream.is_none() {
            let addr = self.addr;
            let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
                .await
                .map_err(|_| ConnError::Timeout(timeout))?
                .map_err(|source| ConnError::Connect { addr, source })?;
            let _ = stream.set_nodelay(true);
            self.buf.clear();
            self.stream = Some(Arc::new(stream));
        }
        self.stream.clone().ok_or(ConnError::Closed)
    }

    fn drop_connection(&mut self) {
        self.stream = None;
        self.pending = None;
        self.buf.clear();
    }

    /// Sends a whole request and reads the answer within `timeout`, connecting if needed.
    /// After a failure the connection is dropped; the next request opens a new one.
    pub async fn send(&mut self, request: &[u8], timeout: Duration) -> Result<Answer, ConnError> {
        let result = tokio::time::timeout(timeout, async {
            let stream = self.stream(timeout).await?;
            write_all(&stream, request).await?;
            self.read_answer().await
        })
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)));
        if result.is_err() {
            self.drop_connection();
        }
        result
    }

    /// Writes `request` but its final byte, so that [`BuyerConn::complete`] sends one byte.
    pub async fn prepare(&mut self, request: &[u8], timeout: Duration) -> Result<(), ConnError> {
        let Some((&last, head)) = request.split_last() else { return Err(ConnError::NotPrepared) };
        let result = tokio::time::timeout(timeout, async {
            let stream = self.stream(timeout).await?;
            write_all(&stream, head).await?;
            Ok(())
        })
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)));
        match result {
            Ok(()) => {
                self.pending = Some(Pending { byte: last, written_at: Arc::new(OnceLock::new()) });
                Ok(())
            }
            Err(e) => {
                self.drop_connection();
                Err(e)
            }
        }
    }

    pub fn is_prepared(&self) -> bool {
        self.pending.is_some() && self.stream.is_some()
    }

    /// The prepared request's final byte, for the gate to write at the release.
    pub fn last_byte(&self) -> Option<LastByte> {
        let (stream, pending) = (self.stream.as_ref()?, self.pending.as_ref()?);
        Some(LastByte { stream: stream.clone(), byte: pending.byte, written_at: pending.written_at.clone() })
    }

    /// Completes the prepared request: its final byte was written by the gate, or is written
    /// now. Returns when the request was sent in full, and the answer, read within `timeout`.
    pub async fn complete(&mut self, timeout: Duration) -> (Instant, Result<Answer, ConnError>) {
        let Some(pending) = self.pending.take() else { return (Instant::now(), Err(ConnError::NotPrepared)) };
        let mut sent = pending.written_at.get().copied();
        let result = tokio::time::timeout(timeout, async {
            let stream = self.stream.clone().ok_or(ConnError::NotPrepared)?;
            if sent.is_none() {
                sent = Some(Instant::now());
                write_all(&stream, &[pending.byte]).await?;
            }
            self.read_answer().await
        })
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)));
        if result.is_err() {
            self.drop_connection();
        }
        (sent.unwrap_or_else(Instant::now), result)
    }

    async fn fill(&mut self) -> Result<(), ConnError> {
        let stream = self.stream.clone().ok_or(ConnError::Closed)?;
        if self.buf.len() >= MAX_RESPONSE {
            return Err(ConnError::Malformed(format!("response larger than {MAX_RESPONSE} bytes")));
        }
        self.buf.reserve(1024);
        loop {
            stream.readable().await?;
            match stream.try_read_buf(&mut self.buf) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn read_answer(&mut self) -> Result<Answer, ConnError> {
        let (status, head_len, length, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    let mut length = None;
                    let mut close = false;
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let text = std::str::from_utf8(h.value).unwrap_or("");
                            length = Some(
                                text.trim()
                                    .parse::<usize>()
                                    .map_err(|_| ConnError::Malformed(format!("content-length {text:?}")))?,
                            );
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            return Err(ConnError::Malformed(
                                "chunked responses are not supported; answer with content-length".into(),
                            ));
                        } else if h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close") {
                            close = true;
                        }
                    }
                    break (status, n, length, close);
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => return Err(ConnError::Malformed(e.to_string())),
            }
        };
        self.buf.advance(head_len);
        let body = match length {
            Some(len) => {
                if len > MAX_RESPONSE {
                    return Err(ConnError::Malformed(format!("body of {len} bytes")));
                }
                while self.buf.len() < len {
                    self.fill().await?;
                }
                self.buf.split_to(len).freeze()
            }
            None if matches!(status, 204 | 304) || (100..200).contains(&status) => Bytes::new(),
            None => {
                // Delimited by the end of the connection.
                loop {
                    match self.fill().await {
                        Ok(()) => {}
                        Err(ConnError::Closed) => break,
                        Err(e) => return Err(e),
                    }
                }
                self.stream = None;
                self.buf.split().freeze()
            }
        };
        if close {
            self.stream = None;
            self.buf.clear();
        }
        Ok(Answer { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers each request with the given raw responses, in order, and
    /// records whether the final byte of a request arrived separately.
    async fn serve(responses: Vec<&'static str>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.expect("accept");
            let mut reader = tokio::io::BufReader::new(sock);
            for r in responses {
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).await.expect("line");
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().expect("len");
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).await.expect("body");
                reader.get_mut().write_all(r.as_bytes()).await.expect("write");
            }
        });
        addr
    }

    #[tokio::test]
    async fn prepared_request_completes_with_its_last_byte_and_keeps_alive() {
        let addr = serve(vec![
            "HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
            "HTTP/1.1 409 Conflict\r\ncontent-length: 5\r\n\r\nsorry",
        ])
        .await;
        let mut conn = BuyerConn::new(addr);
        let req = request_bytes("POST", "/orders", "h", b"{\"a\":1}");
        conn.prepare(&req, Duration::from_secs(5)).await.expect("prepare");
        assert!(conn.is_prepared());
        let last = conn.last_byte().expect("prepared");
        assert!(last.write_now(), "one byte fits an empty socket buffer");
        let (_, a) = conn.complete(Duration::from_secs(5)).await;
        let a = a.expect("complete");
        assert_eq!((a.status, &a.body[..]), (201, &b"{}"[..]));
        let b = conn.send(&req, Duration::from_secs(5)).await.expect("second on the same connection");
        assert_eq!((b.status, &b.body[..]), (409, &b"sorry"[..]));
    }

    #[tokio::test]
    async fn refuses_chunked_and_reports_closed_connections() {
        let addr = serve(vec!["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"]).await;
        let mut conn = BuyerConn::new(addr);
        let err = conn.send(&request_bytes("GET", "/", "h", b""), Duration::from_secs(5)).await;
        assert!(matches!(err, Err(ConnError::Malformed(_))), "{err:?}");
        let closed = serve(vec![]).await;
        let mut conn = BuyerConn::new(closed);
        let err = conn.send(&request_bytes("GET", "/", "h", b""), Duration::from_secs(5)).await;
        assert!(matches!(err, Err(ConnError::Closed) | Err(ConnError::Io(_))), "{err:?}");
    }
}
