//! The verified native loader.
//!
//! A native library runs with the full rights of gait the moment it is loaded (its initialisers
//! run inside `dlopen`), so everything is checked first, on bytes held in memory:
//! 1. the pin exists and the installed manifest still has the pinned digest;
//! 2. the manifest carries a valid signature by a key trusted and unrevoked *now*;
//! 3. its plugin-API requirement matches this gait and it was built for this platform;
//! 4. every file, the library included, still has its signed sha256.
//!
//! Then exactly those verified bytes are loaded — never the installed file, which could be swapped
//! between check and load: on Linux from a sealed memory file (`memfd_create` + `F_SEAL_WRITE`…,
//! loaded through `/proc/self/fd/N`), elsewhere (or when memfd is unavailable) from a fresh copy in
//! a private 0700 directory of the plugin home. After loading, abi_stable checks its own version
//! and the root module's layout, and the plugin must name itself as its manifest does.
//!
//! Script plugins and packs follow the same rule without a dynamic loader: [`load_script`] and
//! [`load_pack_templates`] verify the plugin and hand out the verified text, for the Rhai/Lua
//! sandboxes (regress graders, policy predicates, credential brokers) and `gait policy init --pack`.

use crate::codes;
use crate::install::{self, InstalledPlugin};
use crate::model::{PluginForm, PluginKind};
use crate::store::PluginHome;
use crate::trust::TrustStore;
use gait_engine::{GaitError, fsx};
use gait_plugin_api::host::{self, LoadedPlugin};
use gait_plugin_api::{
    CommandOutput, CommandRequest, CommandSpec, GradeOutcome, PLUGIN_API_VERSION, PluginFailure,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How the verified bytes were handed to the dynamic loader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadedFrom {
    /// A sealed, immutable memory file (Linux).
    SealedMemoryFile,
    /// A private copy (removed again after loading where the platform allows).
    PrivateCopy(PathBuf),
}

#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Use a sealed memory file where available (Linux); otherwise a private copy.
    pub prefer_sealed_memory: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            prefer_sealed_memory: true,
        }
    }
}

/// A verified, loaded native plugin.
pub struct NativePlugin {
    pub installed: InstalledPlugin,
    pub loaded_from: LoadedFrom,
    plugin: LoadedPlugin,
}

impl std::fmt::Debug for NativePlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlugin")
            .field("name", &self.installed.pin.name)
            .field("version", &self.installed.pin.version)
            .field("loaded_from", &self.loaded_from)
            .finish()
    }
}

fn call_failed(name: &str, f: PluginFailure) -> GaitError {
    let message = format!("plugin {name}: {}", f.message);
    // Bad arguments are the user's to fix (exit 6); anything else is the plugin's failure (exit 1).
    let err = if f.reason_code == "plugin_input_invalid" {
        GaitError::invalid(message)
    } else {
        GaitError::internal(message)
    };
    err.with_code(f.reason_code)
}

/// Verifies and loads the installed native plugin `name`.
pub fn load_native(
    home: &PluginHome,
    name: &str,
    options: LoadOptions,
) -> Result<NativePlugin, GaitError> {
    let pin = home.require_pin(name)?;
    if pin.form != PluginForm::Native {
        return Err(GaitError::invalid(format!(
            "plugin {name} is a {} plugin, not a native one",
            pin.form
        )));
    }
    let trust = TrustStore::load(&home.trust_path())?;
    let mut installed = install::verify_pin(home, &trust, &pin, true)?;
    let bytes = installed
        .entry_bytes
        .take()
        .ok_or_else(|| GaitError::internal(format!("plugin {name}: entry bytes were not kept")))?;
    let (plugin, loaded_from) = load_bytes(home, name, &bytes, options)?;
    drop(bytes);

    // abi_stable has checked its version and the layout; now the plugin's own claims.
    let api = plugin.api_version();
    let api_ok =
        semver::Version::parse(&api).is_ok_and(|v| installed.manifest.plugin_api.matches(&v));
    if !api_ok || api != PLUGIN_API_VERSION {
        return Err(codes::refuse(
            codes::API_INCOMPATIBLE,
            format!(
                "plugin {name} was built against plugin API {api:?}, its manifest requires {} and this gait provides {PLUGIN_API_VERSION}",
                installed.manifest.plugin_api
            ),
        ));
    }
    let described = plugin.describe().map_err(|f| call_failed(name, f))?;
    let m = &installed.manifest.manifest;
    if described.name != m.name || described.version != m.version {
        return Err(codes::refuse(
            codes::MANIFEST_INVALID,
            format!(
                "the library of {}@{} identifies itself as {}@{}",
                m.name, m.version, described.name, described.version
            ),
        ));
    }
    Ok(NativePlugin {
        installed,
        loaded_from,
        plugin,
    })
}

