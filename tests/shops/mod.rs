//! Small flash-sale servers with APIs unlike the reference one, as public shops have them:
//! integer ids, `200` with a "Sold Out" body, chunked and plain-text answers, failed attempts
//! kept as order rows, a Redis counter as the only truth, idle connections closed after a
//! second, a pool that deadlocks, a read-then-write that oversells. Each runs on a raw HTTP/1.1
//! loop of its own (so it can misbehave exactly as needed) in a thread with its own runtime.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the shop read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the shop does with a request.
pub enum Reply {
    /// A complete answer: status, content type, body; sent with content-length.
    Send(u16, &'static str, String),
    /// The same, as a chunked body.
    Chunked(u16, &'static str, String),
    /// A complete answer with a `Set-Cookie` header.
    SendWith(u16, &'static str, String, String),
    /// Never answer (the connection stays open until the client leaves).
    Hang,
    /// Close the connection without answering (a process that crashed behind its socket).
    Close,
}

pub fn json(status: u16, body: serde_json::Value) -> Reply {
    Reply::Send(status, "application/json", body.to_string())
}

pub type Handler = Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// Asked when a request's head has arrived but its body has not (a request whose client holds
/// back its last byte): the bytes to answer at once before closing, as a server's own request
/// timeout answers `408`, or `None` to wait for the rest.
pub type EarlyAnswer = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Wraps an async closure as a handler.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    Arc::new(move |r| Box::pin(f(r)))
}

/// A running shop; it stops with the test process.
pub struct Shop {
    pub addr: SocketAddr,
}

impl Shop {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts a shop whose connections are closed after `idle` without a complete request;
    /// `make` builds its handler on the shop's own runtime (pools belong to it).
    pub fn start<F, Fut>(idle: Option<Duration>, make: F) -> Shop
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Handler>,
    {
        Shop::start_with(idle, None, None, make)
    }

    /// A shop that may answer a request before its body has arrived (see [`EarlyAnswer`]),
    /// over TLS when `tls`.
    pub fn start_answering_early<F, Fut>(tls: bool, early: EarlyAnswer, make: F) -> Shop
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Handler>,
    {
        Shop::start_with(None, tls.then(tls_acceptor), Some(early), make)
    }

    /// The same shop over TLS, with the self-signed certificate of `fixtures/tls`.
    pub fn start_tls<F, Fut>(make: F) -> Shop
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Handler>,
    {
        Shop::start_with(None, Some(tls_acceptor()), None, make)
    }

    fn start_with<F, Fut>(
        idle: Option<Duration>,
        tls: Option<tokio_rustls::TlsAcceptor>,
        early: Option<EarlyAnswer>,
        make: F,
    ) -> Shop
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Handler>,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
            rt.block_on(async move {
                let handle = make().await;
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send addr");
                while let Ok((sock, _)) = listener.accept().await {
                    let _ = sock.set_nodelay(true);
                    let (handle, early) = (handle.clone(), early.clone());
                    match tls.clone() {
                        None => {
                            tokio::spawn(connection(sock, idle, early, handle));
                        }
                        Some(acceptor) => {
                            tokio::spawn(async move {
                                if let Ok(stream) = acceptor.accept(sock).await {
                                    connection(stream, idle, early, handle).await;
                                }
                            });
                        }
                    }
                }
            });
        });
        Shop { addr: rx.recv().expect("the shop started") }
    }
}

/// The TLS side of a shop, with the self-signed certificate of `fixtures/tls`.
fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tls");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("cert.pem")).expect("cert").map(|c| c.expect("cert")).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut sock: S,
    idle: Option<Duration>,
    early: Option<EarlyAnswer>,
    handle: Handler,
) {
    let mut buf = Vec::new();
    loop {
        let read = read_request(&mut sock, &mut buf, early.as_ref());
        let request = match idle {
            Some(d) => match tokio::time::timeout(d, read).await {
                Ok(r) => r,
                Err(_) => return, // idle for too long: close, as keep-alive timeouts do
            },
            None => read.await,
        };
        let request = match request {
            Some(Incoming::Request(request)) => request,
            Some(Incoming::Early(answer)) => {
                let _ = sock.write_all(answer.as_bytes()).await;
                let _ = sock.flush().await;
                let _ = sock.shutdown().await;
                return;
            }
            None => return,
        };
        let bytes = match handle(request).await {
            Reply::Send(status, ctype, body) => {
                format!("HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n\r\n{body}", body.len())
            }
            Reply::SendWith(status, ctype, body, cookie) => format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\nset-cookie: {cookie}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            ),
            Reply::Chunked(status, ctype, body) => {
                let (a, b) = body.split_at(body.len() / 2);
                format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                    a.len(),
                    b.len()
                )
            }
            Reply::Hang => {
                let mut sink = [0u8; 256];
                while sock.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                return;
            }
            Reply::Close => return,
        };
        if sock.write_all(bytes.as_bytes()).await.is_err() || sock.flush().await.is_err() {
            return;
        }
    }
}

enum Incoming {
    Request(Request),
    /// What to answer before the request's body arrived.
    Early(String),
}

/// Reads one request (head, then a body by content-length), or answers early what `early`
/// says once the head is in; `None` at the end of the connection.
async fn read_request<S: AsyncRead + Unpin>(
    sock: &mut S,
    buf: &mut Vec<u8>,
    early: Option<&EarlyAnswer>,
) -> Option<Incoming> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut first = lines.next()?.split(' ');
            let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let len = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() < end + 4 + len {
                if let Some(answer) = early.and_then(|e| e()) {
                    return Some(Incoming::Early(answer));
                }
            }
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return Some(Incoming::Request(Request { method, path, body, headers }));
        }
        let mut chunk = [0u8; 4096];
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A shop's SQLite database at `file`, with the tables `schema` makes.
pub async fn sqlite(file: &std::path::Path, schema: &[&str]) -> sqlx::SqlitePool {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10));
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.expect("sqlite");
    for statement in schema {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(&pool).await.expect("schema");
    }
    pool
}
