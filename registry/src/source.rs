//! Where a registry lives and how its files are fetched: a local directory, or an https base URL.
//!
//! Remote fetching is refused before any connection unless the host is on the caller's allowlist;
//! plain http is refused unless explicitly allowed. Every read is capped; transient failures (I/O,
//! timeouts, 5xx, 429) are retried with exponential backoff; redirects are not followed (a redirect
//! could leave the allowlist). TLS trust is the caller's CA files when given (`--registry-ca`, or
//! `SSL_CERT_FILE`/`SSL_CERT_DIR` read by the CLI), else the compiled-in Mozilla roots. Proxies
//! from the environment are not used.

use crate::codes;
use crate::relpath;
use gait_engine::{GaitError, fsx};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A registry location as the user named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrySource {
    Dir(PathBuf),
    Url(RemoteUrl),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteUrl {
    pub https: bool,
    /// Lowercased host (IPv6 without brackets).
    pub host: String,
    pub port: Option<u16>,
    /// Path without a trailing `/` (empty for the root).
    pub path: String,
}

impl RemoteUrl {
    pub fn parse(text: &str) -> Result<RemoteUrl, GaitError> {
        let bad = |why: &str| {
            GaitError::invalid(format!("registry URL {text:?} {why}"))
                .with_hint("use https://HOST[:PORT]/PATH")
        };
        let uri: ureq::http::Uri = text.trim().parse().map_err(|_| bad("is not a valid URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("must start with https://")),
        };
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("must not carry credentials"));
        }
        if uri.query().is_some() {
            return Err(bad("must not carry a query"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        Ok(RemoteUrl {
            https,
            host,
            port: authority.port_u16(),
            path: uri.path().trim_end_matches('/').to_string(),
        })
    }

    fn host_port(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// `scheme://host[:port]/path` without a trailing slash.
    pub fn base(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.host_port(), self.path)
    }

    /// The URL of a relative path below this base.
    pub fn join(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base())
    }
}

impl RegistrySource {
    /// `https://…` or `http://…` is remote; anything else is a local directory.
    pub fn parse(text: &str) -> Result<RegistrySource, GaitError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(GaitError::invalid("registry is empty")
                .with_hint("pass --registry DIR or --registry https://HOST/PATH"));
        }
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return Ok(RegistrySource::Url(RemoteUrl::parse(t)?));
        }
        if lower.contains("://") {
            return Err(GaitError::invalid(format!(
                "registry {t:?} uses an unsupported scheme; use a directory or an https:// URL"
            )));
        }
        Ok(RegistrySource::Dir(PathBuf::from(t)))
    }

    /// The identity under which rollback state is remembered: the canonical directory path or the
    /// normalized base URL.
    pub fn id(&self) -> String {
        match self {
            RegistrySource::Dir(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            RegistrySource::Url(u) => u.base(),
        }
    }
}

/// How remote registries may be reached.
#[derive(Clone, Debug)]
pub struct FetchSettings {
    /// Hosts (`host` or `host:port`) that may be contacted. Empty: no remote registry at all.
    pub allow_hosts: Vec<String>,
    pub allow_insecure_http: bool,
    /// PEM files with the CA certificates to trust; empty with `ca_dirs` → built-in Mozilla roots.
    pub ca_files: Vec<PathBuf>,
    /// Directories of PEM files (as `SSL_CERT_DIR`).
    pub ca_dirs: Vec<PathBuf>,
    pub retry_max_attempts: u32,
    pub retry_base_delay: Duration,
    /// Cap on any single download (index, manifest or file).
    pub max_bytes: u64,
    pub timeout: Duration,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            allow_hosts: Vec::new(),
            allow_insecure_http: false,
            ca_files: Vec::new(),
            ca_dirs: Vec::new(),
            retry_max_attempts: 3,
            retry_base_delay: Duration::from_millis(200),
            max_bytes: 64 * 1024 * 1024,
            timeout: Duration::from_secs(60),
        }
    }
}