fn load_bytes(
    home: &PluginHome,
    name: &str,
    bytes: &[u8],
    options: LoadOptions,
) -> Result<(LoadedPlugin, LoadedFrom), GaitError> {
    let load_err = |e: host::HostError| {
        GaitError::internal(format!("load plugin {name}: {}", e.message)).with_code(e.reason_code)
    };
    #[cfg(target_os = "linux")]
    if options.prefer_sealed_memory
        && let Some(sealed) = memfd::SealedFile::new(bytes)
    {
        // SAFETY: `bytes` were verified (pin, signature, API, sha256) by the caller and the memory
        // file is sealed against any change, so the loader reads exactly the verified bytes.
        match unsafe { host::load_library(sealed.path()) } {
            Ok(plugin) => return Ok((plugin, LoadedFrom::SealedMemoryFile)),
            // A kernel or policy that will not map memory files executable fails inside the
            // dynamic loader before any initialiser ran: fall back to a private copy.
            Err(e) if e.reason_code == "plugin_library_open_failed" => {}
            Err(e) => return Err(load_err(e)),
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = options;
    let copy = private_copy(home, name, bytes)?;
    // SAFETY: the copy was just written from the verified bytes into a directory only this user
    // can enter; nothing else writes there.
    let result = unsafe { host::load_library(&copy) };
    // The mapping outlives the file on unix; Windows keeps it until exit (cleaned up next time).
    if cfg!(unix)
        && let Some(dir) = copy.parent()
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok((result.map_err(load_err)?, LoadedFrom::PrivateCopy(copy)))
}

static LOAD_COUNTER: AtomicU64 = AtomicU64::new(0);

fn private_copy(home: &PluginHome, name: &str, bytes: &[u8]) -> Result<PathBuf, GaitError> {
    let root = home.load_dir();
    install::create_private_dir(&root)?;
    restrict_dir(&root)?;
    // Copies left by earlier runs that could not delete them (Windows); ignore ones in use.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let dir = root.join(format!(
        "{}-{}",
        std::process::id(),
        LOAD_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    install::create_private_dir(&dir)?;
    let path = dir.join(format!(
        "{}gait_plugin_{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o500);
    }
    let io = |e: std::io::Error| {
        GaitError::io(format!(
            "copy plugin {name} for loading: {}",
            fsx::io_reason(&e)
        ))
    };
    let mut f = opts.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut f, bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(path)
}

#[cfg(unix)]
fn restrict_dir(dir: &Path) -> Result<(), GaitError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
        GaitError::io(format!(
            "restrict {}: {}",
            dir.display(),
            fsx::io_reason(&e)
        ))
    })
}

#[cfg(not(unix))]
fn restrict_dir(_dir: &Path) -> Result<(), GaitError> {
    Ok(())
}

#[cfg(target_os = "linux")]
mod memfd {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::path::{Path, PathBuf};

    /// An anonymous memory file holding the library, sealed so no one can change it.
    pub struct SealedFile {
        // Kept open until the library is loaded; the mapping outlives it.
        _file: File,
        path: PathBuf,
    }

