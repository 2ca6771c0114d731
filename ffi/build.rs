//! Generates `include/emberkv.h` from the sources (cbindgen, `header` feature)
//! and gives the shared library its soname.
//!
//! The header is committed: C users need no Rust toolchain to read it, and
//! `ffi/check-header.sh` (run by CI) fails when it differs from what the
//! sources generate.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    soname();
    #[cfg(feature = "header")]
    header();
}

/// `libemberkv.so.0.<minor>` before 1.0 (every minor may break the ABI),
/// `libemberkv.so.<major>` after. The Makefile installs the symlinks.
fn soname() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "freebsd" {
        let soname = if major == "0" {
            format!("libemberkv.so.0.{minor}")
        } else {
            format!("libemberkv.so.{major}")
        };
        println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
}

#[cfg(feature = "header")]
fn header() {
    use std::path::PathBuf;

    // The whole directory: with_src follows `mod x;` into the other files.
    println!("cargo::rerun-if-changed=src");
    println!("cargo::rerun-if-changed=cbindgen.toml");
    // A hand-edited header is regenerated too (cbindgen only writes when the
    // text differs, so an up-to-date header does not retrigger the script).
    println!("cargo::rerun-if-changed=../include/emberkv.h");

    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("ffi/cbindgen.toml");
    let v = |k: &str| std::env::var(k).unwrap();
    // Version macros: from Cargo.toml, so they can never disagree with ekv_version().
    config.after_includes = Some(format!(
        "\n/** The version of emberkv this header belongs to (see also ekv_version()). */\n\
         #define EKV_VERSION_MAJOR {}\n#define EKV_VERSION_MINOR {}\n#define EKV_VERSION_PATCH {}\n\
         #define EKV_VERSION_STRING \"{}\"\n\
         /** EKV_VERSION_NUMBER >= EKV_MAKE_VERSION(0, 2, 0) tests for a minimum version. */\n\
         #define EKV_MAKE_VERSION(major, minor, patch) ((major) * 1000000 + (minor) * 1000 + (patch))\n\
         #define EKV_VERSION_NUMBER EKV_MAKE_VERSION(EKV_VERSION_MAJOR, EKV_VERSION_MINOR, EKV_VERSION_PATCH)",
        v("CARGO_PKG_VERSION_MAJOR"),
        v("CARGO_PKG_VERSION_MINOR"),
        v("CARGO_PKG_VERSION_PATCH"),
        v("CARGO_PKG_VERSION"),
    ));
    // with_src parses lib.rs and the modules it declares: no `cargo metadata`
    // subprocess, works offline, independent of the workspace's lockfile.
    let out = dir.join("../include/emberkv.h");
    match cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&out);
        }
        // Keep the committed header and say so loudly; check-header.sh catches it.
        Err(e) => {
            println!("cargo::warning=cbindgen failed, include/emberkv.h not regenerated: {e}")
        }
    }
}