impl FetchSettings {
    fn host_allowed(&self, url: &RemoteUrl) -> bool {
        let default_port = if url.https { 443 } else { 80 };
        let port = url.port.unwrap_or(default_port);
        self.allow_hosts.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            // `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare v6 address.
            let (host, port_text) = if let Some(rest) = entry.strip_prefix('[') {
                match rest.split_once(']') {
                    Some((h, tail)) => (h.to_string(), tail.strip_prefix(':').map(str::to_string)),
                    None => return false,
                }
            } else if entry.matches(':').count() == 1 {
                let (h, p) = entry.split_once(':').unwrap_or((&entry, ""));
                (h.to_string(), Some(p.to_string()))
            } else {
                (entry.clone(), None)
            };
            let port_ok = match port_text {
                None => true,
                Some(p) => p.parse::<u16>().is_ok_and(|p| p == port),
            };
            !host.is_empty() && host == url.host && port_ok
        })
    }

    /// Refuses a URL this configuration may not contact. Runs before any connection.
    pub fn check_url(&self, url: &RemoteUrl) -> Result<(), GaitError> {
        if !url.https && !self.allow_insecure_http {
            return Err(codes::unsafe_refused(
                codes::INSECURE_HTTP,
                format!("refusing plain http registry {}", url.base()),
            )
            .with_hint("use https, or pass --allow-insecure-http for a trusted local network"));
        }
        if !self.host_allowed(url) {
            return Err(codes::unsafe_refused(
                codes::HOST_NOT_ALLOWED,
                format!("registry host {} is not on the allowlist", url.host_port()),
            )
            .with_hint(format!("pass --allow-host {} to allow it", url.host)));
        }
        Ok(())
    }
}

/// Reads files of a registry by relative path.
pub trait Fetcher {
    /// Fetches `rel` (a checked relative path), refusing more than `limit` bytes.
    fn fetch(&self, rel: &str, limit: u64) -> Result<Vec<u8>, GaitError>;
}

/// Opens a registry for reading; remote ones are checked against `settings` first.
pub fn open(
    source: &RegistrySource,
    settings: &FetchSettings,
) -> Result<Box<dyn Fetcher>, GaitError> {
    match source {
        RegistrySource::Dir(root) => {
            if !root.is_dir() {
                return Err(GaitError::invalid(format!(
                    "registry directory {} does not exist",
                    root.display()
                )));
            }
            Ok(Box::new(DirFetcher { root: root.clone() }))
        }
        RegistrySource::Url(url) => {
            settings.check_url(url)?;
            Ok(Box::new(HttpFetcher {
                base: url.clone(),
                client: HttpClient::new(settings)?,
            }))
        }
    }
}

fn too_large(what: &str, limit: u64) -> GaitError {
    codes::refuse(
        codes::TOO_LARGE,
        format!("{what} is larger than the {limit}-byte download cap; nothing was installed"),
    )
    .with_hint("raise the cap with --max-bytes only if you expect a file this large")
}

struct DirFetcher {
    root: PathBuf,
}

impl Fetcher for DirFetcher {
    fn fetch(&self, rel: &str, limit: u64) -> Result<Vec<u8>, GaitError> {
        if let Some(p) = relpath::problem(rel) {
            return Err(GaitError::invalid(format!("registry path {rel:?} {p}")));
        }
        let path = relpath::join(&self.root, rel);
        read_local(&path, limit)
    }
}

/// Reads a local file under the download cap.
pub fn read_local(path: &Path, limit: u64) -> Result<Vec<u8>, GaitError> {
    match fsx::read_bounded(path, limit) {
        Ok(b) => Ok(b),
        Err(fsx::FsError::TooLarge { .. }) => Err(too_large(&path.display().to_string(), limit)),
        Err(e) => Err(e.into()),
    }
}

struct HttpFetcher {
    base: RemoteUrl,
    client: HttpClient,
}

impl Fetcher for HttpFetcher {
    fn fetch(&self, rel: &str, limit: u64) -> Result<Vec<u8>, GaitError> {
        if let Some(p) = relpath::problem(rel) {
            return Err(GaitError::invalid(format!("registry path {rel:?} {p}")));
        }
        self.client.get(&self.base.join(rel), limit)
    }
}

