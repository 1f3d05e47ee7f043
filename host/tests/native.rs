//! The native example through the host: loaded once per process however many graders name it,
//! behind the `Grader` and `Extension` traits.

mod support;

use gait_engine::plugin::{Extension, PluginForm, PluginInfo, PluginKind};
use gait_graders::{GraderPlugins, ResolvedGrader};
use std::sync::Arc;
use support::Home;

#[test]
fn a_native_plugin_is_verified_and_loaded_once_per_process() {
    let home = Home::new();
    home.publish_native();
    home.install("example-native");
    let host = home.host();
    let a = host.native("example-native").unwrap();
    let b = host.native("example-native").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    // As graders under two names: both adapt the one loaded library.
    for name in ["count", "count-again"] {
        let ResolvedGrader::Grader(g) = host.grader("example-native", name).unwrap() else {
            panic!("a native grader is a ready Grader");
        };
        assert_eq!(
            g.info(),
            &PluginInfo {
                name: name.into(),
                version: semver::Version::new(0, 1, 0),
                kind: PluginKind::Grader,
                form: PluginForm::Native,
            }
        );
    }
    assert!(Arc::ptr_eq(&a, &host.native("example-native").unwrap()));
    // And its command, through the Extension trait.
    let ext = host.extension("example-native").unwrap();
    assert_eq!(ext.commands().unwrap()[0].words, "example-native hello");
    let out = ext
        .run("example-native hello", &["ada".into()], true)
        .unwrap();
    assert_eq!((out.exit_code, out.text.as_str()), (0, "hello, ada"));
    let e = ext.run("example-native nope", &[], false).unwrap_err();
    assert_eq!(e.kind, gait_engine::plugin::PluginErrorKind::Invalid);
}

#[test]
fn a_failed_load_is_remembered_not_retried() {
    let home = Home::new();
    home.publish_native();
    let installed = home.install("example-native");
    let dir = home.host().home().installed_dir(&installed.pin).unwrap();
    let lib = dir.join(support::example_library().file_name().unwrap());
    let mut bytes = std::fs::read(&lib).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&lib, &bytes).unwrap();
    let host = home.host();
    let e1 = host.native("example-native").unwrap_err();
    assert_eq!(e1.error_code(), "plugin_file_modified");
    // Fixing the file does not change this process's answer (one verification per process).
    bytes[0] ^= 0xff;
    std::fs::write(&lib, &bytes).unwrap();
    assert_eq!(
        host.native("example-native").unwrap_err().message,
        e1.message
    );
    assert!(home.host().native("example-native").is_ok());
}
