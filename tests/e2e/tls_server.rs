//! A loopback https (or plain http) file server for registry tests, with its own CA (rcgen),
//! serving a directory; it counts requests and can answer 503 to the next N of them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A loopback https (or plain http) file server over a directory, with a fresh CA.
pub struct TestServer {
    pub port: u16,
    pub ca_pem: String,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
    /// Requests still to answer with 503 before serving files.
    pub fail_next: Arc<AtomicUsize>,
}

impl TestServer {
    pub fn https(root: &Path) -> TestServer {
        Self::start(root, true)
    }

    pub fn http(root: &Path) -> TestServer {
        Self::start(root, false)
    }

    fn start(root: &Path, tls: bool) -> TestServer {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![leaf.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
                )
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let fail_next = Arc::new(AtomicUsize::new(0));
        let (h, f, root) = (hits.clone(), fail_next.clone(), root.to_path_buf());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (h, f, root, config) = (h.clone(), f.clone(), root.clone(), config.clone());
                std::thread::spawn(move || {
                    if tls {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(conn, stream), &root, &h, &f);
                    } else {
                        serve(stream, &root, &h, &f);
                    }
                });
            }
        });
        TestServer {
            port,
            ca_pem: ca_cert.pem(),
            hits,
            fail_next,
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

fn serve<S: std::io::Read + Write>(
    stream: S,
    root: &Path,
    hits: &AtomicUsize,
    fail_next: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return; // e.g. a TLS handshake the client refused
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let failing = fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let file = root.join(path.trim_start_matches('/'));
    let (status, body) = if failing {
        ("503 Service Unavailable", b"busy".to_vec())
    } else {
        match std::fs::read(&file) {
            Ok(b) if !path.contains("..") => ("200 OK", b),
            _ => ("404 Not Found", b"not found".to_vec()),
        }
    };
    let stream = reader.get_mut();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}
