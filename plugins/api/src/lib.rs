//! gait-plugin-api: the one ABI surface between gait and its native plugins.
//!
//! A native plugin is a `cdylib` that exports one versioned root module ([`PluginMod`]). Every call
//! crosses the boundary as JSON text (`RStr` in, `RString` out), so plugins never see gait's Rust
//! types and gait's engine can change freely: the host adapts these JSON shapes to its own `Grader`
//! and `Extension` traits. Everything that touches `abi_stable` lives in this crate (and the host's
//! loader behind the `host` feature), so the ABI layer can be replaced without touching plugin logic.
//!
//! Writing a plugin: implement [`Plugin`] on a unit type and call [`export_plugin!`] once:
//!
//! ```ignore
//! struct MyPlugin;
//! impl gait_plugin_api::Plugin for MyPlugin {
//!     fn describe() -> gait_plugin_api::PluginDescription { /* name and version */ }
//!     fn grade(view: &serde_json::Value) -> Result<GradeOutcome, PluginFailure> { /* ... */ }
//! }
//! gait_plugin_api::export_plugin!(MyPlugin);
//! ```
//!
//! The plugin-API version is this crate's version ([`PLUGIN_API_VERSION`]). A plugin's signed
//! manifest declares a semver requirement on it; gait checks that requirement *before* loading the
//! library (a library's initialisers run the moment it is loaded), and abi_stable checks the version
//! and the root module's layout again after loading.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr, RString};
use abi_stable::{StableAbi, declare_root_module_statics, package_version_strings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg(feature = "host")]
pub mod host;

/// The plugin-API version this crate implements (semver).
pub const PLUGIN_API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The root module every native plugin exports. Fields are append-only within a major version
/// (abi_stable prefix type): new optional calls go after `run_command`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The plugin-API version the library was built against.
    pub api_version: extern "C" fn() -> RString,
    /// JSON [`PluginDescription`].
    pub describe: extern "C" fn() -> RString,
    /// Grades one fixture view (JSON object); returns JSON [`GradeOutcome`] or JSON [`PluginFailure`].
    pub grade: extern "C" fn(RStr<'_>) -> RResult<RString, RString>,
    /// JSON array of [`CommandSpec`]: the CLI commands the plugin contributes.
    pub commands: extern "C" fn() -> RString,
    /// Runs one command: JSON [`CommandRequest`] in, JSON [`CommandOutput`] or [`PluginFailure`] out.
    #[sabi(last_prefix_field)]
    pub run_command: extern "C" fn(RStr<'_>) -> RResult<RString, RString>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "gait_plugin";
    const NAME: &'static str = "gait_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Who the plugin says it is (the signed manifest is what gait trusts; this is checked against it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginDescription {
    pub name: String,
    pub version: String,
}

/// A grader's verdict on one fixture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeOutcome {
    pub status: GradeStatus,
    #[serde(default)]
    pub reason_codes: Vec<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradeStatus {
    Pass,
    Fail,
}

/// A CLI command a plugin contributes (`gait <words> ...`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Space-separated command words, e.g. `example-native hello`.
    pub words: String,
    pub summary: String,
}

/// One invocation of a contributed command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub words: String,
    /// The arguments after the command words, as given on the command line.
    pub args: Vec<String>,
    /// The user asked for `--json`.
    pub json: bool,
}

/// What a command produced; gait prints `json` under `--json`, else `text`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandOutput {
    pub exit_code: i32,
    #[serde(default)]
    pub json: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub text: String,
}

/// A plugin call that failed. `reason_code` is stable snake_case; `message` is for humans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginFailure {
    pub reason_code: String,
    pub message: String,
}

impl PluginFailure {
    pub fn new(reason_code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason_code: reason_code.into(),
            message: message.into(),
        }
    }

    /// The plugin does not provide this call.
    pub fn unsupported(call: &str) -> Self {
        Self::new(
            "plugin_call_unsupported",
            format!("this plugin does not provide {call}"),
        )
    }

    /// The input gait passed could not be decoded.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("plugin_input_invalid", message)
    }
}

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.reason_code)
    }
}

/// What a plugin implements. Every call has a default, so a grader-only or command-only plugin
/// implements just what it provides.
pub trait Plugin {
    fn describe() -> PluginDescription;

    fn grade(_fixture: &serde_json::Value) -> Result<GradeOutcome, PluginFailure> {
        Err(PluginFailure::unsupported("grade"))
    }

    fn commands() -> Vec<CommandSpec> {
        Vec::new()
    }

    fn run_command(_request: &CommandRequest) -> Result<CommandOutput, PluginFailure> {
        Err(PluginFailure::unsupported("run_command"))
    }
}

/// The symbol abi_stable looks up in a library (`abi_stable::library::ROOT_MODULE_LOADER_NAME`);
/// a test holds it equal. Spelled out because [`export_plugin!`] needs it as a literal.
#[doc(hidden)]
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

