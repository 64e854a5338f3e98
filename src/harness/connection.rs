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

use super::tls::{RawTcp, TlsSettings};
use bytes::{Buf, Bytes, BytesMut};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    #[error("TLS with {addr}: {source}")]
    Tls {
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
    /// The request was never written in full, so the server cannot have acted on it.
    #[error("not sent: {0}")]
    Unsent(Box<ConnError>),
}

impl ConnError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, ConnError::Timeout(_))
    }

    /// Did this failure happen before the whole request was written?
    pub fn is_unsent(&self) -> bool {
        matches!(self, ConnError::Unsent(_))
    }

    fn unsent(self) -> ConnError {
        match self {
            ConnError::Unsent(_) => self,
            other => ConnError::Unsent(Box::new(other)),
        }
    }
}

/// An answer: status and the whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    /// `name=value` of each `Set-Cookie` header (attributes dropped).
    pub cookies: Vec<String>,
}

/// The final byte of a prepared request, for the gate to write at the release: the byte
/// itself, or over TLS the one record that carries it, encrypted in advance.
#[derive(Debug)]
pub struct LastByte {
    raw: Arc<TcpStream>,
    prepared: Arc<Prepared>,
}

impl LastByte {
    /// Writes the last bytes now, without waiting; false when the socket would block or
    /// failed before all were written (the buyer then writes the rest itself). A last byte
    /// its buyer withdrew (the server answered before it) is left unwritten: true.
    pub fn write_now(&self) -> bool {
        let p = &self.prepared;
        if !p.claim_for_sending() {
            return true;
        }
        let at = Instant::now();
        let from = p.written.load(Ordering::Acquire);
        match self.raw.try_write(&p.bytes[from..]) {
            Ok(n) => {
                p.written.fetch_add(n, Ordering::AcqRel);
                if from + n == p.bytes.len() {
                    let _ = p.written_at.set(at);
                    // Its buyer starts reading now, not when the whole gate is done.
                    p.wake.notify_one();
                    return true;
                }
                false
            }
            Err(_) => false,
        }
    }
}

/// The last bytes of a prepared request and who may still write them: the gate and the
/// buyer's own connection share it, and exactly one of "send" and "withdraw" wins.
#[derive(Debug)]
struct Prepared {
    bytes: Vec<u8>,
    written: AtomicUsize,
    written_at: OnceLock<Instant>,
    wake: tokio::sync::Notify,
    claim: AtomicU8,
}

/// Nobody has touched the last bytes yet.
const ARMED: u8 = 0;
/// Their writing has begun: the request may reach the server, whatever arrives is its answer.
const SENDING: u8 = 1;
/// The buyer took them back before any was written: the request can never complete.
const WITHDRAWN: u8 = 2;

impl Prepared {
    fn new(bytes: Vec<u8>) -> Self {
        Prepared {
            bytes,
            written: AtomicUsize::new(0),
            written_at: OnceLock::new(),
            wake: tokio::sync::Notify::new(),
            claim: AtomicU8::new(ARMED),
        }
    }

    /// May the last bytes be written (they are not withdrawn)? Once true, never withdrawn.
    fn claim_for_sending(&self) -> bool {
        match self.claim.compare_exchange(ARMED, SENDING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(now) => now == SENDING,
        }
    }

    /// Takes the last bytes back unless their writing has begun; true when withdrawn.
    fn withdraw(&self) -> bool {
        match self.claim.compare_exchange(ARMED, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(now) => now == WITHDRAWN,
        }
    }
}

/// Resolves once the gate has written a prepared request's last byte.
pub struct LastByteWritten(Arc<Prepared>);

impl LastByteWritten {
    pub async fn wait(&self) {
        self.0.wake.notified().await
    }
}

/// What a prepared connection heard while it waited for the release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEvent {
    /// The server closed it (a keep-alive timeout).
    Closed,
    /// Application bytes arrived: the answer, or before the last byte an early one.
    Data,
}

/// A raw socket read without waiting, for rustls to take TLS records from.
struct TryRead<'a>(&'a TcpStream);

impl std::io::Read for TryRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// The transport of a connection: plain TCP, or TLS over it. The raw socket is shared, so the
/// gate can write a prepared request's last bytes (or last TLS record) itself.
enum Wire {
    Plain(Arc<TcpStream>),
    Tls { raw: Arc<TcpStream>, tls: Box<tokio_rustls::client::TlsStream<RawTcp>> },
}