    impl SealedFile {
        /// `None` when the kernel lacks memfd/sealing or `/proc` is not mounted (fall back).
        pub fn new(bytes: &[u8]) -> Option<SealedFile> {
            let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
            // MFD_EXEC: kernels with vm.memfd_noexec would otherwise seal it non-executable;
            // kernels before 6.3 do not know the flag (EINVAL), so ask again without it.
            // SAFETY: a valid NUL-terminated name and flags; the result is checked.
            let mut fd =
                unsafe { libc::memfd_create(c"gait-plugin".as_ptr(), base | libc::MFD_EXEC) };
            if fd < 0 {
                // SAFETY: as above.
                fd = unsafe { libc::memfd_create(c"gait-plugin".as_ptr(), base) };
            }
            if fd < 0 {
                return None;
            }
            // SAFETY: `fd` is a fresh descriptor owned by nobody else.
            let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
            file.write_all(bytes).ok()?;
            let seals =
                libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
            // SAFETY: fcntl on a descriptor we own.
            if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
                return None;
            }
            let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if !path.exists() {
                return None;
            }
            Some(SealedFile { _file: file, path })
        }

        pub fn path(&self) -> &Path {
            &self.path
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sealed_file_holds_the_bytes_and_refuses_writes() {
            let Some(f) = SealedFile::new(b"verified bytes") else {
                return; // no memfd here: the loader falls back to a private copy
            };
            assert_eq!(std::fs::read(f.path()).unwrap(), b"verified bytes");
            let mut w = std::fs::OpenOptions::new()
                .write(true)
                .open(f.path())
                .unwrap();
            assert!(w.write_all(b"tampered").is_err());
            assert_eq!(std::fs::read(f.path()).unwrap(), b"verified bytes");
        }
    }
}

/// A verified script plugin, ready for a sandbox: its source text is exactly the bytes that were
/// checked against the pin, the signature and the manifest, never re-read from disk.
#[derive(Clone, Debug)]
pub struct ScriptPlugin {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub form: PluginForm,
    /// The entry file's path inside the plugin, for messages.
    pub entry: String,
    pub source: String,
    /// Credential brokers: the only environment variables the host may hand to the script.
    pub env_allowlist: Vec<String>,
    pub manifest_digest: String,
}

/// Verifies the installed script plugin `name` (Rhai or Lua) of kind `kind` and returns its source.
/// The regress and gate sandboxes run it; this crate never executes scripts.
pub fn load_script(
    home: &PluginHome,
    name: &str,
    kind: PluginKind,
) -> Result<ScriptPlugin, GaitError> {
    let pin = home.require_pin(name)?;
    if !pin.form.is_script() || pin.kind != kind {
        return Err(GaitError::invalid(format!(
            "plugin {name} is a {} {}, not a script {kind}",
            pin.form, pin.kind
        )));
    }
    let trust = TrustStore::load(&home.trust_path())?;
    let installed = install::verify_pin(home, &trust, &pin, true)?;
    let m = &installed.manifest.manifest;
    let bytes = installed.entry_bytes.clone().unwrap_or_default();
    let source = String::from_utf8(bytes).map_err(|_| {
        codes::invalid(
            codes::MANIFEST_INVALID,
            format!("plugin {name}: entry {} is not UTF-8 text", m.entry),
        )
    })?;
    Ok(ScriptPlugin {
        name: m.name.clone(),
        version: m.version.clone(),
        kind: m.kind,
        form: m.form,
        entry: m.entry.clone(),
        source,
        env_allowlist: m.env.clone(),
        manifest_digest: installed.manifest.digest.clone(),
    })
}

/// A policy template shipped by an installed pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackTemplate {
    pub name: String,
    pub aliases: Vec<String>,
    pub description: String,
    /// The template's policy YAML, verified against the signed manifest.
    pub yaml: String,
}

