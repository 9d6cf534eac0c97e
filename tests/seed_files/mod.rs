//! The committed fuzz seeds (`fuzz/seeds/<target>/`), shared by the three
//! seed-replay tests (`fuzz_seeds`, `fuzz_seeds_session`,
//! `fuzz_seeds_devices`): reading them, replaying them through a target's
//! check, comparing them with what the checks generate, and rewriting them.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

/// Seeds as the checks generate them: `(target, file name, bytes)`.
pub type Seeds = Vec<(&'static str, String, Vec<u8>)>;

fn seed_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target)
}

/// The committed seeds of `target`, by file name.
pub fn committed(target: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = seed_dir(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect()
}

/// Runs every committed seed of `target` through `check`.
pub fn replay(target: &str, check: fn(&[u8])) {
    let seeds = committed(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    for (name, data) in &seeds {
        let outcome = std::panic::catch_unwind(|| check(data));
        assert!(outcome.is_ok(), "{target}: seed {name} fails its check");
    }
}

/// Runs every file of the committed directory `dir` (relative to the
/// repository, e.g. a target's `fuzz/corpus-min/<target>`) through `check`.
#[allow(dead_code)]
pub fn replay_dir(dir: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    for e in entries {
        let path = e.unwrap().path();
        let data = fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails its check", path.display());
    }
}

/// Every committed seed directory of `targets` holds exactly what the
/// checks generate; `test` names the test that rewrites them.
pub fn assert_current(targets: &[&str], seeds: Seeds, test: &str) {
    let mut want: BTreeMap<&str, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (target, name, data) in seeds {
        want.entry(target).or_default().insert(name, data);
    }
    for target in targets {
        let got = committed(target);
        assert!(
            want.get(target) == Some(&got),
            "fuzz/seeds/{target} is out of date; rewrite it with \
             `cargo test --test {test} -- --ignored write_seeds`"
        );
    }
}

/// Rewrites the seed directories of `targets`.
pub fn write(targets: &[&str], seeds: Seeds) {
    for target in targets {
        let dir = seed_dir(target);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir_all(&dir).unwrap();
    }
    for (target, name, data) in seeds {
        fs::write(seed_dir(target).join(name), data).unwrap();
    }
}