impl Wire {
    fn raw(&self) -> &Arc<TcpStream> {
        match self {
            Wire::Plain(raw) | Wire::Tls { raw, .. } => raw,
        }
    }

    /// Has the server closed this idle connection? Asked without blocking, before a request is
    /// written on a kept-alive connection. Over plain HTTP, bytes waiting unasked (a `408`
    /// sent before closing) mean the same; over TLS they may be session tickets the client
    /// has not read yet, so only a close with nothing waiting counts.
    fn closed_by_peer(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut byte = 0u8;
        // SAFETY: recv(2) with MSG_PEEK | MSG_DONTWAIT on a socket this connection owns, into
        // one byte of ours: it neither blocks nor consumes anything.
        let n = unsafe {
            libc::recv(self.raw().as_raw_fd(), (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        };
        match n {
            0 => true,
            n if n > 0 => matches!(self, Wire::Plain(_)),
            _ => std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock,
        }
    }

    /// Waits until the server says something on this idle connection. Over TLS the records
    /// that carry no data (session tickets, sent after the handshake) are taken in and waited
    /// past, and the data that did arrive stays in the session for the answer's read.
    async fn idle_event(&mut self) -> IdleEvent {
        match self {
            Wire::Plain(raw) => {
                let mut byte = [0u8; 1];
                match raw.peek(&mut byte).await {
                    Ok(n) if n > 0 => IdleEvent::Data,
                    _ => IdleEvent::Closed,
                }
            }
            Wire::Tls { raw, tls } => loop {
                if raw.readable().await.is_err() {
                    return IdleEvent::Closed;
                }
                let (_, session) = tls.get_mut();
                match session.read_tls(&mut TryRead(raw)) {
                    Ok(0) => return IdleEvent::Closed,
                    Ok(_) => match session.process_new_packets() {
                        Ok(state) if state.plaintext_bytes_to_read() > 0 => return IdleEvent::Data,
                        Ok(state) if state.peer_has_closed() => return IdleEvent::Closed,
                        Ok(_) => {}
                        Err(_) => return IdleEvent::Closed,
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return IdleEvent::Closed,
                }
            },
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Wire::Plain(raw) => write_raw(raw, data).await,
            Wire::Tls { tls, .. } => {
                tls.write_all(data).await?;
                tls.flush().await
            }
        }
    }

    async fn read_buf(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Wire::Plain(raw) => loop {
                raw.readable().await?;
                match raw.try_read_buf(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            },
            Wire::Tls { tls, .. } => tls.read_buf(buf).await,
        }
    }

    /// The bytes that, written raw, deliver `last` as the request's final byte: the byte
    /// itself, or one TLS record holding it (sealed now, sent at the release).
    fn seal_last(&mut self, last: u8) -> std::io::Result<Vec<u8>> {
        match self {
            Wire::Plain(_) => Ok(vec![last]),
            Wire::Tls { tls, .. } => {
                let (_, session) = tls.get_mut();
                std::io::Write::write_all(&mut session.writer(), &[last])?;
                let mut record = Vec::new();
                while session.wants_write() {
                    session.write_tls(&mut record)?;
                }
                Ok(record)
            }
        }
    }
}

/// One open connection to one server instance.
pub struct BuyerConn {
    addr: SocketAddr,
    tls: Option<Arc<TlsSettings>>,
    stream: Option<Wire>,
    buf: BytesMut,
    /// The final bytes of a prepared request, still to be written (by the gate or by us).
    pending: Option<Arc<Prepared>>,
    /// Whether a TCP connection was ever opened (a buyer that never got one is not counted
    /// as having reached the target).
    ever_connected: bool,
    /// The local address its connections are bound to (`None`: the kernel's choice).
    source: Option<IpAddr>,
}

/// Opens a TCP connection to `addr`, from `source` when given (bound before the connect, so
/// the 4-tuple is unique across source addresses: each has its own ephemeral ports).
async fn open_tcp(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    match source {
        None => TcpStream::connect(addr).await,
        Some(ip) => {
            let socket = if ip.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
            defer_port_choice(&socket);
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await
        }
    }
}

/// `IP_BIND_ADDRESS_NO_PORT`: a socket bound to an address gets its port at `connect`, where
/// only the 4-tuple must be unique. Without it, `bind(ip:0)` reserves a port for every
/// destination and searches the whole range for one: at 100,000 buyers that search took two
/// minutes of kernel time. Where the option is missing (Linux < 4.2), binding still works.
fn defer_port_choice(socket: &tokio::net::TcpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, and a c_int option value with its true length.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

async fn write_raw(stream: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
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

/// How the body of a response is delimited.
enum Framing {
    Length(usize),
    Chunked,
    /// By the end of the connection.
    Eof,
    Empty,
}

impl BuyerConn {
    /// A connection to a plain-HTTP address.
    pub fn new(addr: SocketAddr) -> Self {
        BuyerConn {
            addr,
            tls: None,
            stream: None,
            buf: BytesMut::with_capacity(512),
            pending: None,
            ever_connected: false,
            source: None,
        }
    }

    /// Binds this buyer's connections to `source` (`None`: the kernel chooses).
    pub fn bound_to(mut self, source: Option<IpAddr>) -> Self {
        self.source = source;
        self
    }

    /// A connection to `endpoint`, over TLS when it says so.
    pub fn to(endpoint: &super::Endpoint) -> Self {
        BuyerConn { tls: endpoint.tls.clone(), ..BuyerConn::new(endpoint.addr) }
    }

    /// Has a TCP connection to the target ever been opened on this buyer's behalf?
    pub fn ever_connected(&self) -> bool {
        self.ever_connected
    }

    async fn connect(&mut self, timeout: Duration) -> Result<(), ConnError> {
        if let Some(wire) = &self.stream {
            // A kept-alive connection the server has closed while it was idle (its idle
            // timeout) would lose the request written on it: a new one is opened instead.
            if !wire.closed_by_peer() {
                return Ok(());
            }
            self.drop_connection();
        }
        let addr = self.addr;
        let stream = tokio::time::timeout(timeout, open_tcp(addr, self.source))
            .await
            .map_err(|_| ConnError::Timeout(timeout))?
            .map_err(|source| ConnError::Connect { addr, source })?;
        let _ = stream.set_nodelay(true);
        self.buf.clear();
        let raw = Arc::new(stream);
        self.stream = Some(match &self.tls {
            None => Wire::Plain(raw),
            Some(settings) => {
                let connector = tokio_rustls::TlsConnector::from(settings.config.clone());
                let tls = tokio::time::timeout(timeout, connector.connect(settings.name.clone(), RawTcp(raw.clone())))
                    .await
                    .map_err(|_| ConnError::Timeout(timeout))?
                    .map_err(|source| ConnError::Tls { addr, source })?;
                Wire::Tls { raw, tls: Box::new(tls) }
            }
        });
        // Usable only now: over TLS, once the handshake went through.
        self.ever_connected = true;
        Ok(())
    }

    /// Opens the connection (when none is open) without sending anything.
    pub async fn open(&mut self, timeout: Duration) -> Result<(), ConnError> {
        let result = self.connect(timeout).await;
        if result.is_err() {
            self.drop_connection();
        }
        result
    }

    fn drop_connection(&mut self) {
        self.stream = None;
        self.pending = None;
        self.buf.clear();
    }

    async fn write_all(&mut self, data: &[u8]) -> Result<(), ConnError> {
        let wire = self.stream.as_mut().ok_or(ConnError::Closed)?;
        Ok(wire.write_all(data).await?)
    }

    /// Sends a whole request and reads the answer within `timeout`, connecting if needed.
    /// A failure before the request was written in full is [`ConnError::Unsent`]. After a
    /// failure the connection is dropped; the next request opens a new one.
    pub async fn send(&mut self, request: &[u8], timeout: Duration) -> Result<Answer, ConnError> {
        let mut written = false;
        let result = tokio::time::timeout(timeout, async {
            self.connect(timeout).await.map_err(ConnError::unsent)?;
            self.write_all(request).await.map_err(ConnError::unsent)?;
            written = true;
            self.read_answer().await
        })
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)));
        let result = match result {
            Err(e) if !written => Err(e.unsent()),
            other => other,
        };
        if result.is_err() {
            self.drop_connection();
        }
        result
    }

    /// Writes `request` but its final byte, so that [`BuyerConn::complete`] sends one byte
    /// (over TLS, one record, sealed now).
    pub async fn prepare(&mut self, request: &[u8], timeout: Duration) -> Result<(), ConnError> {
        let Some((&last, head)) = request.split_last() else { return Err(ConnError::NotPrepared) };
        let result = tokio::time::timeout(timeout, async {
            self.connect(timeout).await?;
            self.write_all(head).await?;
            let wire = self.stream.as_mut().ok_or(ConnError::Closed)?;
            Ok(wire.seal_last(last)?)
        })
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)));
        match result {
            Ok(bytes) => {
                self.pending = Some(Arc::new(Prepared::new(bytes)));
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

    /// Waits until the server says something on this prepared, idle connection: it closed it,
    /// or application bytes arrived (over TLS, session tickets do not count). Whether those
    /// bytes answer the request depends on who wins [`BuyerConn::withdraw`]. Pending forever
    /// when there is no connection.
    pub async fn idle_event(&mut self) -> IdleEvent {
        match self.stream.as_mut() {
            Some(wire) => wire.idle_event().await,
            None => std::future::pending().await,
        }
    }

    /// Takes the prepared request's last byte back from the gate, unless its writing has
    /// begun: true when withdrawn (the request can never complete on this connection, and
    /// what arrived on it answers no order), false when what arrives is the answer.
    pub fn withdraw(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.withdraw())
    }

    /// Drops the connection (its server closed it) so the next request opens a new one.
    pub fn reset(&mut self) {
        self.drop_connection();
    }

    /// The prepared request's final byte, for the gate to write at the release.
    pub fn last_byte(&self) -> Option<LastByte> {
        let (wire, pending) = (self.stream.as_ref()?, self.pending.as_ref()?);
        Some(LastByte { raw: wire.raw().clone(), prepared: pending.clone() })
    }

    /// Resolves once the gate has written the prepared request's last byte.
    pub fn last_byte_written(&self) -> Option<LastByteWritten> {
        self.pending.clone().map(LastByteWritten)
    }

    /// Completes the prepared request: its final byte was written by the gate, or is written
    /// now. Returns when the request was sent in full, and the answer, read within `timeout`.
    pub async fn complete(&mut self, timeout: Duration) -> (Instant, Result<Answer, ConnError>) {
        let Some(pending) = self.pending.take() else {
            return (Instant::now(), Err(ConnError::NotPrepared.unsent()));
        };
        if !pending.claim_for_sending() {
            return (Instant::now(), Err(ConnError::NotPrepared.unsent()));
        }
        let mut sent = pending.written_at.get().copied();
        // The timeout runs from the last byte's write, not from this buyer's waking: a buyer
        // the gate wrote first would otherwise get the whole gate loop on top of its timeout.
        // (An answer already there is still read: the read is polled before the deadline.)
        let deadline = sent.map_or_else(|| Instant::now() + timeout, |at| at + timeout);
        let result = tokio::time::timeout_at(deadline.into(), async {
            let raw = self.stream.as_ref().map(|w| w.raw().clone()).ok_or(ConnError::NotPrepared)?;
            if sent.is_none() {
                let from = pending.written.load(Ordering::Acquire);
                write_raw(&raw, &pending.bytes[from..]).await?;
                sent = Some(Instant::now());
            }
            self.read_answer().await
        })
        .await
        .unwrap_or(Err(ConnError::Timeout(timeout)));
        let result = match result {
            Err(e) if sent.is_none() => Err(e.unsent()),
            other => other,
        };
        if result.is_err() {
            self.drop_connection();
        }
        (sent.unwrap_or_else(Instant::now), result)
    }

    /// Reads more bytes into the buffer; `Closed` at the end of the connection.
    async fn fill(&mut self) -> Result<(), ConnError> {
        if self.buf.len() >= MAX_RESPONSE {
            return Err(ConnError::Malformed(format!("response larger than {MAX_RESPONSE} bytes")));
        }
        self.buf.reserve(1024);
        let wire = self.stream.as_mut().ok_or(ConnError::Closed)?;
        match wire.read_buf(&mut self.buf).await {
            Ok(0) => Err(ConnError::Closed),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ConnError::Closed),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads one response: its head, then its body by content-length, chunks, or the end of
    /// the connection. A `connection: close` (or an HTTP/1.0 answer without keep-alive)
    /// drops the connection after the body.
    async fn read_answer(&mut self) -> Result<Answer, ConnError> {
        // Interim answers (100 Continue, 103 Early Hints) come before the real one: skip them.
        loop {
            let answer = self.read_one().await?;
            if !(100..200).contains(&answer.status) || answer.status == 101 {
                return Ok(answer);
            }
        }
    }

    async fn read_one(&mut self) -> Result<Answer, ConnError> {
        let (status, head_len, framing, close, cookies) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    let (framing, close) = framing_of(&resp, status)?;
                    let cookies = resp
                        .headers
                        .iter()
                        .filter(|h| h.name.eq_ignore_ascii_case("set-cookie"))
                        .filter_map(|h| std::str::from_utf8(h.value).ok())
                        .filter_map(|v| v.split(';').next())
                        .map(|pair| pair.trim().to_string())
                        .filter(|pair| pair.contains('='))
                        .collect();
                    break (status, n, framing, close, cookies);
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => return Err(ConnError::Malformed(e.to_string())),
            }
        };
        self.buf.advance(head_len);
        let body = match framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(len) => {
                while self.buf.len() < len {
                    self.fill().await?;
                }
                self.buf.split_to(len).freeze()
            }
            Framing::Chunked => self.read_chunks().await?,
            Framing::Eof => {
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
        Ok(Answer { status, body, cookies })
    }

    /// A chunked body (`Transfer-Encoding: chunked`), trailers skipped.
    async fn read_chunks(&mut self) -> Result<Bytes, ConnError> {
        let mut body = BytesMut::new();
        loop {
            let (line, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((n, size))) => break (n, size),
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(_) => return Err(ConnError::Malformed("bad chunk size line".into())),
                }
            };
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if size > MAX_RESPONSE.saturating_sub(body.len()) {
                return Err(ConnError::Malformed(format!("chunked body larger than {MAX_RESPONSE} bytes")));
            }
            self.buf.advance(line);
            if size == 0 {
                // Trailers, each ending in CRLF, then an empty line.
                loop {
                    let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") else {
                        self.fill().await?;
                        continue;
                    };
                    self.buf.advance(end + 2);
                    if end == 0 {
                        return Ok(body.freeze());
                    }
                }
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(ConnError::Malformed("chunk not followed by CRLF".into()));
            }
            self.buf.advance(size + 2);
        }
    }
}