/// A small https client: one agent, capped bodies, retries with backoff.
pub struct HttpClient {
    agent: ureq::Agent,
    attempts: u32,
    base_delay: Duration,
}

enum Failure {
    Transient(GaitError),
    Permanent(GaitError),
}

fn load_certs(settings: &FetchSettings) -> Result<Vec<ureq::tls::Certificate<'static>>, GaitError> {
    const MAX_PEM_BYTES: u64 = 16 * 1024 * 1024;
    let mut files: Vec<PathBuf> = settings.ca_files.clone();
    for dir in &settings.ca_dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        files.extend(names);
    }
    let mut certs = Vec::new();
    for file in &files {
        let explicit = settings.ca_files.contains(file);
        let bytes = match fsx::read_bounded(file, MAX_PEM_BYTES) {
            Ok(b) => b,
            // A directory of certificates may hold unrelated or unreadable entries.
            Err(_) if !explicit => continue,
            Err(e) => {
                return Err(GaitError::invalid(format!("read CA certificates: {e}"))
                    .with_hint("pass a PEM file of CA certificates"));
            }
        };
        let before = certs.len();
        for item in ureq::tls::parse_pem(&bytes) {
            if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                certs.push(c.to_owned());
            }
        }
        if certs.len() == before && explicit {
            return Err(GaitError::invalid(format!(
                "{} holds no PEM certificate",
                file.display()
            )));
        }
    }
    Ok(certs)
}

impl HttpClient {
    pub fn new(settings: &FetchSettings) -> Result<HttpClient, GaitError> {
        use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
        let certs = load_certs(settings)?;
        let roots = if certs.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::new_with_certs(&certs)
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .https_only(!settings.allow_insecure_http)
            .timeout_global(Some(settings.timeout))
            .user_agent(format!("gait/{}", gait_engine::PRODUCER_VERSION))
            .build();
        Ok(HttpClient {
            agent: config.into(),
            attempts: settings.retry_max_attempts.max(1),
            base_delay: settings.retry_base_delay,
        })
    }

    /// GETs `url` with retries, refusing bodies over `limit` bytes.
    pub fn get(&self, url: &str, limit: u64) -> Result<Vec<u8>, GaitError> {
        let mut attempt = 1;
        loop {
            match self.try_get(url, limit) {
                Ok(body) => return Ok(body),
                Err(Failure::Permanent(e)) => return Err(e),
                Err(Failure::Transient(e)) => {
                    if attempt >= self.attempts {
                        return Err(e.context(&format!("after {attempt} attempts")));
                    }
                    let factor = 1u32 << (attempt - 1).min(16);
                    std::thread::sleep(self.base_delay.saturating_mul(factor));
                    attempt += 1;
                }
            }
        }
    }

    fn try_get(&self, url: &str, limit: u64) -> Result<Vec<u8>, Failure> {
        let mut resp = self.agent.get(url).call().map_err(|e| classify(url, e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let msg = format!("GET {url}: HTTP status {status}");
            return Err(if status >= 500 || status == 429 || status == 408 {
                Failure::Transient(codes::network(true, msg))
            } else if (300..400).contains(&status) {
                Failure::Permanent(codes::network(
                    false,
                    format!("{msg}: redirects are not followed"),
                ))
            } else {
                Failure::Permanent(codes::network(false, msg))
            });
        }
        if resp.body().content_length().is_some_and(|n| n > limit) {
            return Err(Failure::Permanent(too_large(url, limit)));
        }
        resp.body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => Failure::Permanent(too_large(url, limit)),
                other => classify(url, other),
            })
    }
}

fn tls_failure(msg: String) -> Failure {
    Failure::Permanent(codes::network(false, msg).with_hint(
        "the registry's certificate is not trusted: pass its CA with --registry-ca or SSL_CERT_FILE",
    ))
}

