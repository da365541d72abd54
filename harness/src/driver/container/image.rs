//! The image every container runs: `FROM scratch` and one statically linked `tollgate-node`
//! (`reference/node`: a node or a load balancer, none of the harness — no Docker client,
//! runner or progress bars — in it).
//!
//! No registry is reachable and nothing may be pulled, so the image is built here from the
//! project's own binary: a build context of two files (this Dockerfile and the binary) sent to
//! the engine from memory. The tag is the binary's SHA-256, so an unchanged binary reuses the
//! image and a rebuilt one gets a new image.
//!
//! Where the binary comes from, first that answers:
//! 1. `TOLLGATE_STATIC_BINARY`: a path to a statically linked `tollgate-node` (built elsewhere,
//!    e.g. `cargo build -p tollgate-node --bin tollgate-node --target <triple>` with
//!    `-C target-feature=+crt-static`); a dynamically linked one is refused;
//! 2. in the source tree: `cargo build --profile container -p tollgate-node --bin tollgate-node
//!    --target <host>` with `-C target-feature=+crt-static`, into `target/container/` (its own
//!    target folder, so the static build never invalidates the normal one and never waits for
//!    its lock).

use super::engine::Engine;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::sync::OnceCell;

/// The image's repository name; its tag is the binary's hash.
pub const IMAGE_REPOSITORY: &str = "tollgate-node";

/// The cargo profile of the static build (see the workspace's Cargo.toml).
const PROFILE: &str = "container";

/// The binary the image runs, and its name in the build context and the image.
const BINARY: &str = "tollgate-node";

const DOCKERFILE: &str =
    "FROM scratch\nCOPY tollgate-node /tollgate-node\nENTRYPOINT [\"/tollgate-node\"]\n";

/// Built once per process (every scenario of a run shares it).
static IMAGE: OnceCell<String> = OnceCell::const_new();

/// The image's name (`tollgate-node:<hash>`), built if the engine does not have it.
pub async fn ensure(engine: &Engine) -> Result<String, String> {
    IMAGE
        .get_or_try_init(|| async {
            let binary = static_binary().await?;
            let bytes = tokio::fs::read(&binary)
                .await
                .map_err(|e| format!("reading {}: {e}", binary.display()))?;
            let digest = Sha256::digest(&bytes);
            let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            let name = format!("{IMAGE_REPOSITORY}:{tag}");
            if engine.has_image(&name).await {
                tracing::info!(image = %name, "reusing the image: the binary has not changed");
                return Ok(name);
            }
            let context = build_context(&bytes).map_err(|e| format!("build context: {e}"))?;
            engine.build_image(&name, context).await?;
            tracing::info!(image = %name, "image built");
            Ok(name)
        })
        .await
        .cloned()
}

/// A tar archive holding the Dockerfile and the binary.
fn build_context(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    for (name, data, mode) in [
        ("Dockerfile", DOCKERFILE.as_bytes(), 0o644),
        (BINARY, binary, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        archive.append_data(&mut header, name, data)?;
    }
    archive.into_inner()
}

async fn static_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("TOLLGATE_STATIC_BINARY") {
        let path = PathBuf::from(path);
        return if is_static_elf(&path) {
            Ok(path)
        } else {
            Err(format!(
                "TOLLGATE_STATIC_BINARY={} is not a statically linked executable",
                path.display()
            ))
        };
    }
    let Some(root) = crate::workspace_root() else {
        return Err("no statically linked tollgate-node binary: set TOLLGATE_STATIC_BINARY, or run from the source tree so the harness can build one".into());
    };
    build_static(&root).await
}

/// `cargo build` of a static `tollgate-node` for the host's triple, in `target/container/`.
async fn build_static(root: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let triple = host_triple().await?;
    let target_dir = root.join("target").join("container");
    tracing::info!(target = %triple, "building a statically linked tollgate-node for the container image");
    let output = tokio::process::Command::new(&cargo)
        .current_dir(root)
        .args(["build", "--locked", "--profile", PROFILE])
        .args(["-p", "tollgate-node", "--bin", BINARY])
        .args(["--target", &triple])
        .env("CARGO_TARGET_DIR", &target_dir)
        // With an explicit --target these flags reach the binary only, not build scripts and
        // proc-macros (which must stay dynamic).
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("running {}: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "building the static tollgate-node failed ({}):\n{}",
            output.status,
            tail.join("\n")
        ));
    }
    let binary = target_dir.join(&triple).join(PROFILE).join(BINARY);
    if is_static_elf(&binary) {
        Ok(binary)
    } else {
        Err(format!("{} is not statically linked", binary.display()))
    }
}

async fn host_triple() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = tokio::process::Command::new(&rustc)
        .arg("-vV")
        .output()
        .await
        .map_err(|e| format!("running {}: {e}", rustc.to_string_lossy()))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV names no host triple".to_owned())
}

/// An ELF executable without a `PT_INTERP` program header: it needs no dynamic loader, so it
/// runs in an empty (`scratch`) file system.
fn is_static_elf(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| elf_has_no_interpreter(&bytes))
}

fn elf_has_no_interpreter(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    // 64-bit little-endian ELF only (the host triples this driver builds for).
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return false;
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let u64_at = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word) as usize
    };
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        bytes
            .get(at..at + 4)
            .is_some_and(|t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) != PT_INTERP)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_executable_is_not_taken_for_a_static_one() {
        // This test binary is linked dynamically (the normal build).
        let exe = std::env::current_exe().unwrap();
        assert!(!is_static_elf(&exe));
        assert!(!elf_has_no_interpreter(b"not an elf"));
    }

    #[test]
    fn the_build_context_holds_the_dockerfile_and_an_executable_binary() {
        let context = build_context(b"\x7fELF binary").unwrap();
        let mut archive = tar::Archive::new(context.as_slice());
        let entries: Vec<(String, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            vec![
                ("Dockerfile".into(), 0o644),
                ("tollgate-node".into(), 0o755)
            ]
        );
    }
}