/// Exports `$plugin` (a type implementing [`Plugin`]) as this library's root module.
///
/// Expands to the root-module constructor and the `LibHeader` static abi_stable looks for; unlike
/// `#[export_root_module]` it needs no direct `abi_stable` dependency in the plugin crate.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            use $crate::__private as __gp;

            extern "C" fn __gait_api_version() -> __gp::RString {
                __gp::RString::from($crate::PLUGIN_API_VERSION)
            }
            extern "C" fn __gait_describe() -> __gp::RString {
                __gp::describe::<$plugin>()
            }
            extern "C" fn __gait_grade(
                input: __gp::RStr<'_>,
            ) -> __gp::RResult<__gp::RString, __gp::RString> {
                __gp::grade::<$plugin>(input)
            }
            extern "C" fn __gait_commands() -> __gp::RString {
                __gp::commands::<$plugin>()
            }
            extern "C" fn __gait_run_command(
                input: __gp::RStr<'_>,
            ) -> __gp::RResult<__gp::RString, __gp::RString> {
                __gp::run_command::<$plugin>(input)
            }
            fn __gait_root_module() -> $crate::PluginModRef {
                __gp::module(
                    __gait_api_version,
                    __gait_describe,
                    __gait_grade,
                    __gait_commands,
                    __gait_run_command,
                )
            }
            extern "C" fn __gait_erased_module() -> __gp::RootModuleResult {
                __gp::__call_root_module_loader(__gait_root_module)
            }
            #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
            pub static __GAIT_LIB_HEADER: __gp::LibHeader = unsafe {
                __gp::LibHeader::from_constructor::<$crate::PluginModRef>(
                    __gait_erased_module,
                    __gp::CheckTypeLayout::Yes,
                )
            };
        };
    };
}

/// Support for [`export_plugin!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
    use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RStr, RString};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    type StrCall = extern "C" fn(RStr<'_>) -> RResult<RString, RString>;

    pub fn module(
        api_version: extern "C" fn() -> RString,
        describe: extern "C" fn() -> RString,
        grade: StrCall,
        commands: extern "C" fn() -> RString,
        run_command: StrCall,
    ) -> PluginModRef {
        // The library has its own copy of std and so its own panic hook: keep panics off the host's
        // stderr (with `--json` it must stay empty); `guarded` reports them as failures instead.
        std::panic::set_hook(Box::new(|_| {}));
        PluginMod {
            api_version,
            describe,
            grade,
            commands,
            run_command,
        }
        .leak_into_prefix()
    }

    fn encode<T: Serialize>(value: &T) -> RString {
        // Our own plain structs always serialize; an empty string makes the host report a bad reply.
        RString::from(serde_json::to_string(value).unwrap_or_default())
    }

    fn failure(f: &PluginFailure) -> RResult<RString, RString> {
        RResult::RErr(encode(f))
    }

    /// Runs plugin code so that a panic becomes a failure instead of unwinding across the FFI edge.
    fn guarded<T>(
        call: &str,
        f: impl FnOnce() -> Result<T, PluginFailure>,
    ) -> Result<T, PluginFailure> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(result) => result,
            Err(_) => Err(PluginFailure::new(
                "plugin_panicked",
                format!("the plugin panicked in {call}"),
            )),
        }
    }

    pub fn describe<P: Plugin>() -> RString {
        match guarded("describe", || Ok(P::describe())) {
            Ok(d) => encode(&d),
            Err(_) => RString::new(),
        }
    }

    pub fn commands<P: Plugin>() -> RString {
        match guarded("commands", || Ok(P::commands())) {
            Ok(c) => encode(&c),
            Err(_) => RString::new(),
        }
    }

    pub fn grade<P: Plugin>(input: RStr<'_>) -> RResult<RString, RString> {
        let result = guarded("grade", || {
            let view: serde_json::Value = serde_json::from_str(input.as_str())
                .map_err(|e| PluginFailure::invalid_input(format!("fixture view: {e}")))?;
            P::grade(&view)
        });
        match result {
            Ok(outcome) => RResult::ROk(encode(&outcome)),
            Err(f) => failure(&f),
        }
    }

    pub fn run_command<P: Plugin>(input: RStr<'_>) -> RResult<RString, RString> {
        let result = guarded("run_command", || {
            let request: CommandRequest = serde_json::from_str(input.as_str())
                .map_err(|e| PluginFailure::invalid_input(format!("command request: {e}")))?;
            P::run_command(&request)
        });
        match result {
            Ok(out) => RResult::ROk(encode(&out)),
            Err(f) => failure(&f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_module_symbol_is_abi_stables() {
        assert_eq!(
            ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }

    #[test]
    fn api_version_is_semver_major_one() {
        let mut parts = PLUGIN_API_VERSION.split('.');
        assert_eq!(parts.next(), Some("1"));
        assert_eq!(parts.count(), 2);
    }

    struct Panicky;
    impl Plugin for Panicky {
        fn describe() -> PluginDescription {
            PluginDescription {
                name: "p".into(),
                version: "1.0.0".into(),
            }
        }
        fn grade(_fixture: &serde_json::Value) -> Result<GradeOutcome, PluginFailure> {
            panic!("boom")
        }
    }

    #[test]
    fn guest_calls_turn_panics_and_bad_input_into_failures() {
        let out = __private::grade::<Panicky>(RStr::from_str("{}"));
        let RResult::RErr(err) = out else {
            panic!("a panicking grader must fail")
        };
        let f: PluginFailure = serde_json::from_str(err.as_str()).unwrap();
        assert_eq!(f.reason_code, "plugin_panicked");

        let out = __private::grade::<Panicky>(RStr::from_str("{not json"));
        let RResult::RErr(err) = out else {
            panic!("bad input must fail")
        };
        let f: PluginFailure = serde_json::from_str(err.as_str()).unwrap();
        assert_eq!(f.reason_code, "plugin_input_invalid");

        let out = __private::run_command::<Panicky>(RStr::from_str(
            r#"{"words":"x","args":[],"json":false}"#,
        ));
        let RResult::RErr(err) = out else {
            panic!("an unsupported call must fail")
        };
        let f: PluginFailure = serde_json::from_str(err.as_str()).unwrap();
        assert_eq!(f.reason_code, "plugin_call_unsupported");
    }
}