fn classify(url: &str, e: ureq::Error) -> Failure {
    let msg = format!("GET {url}: {e}");
    // A certificate rejected during the handshake surfaces as an I/O error wrapping rustls'.
    if let ureq::Error::Io(io) = &e
        && io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
    {
        return tls_failure(msg);
    }
    match e {
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::BodyStalled => Failure::Transient(codes::network(true, msg)),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => tls_failure(msg),
        _ => Failure::Permanent(codes::network(false, msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(
            RegistrySource::parse("./reg").unwrap(),
            RegistrySource::Dir(PathBuf::from("./reg"))
        );
        let RegistrySource::Url(u) =
            RegistrySource::parse("https://Reg.Example.com:8443/a/b/").unwrap()
        else {
            panic!("url expected")
        };
        assert_eq!(u.host, "reg.example.com");
        assert_eq!(u.port, Some(8443));
        assert_eq!(u.base(), "https://reg.example.com:8443/a/b");
        assert_eq!(
            u.join("index.json"),
            "https://reg.example.com:8443/a/b/index.json"
        );
        assert!(RegistrySource::parse("ftp://x").is_err());
        assert!(RegistrySource::parse("https://user:pw@x/").is_err());
        assert!(RegistrySource::parse("https://x/?q=1").is_err());
        assert!(RegistrySource::parse("  ").is_err());
        let RegistrySource::Url(v6) = RegistrySource::parse("https://[::1]:9/r").unwrap() else {
            panic!()
        };
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.base(), "https://[::1]:9/r");
    }

    #[test]
    fn allowlist_and_scheme_checks_come_first() {
        let url = RemoteUrl::parse("https://reg.example.com/r").unwrap();
        let mut s = FetchSettings::default();
        assert_eq!(
            s.check_url(&url).unwrap_err().error_code(),
            codes::HOST_NOT_ALLOWED
        );
        assert_eq!(s.check_url(&url).unwrap_err().exit_code(), 8);
        s.allow_hosts = vec!["other.example.com".into(), "REG.example.com".into()];
        assert!(s.check_url(&url).is_ok());
        s.allow_hosts = vec!["reg.example.com:443".into()];
        assert!(s.check_url(&url).is_ok());
        s.allow_hosts = vec!["reg.example.com:8443".into()];
        assert!(s.check_url(&url).is_err());
        // A suffix or prefix is not the host.
        s.allow_hosts = vec!["example.com".into()];
        assert!(s.check_url(&url).is_err());
        let plain = RemoteUrl::parse("http://127.0.0.1:8080/r").unwrap();
        s.allow_hosts = vec!["127.0.0.1".into()];
        assert_eq!(
            s.check_url(&plain).unwrap_err().error_code(),
            codes::INSECURE_HTTP
        );
        s.allow_insecure_http = true;
        assert!(s.check_url(&plain).is_ok());
        let v6 = RemoteUrl::parse("https://[::1]:9443/r").unwrap();
        s.allow_hosts = vec!["[::1]:9443".into()];
        assert!(s.check_url(&v6).is_ok());
        s.allow_hosts = vec!["::1".into()];
        assert!(s.check_url(&v6).is_ok());
    }

    #[test]
    fn open_refuses_before_connecting() {
        // Port 9 on a non-routable address would hang or fail slowly if a connection were tried.
        let src = RegistrySource::parse("https://10.255.255.1:9/r").unwrap();
        let err = open(&src, &FetchSettings::default()).err().unwrap();
        assert_eq!(err.error_code(), codes::HOST_NOT_ALLOWED);
    }

    #[test]
    fn local_reads_are_capped_and_paths_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), vec![b'x'; 100]).unwrap();
        let f = open(
            &RegistrySource::Dir(dir.path().to_path_buf()),
            &FetchSettings::default(),
        )
        .unwrap();
        assert_eq!(f.fetch("big", 100).unwrap().len(), 100);
        let e = f.fetch("big", 99).unwrap_err();
        assert_eq!(e.error_code(), codes::TOO_LARGE);
        assert!(f.fetch("../big", 100).is_err());
        assert!(
            open(
                &RegistrySource::Dir(dir.path().join("missing")),
                &FetchSettings::default()
            )
            .is_err()
        );
    }

    #[test]
    fn ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not a certificate").unwrap();
        let s = FetchSettings {
            ca_files: vec![f],
            ..FetchSettings::default()
        };
        assert!(HttpClient::new(&s).is_err());
    }
}
