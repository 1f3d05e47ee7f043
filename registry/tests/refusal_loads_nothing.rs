//! A refused native plugin is never mapped into the process: the checks run before `dlopen`.
//! Its own test binary, so no other test loads plugins concurrently; Linux only (it reads
//! /proc/self/maps).

#![cfg(target_os = "linux")]

mod support;

use gait_registry::loader::{LoadOptions, load_native};
use support::Fixture;

fn plugin_mappings() -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| {
            l.contains("gait-plugin")
                || l.contains("gait_example_native")
                || l.contains("gait_plugin_")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn refused_plugins_are_not_mapped_and_accepted_ones_are() {
    let fx = Fixture::new();
    fx.publish_native(&fx.key);
    fx.index();
    fx.install("example-native").unwrap();
    assert!(plugin_mappings().is_empty());

    // Refused: the trust store no longer holds the signing key.
    let mut store = fx.trust_store();
    store.remove(&fx.key.public().key_id()).unwrap();
    store.save(&fx.home.trust_path()).unwrap();
    for prefer_sealed_memory in [true, false] {
        assert!(
            load_native(
                &fx.home,
                "example-native",
                LoadOptions {
                    prefer_sealed_memory
                }
            )
            .is_err()
        );
    }
    assert!(
        plugin_mappings().is_empty(),
        "a refused plugin was mapped: {:?}",
        plugin_mappings()
    );

    // Positive control: the same observation sees an accepted plugin.
    fx.trust(&fx.key);
    load_native(&fx.home, "example-native", LoadOptions::default()).unwrap();
    let maps = plugin_mappings();
    assert!(
        maps.iter().any(|l| l.contains("memfd:gait-plugin")),
        "{maps:?}"
    );
}