/// How a response's body is delimited, and whether the connection closes after it.
fn framing_of(resp: &httparse::Response, status: u16) -> Result<(Framing, bool), ConnError> {
    let mut length = None;
    let mut chunked = false;
    let mut close = resp.version == Some(0);
    for h in resp.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = value.parse::<usize>().map_err(|_| ConnError::Malformed(format!("content-length {value:?}")))?;
            if n > MAX_RESPONSE {
                return Err(ConnError::Malformed(format!("body of {n} bytes")));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.to_ascii_lowercase().split(',').map(str::trim).any(|c| c == "chunked") {
                return Err(ConnError::Malformed(format!("transfer-encoding {value:?} is not supported")));
            }
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("connection") {
            let tokens = value.to_ascii_lowercase();
            if tokens.split(',').any(|t| t.trim() == "close") {
                close = true;
            } else if tokens.split(',').any(|t| t.trim() == "keep-alive") {
                close = false;
            }
        }
    }
    let framing = if matches!(status, 204 | 304) || (100..200).contains(&status) {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => Framing::Eof,
        }
    };
    Ok((framing, close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// What the fixture server does after reading one request.
    #[derive(Clone, Copy)]
    enum Reply {
        /// Writes these bytes and keeps the connection.
        Send(&'static str),
        /// Writes these bytes and closes the connection (an EOF-delimited body).
        SendAndClose(&'static str),
        /// Closes without answering.
        Close,
        /// Resets the connection (RST) without answering.
        Reset,
        /// Writes these bytes once the head is in, before reading the body, and closes.
        Early(&'static str),
    }

    /// A raw HTTP/1.1 server: connection `i` reads requests and follows `scripts[i]`.
    async fn serve(scripts: Vec<Vec<Reply>>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            for script in scripts {
                let (sock, _) = listener.accept().await.expect("accept");
                let mut reader = tokio::io::BufReader::new(sock);
                for reply in script {
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().expect("len");
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if let Reply::Early(r) = reply {
                        reader.get_mut().write_all(r.as_bytes()).await.expect("write");
                        break;
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).await.expect("body");
                    match reply {
                        Reply::Send(r) => reader.get_mut().write_all(r.as_bytes()).await.expect("write"),
                        Reply::SendAndClose(r) => {
                            reader.get_mut().write_all(r.as_bytes()).await.expect("write");
                            break;
                        }
                        Reply::Close | Reply::Early(_) => break,
                        Reply::Reset => {
                            // Linger 0 makes the close a reset; with 0 it never blocks.
                            #[allow(deprecated)]
                            let _ = reader.get_ref().set_linger(Some(Duration::ZERO));
                            break;
                        }
                    }
                }
            }
        });
        addr
    }

    const SECS: Duration = Duration::from_secs(5);

    fn get() -> Vec<u8> {
        request_bytes("GET", "/", "h", b"")
    }

    #[tokio::test]
    async fn a_request_after_the_server_closed_the_idle_connection_goes_out_on_a_new_one() {
        // The first connection answers once and is closed by the server (its idle timeout);
        // the second answers the next request.
        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let addr = serve(vec![vec![Reply::Send(ok)], vec![Reply::Send(ok)]]).await;
        let mut conn = BuyerConn::new(addr);
        assert_eq!(conn.send(&get(), SECS).await.expect("first").status, 200);
        let deadline = Instant::now() + SECS;
        while !conn.stream.as_ref().is_some_and(Wire::closed_by_peer) {
            assert!(Instant::now() < deadline, "the server's close never arrived");
            tokio::task::yield_now().await;
        }
        let second = conn.send(&get(), SECS).await.expect("sent on a new connection, not lost on the closed one");
        assert_eq!((second.status, &second.body[..]), (200, &b"ok"[..]));
    }

    #[tokio::test]
    async fn prepared_request_completes_with_its_last_byte_and_keeps_alive() {
        let addr = serve(vec![vec![
            Reply::Send("HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"),
            Reply::Send("HTTP/1.1 409 Conflict\r\ncontent-length: 5\r\n\r\nsorry"),
        ]])
        .await;
        let mut conn = BuyerConn::new(addr);
        let req = request_bytes("POST", "/orders", "h", b"{\"a\":1}");
        conn.prepare(&req, SECS).await.expect("prepare");
        assert!(conn.is_prepared());
        let last = conn.last_byte().expect("prepared");
        assert!(last.write_now(), "one byte fits an empty socket buffer");
        let (_, a) = conn.complete(SECS).await;
        let a = a.expect("complete");
        assert_eq!((a.status, &a.body[..]), (201, &b"{}"[..]));
        let b = conn.send(&req, SECS).await.expect("second on the same connection");
        assert_eq!((b.status, &b.body[..]), (409, &b"sorry"[..]));
    }

    #[tokio::test]
    async fn an_answer_before_the_last_byte_takes_it_back_from_the_gate() {
        let addr = serve(vec![vec![Reply::Early("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n")]]).await;
        let mut conn = BuyerConn::new(addr);
        conn.prepare(&request_bytes("POST", "/orders", "h", b"{}"), SECS).await.expect("prepare");
        let last = conn.last_byte().expect("prepared");
        assert_eq!(conn.idle_event().await, IdleEvent::Data);
        assert!(conn.withdraw(), "nothing was written yet: withdrawn");
        assert!(last.write_now(), "the gate is done with a withdrawn byte");
        assert_eq!(last.prepared.written.load(Ordering::Acquire), 0, "and never writes it");
        assert!(last.prepared.written_at.get().is_none());
    }

    #[tokio::test]
    async fn once_the_gate_has_written_the_last_byte_what_arrives_is_the_answer() {
        let addr = serve(vec![vec![Reply::Send("HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}")]]).await;
        let mut conn = BuyerConn::new(addr);
        conn.prepare(&request_bytes("POST", "/orders", "h", b"{}"), SECS).await.expect("prepare");
        assert!(conn.last_byte().expect("prepared").write_now());
        assert_eq!(conn.idle_event().await, IdleEvent::Data);
        assert!(!conn.withdraw(), "the gate won: the byte went");
        let (_, a) = conn.complete(SECS).await;
        assert_eq!(a.expect("the answer").status, 201);
    }

    #[tokio::test]
    async fn a_prepared_request_times_out_from_its_last_byte_not_from_the_buyer_waking() {
        // A listener that never accepts: the connection opens (the kernel's backlog), no answer.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut conn = BuyerConn::new(silent.local_addr().expect("addr"));
        conn.prepare(&get(), SECS).await.expect("prepare");
        assert!(conn.last_byte().expect("prepared").write_now());
        // The buyer wakes 200 ms after its byte went (a long gate loop stands in for it).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let woke = Instant::now();
        let (sent, a) = conn.complete(Duration::from_millis(300)).await;
        assert!(matches!(a, Err(ConnError::Timeout(_))), "{a:?}");
        assert!(woke.duration_since(sent) >= Duration::from_millis(200), "sent is the write's instant");
        assert!(
            woke.elapsed() < Duration::from_millis(280),
            "300 ms from the write, not from waking: {:?}",
            woke.elapsed()
        );
    }

    #[tokio::test]
    async fn reads_chunked_bodies_with_trailers() {
        let addr = serve(vec![vec![
            Reply::Send("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n"),
            Reply::Send("HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ]])
        .await;
        let mut conn = BuyerConn::new(addr);
        let a = conn.send(&get(), SECS).await.expect("chunked");
        assert_eq!((a.status, &a.body[..]), (200, &b"hello, world"[..]));
        let b = conn.send(&get(), SECS).await.expect("empty chunked, same connection");
        assert_eq!((b.status, b.body.len()), (400, 0));
    }

    #[tokio::test]
    async fn skips_interim_answers() {
        let addr = serve(vec![vec![Reply::Send(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}",
        )]])
        .await;
        let a = BuyerConn::new(addr).send(&get(), SECS).await.expect("answer");
        assert_eq!((a.status, &a.body[..]), (201, &b"{}"[..]));
    }

    #[tokio::test]
    async fn reads_eof_delimited_bodies_and_honours_connection_close() {
        let addr = serve(vec![
            vec![Reply::SendAndClose("HTTP/1.1 200 OK\r\n\r\n{\"stock\":3}")],
            vec![Reply::SendAndClose("HTTP/1.1 201 Created\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}")],
            vec![Reply::Send("HTTP/1.0 409 Conflict\r\ncontent-length: 0\r\n\r\n")],
            vec![Reply::Send("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")],
        ])
        .await;
        let mut conn = BuyerConn::new(addr);
        let a = conn.send(&get(), SECS).await.expect("eof-delimited");
        assert_eq!((a.status, &a.body[..]), (200, &b"{\"stock\":3}"[..]));
        let b = conn.send(&get(), SECS).await.expect("a new connection after the EOF");
        assert_eq!(b.status, 201);
        let c = conn.send(&get(), SECS).await.expect("a new connection after connection: close");
        assert_eq!(c.status, 409);
        let d = conn.send(&get(), SECS).await.expect("a new connection after an HTTP/1.0 answer");
        assert_eq!(d.status, 200);
    }

    #[tokio::test]
    async fn classifies_transport_failures_by_whether_the_request_left() {
        // Refused: nothing listens, so the request never left.
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let err = BuyerConn::new(port).send(&get(), SECS).await.expect_err("refused");
        assert!(err.is_unsent() && err.to_string().contains("refused"), "{err}");
        // Closed or reset after the request was read: it may have taken effect.
        for reply in [Reply::Close, Reply::Reset] {
            let addr = serve(vec![vec![reply]]).await;
            let err = BuyerConn::new(addr).send(&get(), SECS).await.expect_err("no answer");
            assert!(!err.is_unsent() && !err.is_timeout(), "{err}");
            assert!(matches!(err, ConnError::Closed | ConnError::Io(_)), "{err:?}");
        }
        // No answer in time after the request was written: a timeout, not "not sent".
        let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = silent.local_addr().expect("addr");
        let err = BuyerConn::new(addr).send(&get(), Duration::from_millis(50)).await.expect_err("silent");
        assert!(err.is_timeout() && !err.is_unsent(), "{err}");
        drop(silent);
        // An unsupported transfer-coding is a malformed answer.
        let addr = serve(vec![vec![Reply::Send("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n")]]).await;
        let err = BuyerConn::new(addr).send(&get(), SECS).await.expect_err("gzip");
        assert!(matches!(err, ConnError::Malformed(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_prepared_request_whose_last_byte_cannot_be_written_was_not_sent() {
        let addr = serve(vec![vec![Reply::Reset]]).await;
        let mut conn = BuyerConn::new(addr);
        conn.prepare(&request_bytes("POST", "/orders", "h", b"{}"), SECS).await.expect("prepare");
        // The fixture never sees a whole request; make the connection unusable instead.
        conn.stream = None;
        let (_, r) = conn.complete(SECS).await;
        assert!(r.is_err_and(|e| e.is_unsent()));
        assert!(conn.ever_connected());
    }
}