/// Verifies the installed pack `name` and returns its policy templates (for
/// `gait policy init --pack NAME TEMPLATE`).
pub fn load_pack_templates(home: &PluginHome, name: &str) -> Result<Vec<PackTemplate>, GaitError> {
    let pin = home.require_pin(name)?;
    if pin.kind != PluginKind::Pack {
        return Err(GaitError::invalid(format!(
            "plugin {name} is a {}, not a pack",
            pin.kind
        )));
    }
    let trust = TrustStore::load(&home.trust_path())?;
    let installed = install::verify_pin(home, &trust, &pin, false)?;
    let mut out = Vec::new();
    for t in &installed.manifest.manifest.templates {
        // verify_pin hashed every file; read each template once more and hash it again, so the
        // text returned is exactly the signed text even if the file changed in between.
        let bytes = fsx::read_bounded(
            &crate::relpath::join(&installed.dir, &t.file),
            install::MAX_INSTALLED_FILE,
        )?;
        if Some(gait_engine::canon::sha256_hex(&bytes).as_str())
            != installed.manifest.manifest.file_sha256(&t.file)
        {
            return Err(codes::refuse(
                codes::FILE_MODIFIED,
                format!("plugin {name}: template file {} changed", t.file),
            ));
        }
        let yaml = String::from_utf8(bytes).map_err(|_| {
            codes::invalid(
                codes::MANIFEST_INVALID,
                format!("plugin {name}: template {} is not UTF-8 text", t.file),
            )
        })?;
        out.push(PackTemplate {
            name: t.name.clone(),
            aliases: t.aliases.clone(),
            description: t.description.clone(),
            yaml,
        });
    }
    Ok(out)
}

/// Sorted, deduplicated reason codes; a grader's outcome as the host records it.
fn normalize(mut outcome: GradeOutcome) -> GradeOutcome {
    outcome.reason_codes.retain(|c| !c.trim().is_empty());
    outcome.reason_codes.sort();
    outcome.reason_codes.dedup();
    outcome
}

impl NativePlugin {
    pub fn name(&self) -> &str {
        &self.installed.pin.name
    }

    /// Grades one fixture view (JSON); the regress host adapts this to its `Grader` trait.
    pub fn grade(&self, fixture: &serde_json::Value) -> Result<GradeOutcome, GaitError> {
        self.plugin
            .grade(fixture)
            .map(normalize)
            .map_err(|f| call_failed(self.name(), f))
    }

    /// The commands the library contributes; they must be exactly those its signed manifest
    /// declares (the CLI routes by the manifest without loading anything).
    pub fn commands(&self) -> Result<Vec<CommandSpec>, GaitError> {
        let commands = self
            .plugin
            .commands()
            .map_err(|f| call_failed(self.name(), f))?;
        let mut declared: Vec<&str> = self
            .installed
            .manifest
            .manifest
            .commands
            .iter()
            .map(|c| c.words.as_str())
            .collect();
        let mut offered: Vec<&str> = commands.iter().map(|c| c.words.as_str()).collect();
        declared.sort();
        offered.sort();
        if declared != offered {
            return Err(codes::refuse(
                codes::MANIFEST_INVALID,
                format!(
                    "plugin {} offers commands {offered:?} but its manifest declares {declared:?}",
                    self.name()
                ),
            ));
        }
        Ok(commands)
    }

    /// Runs a contributed command.
    pub fn run_command(
        &self,
        words: &str,
        args: &[String],
        json: bool,
    ) -> Result<CommandOutput, GaitError> {
        if !self.commands()?.iter().any(|c| c.words == words) {
            return Err(GaitError::invalid(format!(
                "plugin {} does not provide command {words:?}",
                self.name()
            )));
        }
        self.plugin
            .run_command(&CommandRequest {
                words: words.to_string(),
                args: args.to_vec(),
                json,
            })
            .map_err(|f| call_failed(self.name(), f))
    }
}
