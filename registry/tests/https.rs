//! Registries over https on loopback: installs exactly as from a directory; transport refusals.

mod support;

use gait_registry::codes;
use gait_registry::install::{self, InstallRequest};
use gait_registry::resolve::parse_wanted;
use gait_registry::source::FetchSettings;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::{Fixture, TestServer, now};

fn settings(fx: &Fixture, server: &TestServer) -> FetchSettings {
    let ca = fx.path("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    FetchSettings {
        allow_hosts: vec!["127.0.0.1".into()],
        ca_files: vec![ca],
        retry_base_delay: Duration::from_millis(1),
        ..FetchSettings::default()
    }
}

fn request(url: String, settings: FetchSettings) -> InstallRequest {
    InstallRequest {
        registry: url,
        wanted: parse_wanted("g").unwrap(),
        locked: None,
        settings,
    }
}

#[test]
fn https_installs_the_same_bytes_as_a_directory() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let server = TestServer::https(&fx.registry());
    let req = request(server.url("https"), settings(&fx, &server));
    let remote = install::install(&fx.home, &req, now()).unwrap();
    assert!(!remote.unchanged);
    assert_eq!(remote.pin.registry, server.url("https"));
    install::verify_installed(&fx.home, "g").unwrap();
    // The directory registry yields the same manifest digest and finds it already installed.
    let local = fx.install("g").unwrap();
    assert_eq!(local.pin.manifest_digest, remote.pin.manifest_digest);
    assert!(local.unchanged);
}

#[test]
fn host_not_on_the_allowlist_is_refused_without_a_connection() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let server = TestServer::https(&fx.registry());
    let mut s = settings(&fx, &server);
    s.allow_hosts = vec!["registry.example.com".into()];
    let e = install::install(&fx.home, &request(server.url("https"), s), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::HOST_NOT_ALLOWED);
    assert_eq!(e.exit_code(), 8);
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
    fx.assert_nothing_installed();
}

#[test]
fn an_untrusted_certificate_fails_closed() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let server = TestServer::https(&fx.registry());
    let mut s = settings(&fx, &server);
    s.ca_files.clear(); // the built-in roots do not know the test CA
    let e = install::install(&fx.home, &request(server.url("https"), s), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::FETCH_FAILED);
    assert!(e.hint.unwrap_or_default().contains("--registry-ca"));
    fx.assert_nothing_installed();
}

#[test]
fn plain_http_needs_its_own_flag() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let server = TestServer::http(&fx.registry());
    let mut s = settings(&fx, &server);
    let e = install::install(&fx.home, &request(server.url("http"), s.clone()), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::INSECURE_HTTP);
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
    s.allow_insecure_http = true;
    install::install(&fx.home, &request(server.url("http"), s), now()).unwrap();
}

#[test]
fn transient_failures_are_retried_with_backoff() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let server = TestServer::https(&fx.registry());
    server.fail_next.store(2, Ordering::SeqCst);
    let s = settings(&fx, &server);
    install::install(&fx.home, &request(server.url("https"), s.clone()), now()).unwrap();
    // index (3 tries), manifest, one file
    assert_eq!(server.hits.load(Ordering::SeqCst), 5);
    install::remove(&fx.home, "g").unwrap();
    // More failures than attempts: a network error, nothing installed.
    server.fail_next.store(3, Ordering::SeqCst);
    let e = install::install(&fx.home, &request(server.url("https"), s), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::FETCH_FAILED);
    assert!(e.message.contains("after 3 attempts"), "{}", e.message);
    fx.assert_nothing_installed();
}

#[test]
fn downloads_over_the_cap_are_refused() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let server = TestServer::https(&fx.registry());
    let mut s = settings(&fx, &server);
    s.max_bytes = 100;
    let e = install::install(&fx.home, &request(server.url("https"), s), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::TOO_LARGE);
    fx.assert_nothing_installed();
}

#[test]
fn registry_pack_over_https_with_cached_fallback() {
    use gait_registry::regpack;
    let fx = Fixture::new();
    let body = serde_json::json!({
        "schema_id": "gait.registry.pack", "schema_version": "1.0.0",
        "created_at": "2026-02-01T00:00:00Z", "producer_version": "0.0.0-dev",
        "pack_name": "baseline", "pack_version": "1.0.0"
    });
    let digest = regpack::decode(&serde_json::to_vec(&body).unwrap())
        .unwrap()
        .digest()
        .unwrap();
    let mut signed = body.clone();
    signed["signatures"] = serde_json::json!([fx.key.sign_digest(&digest).unwrap()]);
    std::fs::write(
        fx.registry().join("pack.json"),
        serde_json::to_vec(&signed).unwrap(),
    )
    .unwrap();
    let server = TestServer::https(&fx.registry());
    let mut opts = regpack::InstallOptions {
        source: format!("{}/pack.json", server.url("https")),
        cache_dir: fx.path("cache"),
        public_key: Some(fx.key.public()),
        publisher_allowlist: vec![],
        pin: Some(format!("sha256:{digest}")),
        allow_cached_fallback: false,
        fetch: settings(&fx, &server),
    };
    let first = regpack::install(&opts).unwrap();
    assert!(!first.cached_fallback);
    assert_eq!(first.digest, digest);
    // The registry goes down (every request answers 503): refused (exit 2) unless the cached
    // copy may be used — and that copy is verified again like a download.
    server.fail_next.store(usize::MAX, Ordering::SeqCst);
    let e = regpack::install(&opts).unwrap_err();
    assert_eq!(
        e.exit_code(),
        2,
        "registry install failures are verification failures"
    );
    assert_eq!(e.error_code(), gait_registry::codes::FETCH_FAILED);
    opts.allow_cached_fallback = true;
    let again = regpack::install(&opts).unwrap();
    assert!(again.cached_fallback);
    assert_eq!(again.digest, digest);
    // A tampered cached copy does not verify.
    let cached = std::fs::read_dir(fx.path("cache/sources"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&cached).unwrap();
    std::fs::write(&cached, text.replace("baseline", "baseline2")).unwrap();
    assert!(regpack::install(&opts).is_err());
}
