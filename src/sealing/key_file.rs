//! The local seal key: for a broker run on one machine without `secrets.seal_key`, a key
//! generated once and kept in a file beside the configuration, so a restart signs nobody out
//! (refresh handles sealed before it still open). Never used with Redis or in production,
//! where every replica must be given the same key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Its name inside the configuration directory (ignored by git).
pub const FILE_NAME: &str = "seal_key.local";

pub fn path_in(config_dir: &Path) -> PathBuf {
    config_dir.join(FILE_NAME)
}

/// The key kept at `path`, and whether it was created just now.
pub fn load_or_create(path: &Path) -> Result<(SecretString, bool), String> {
    match read(path)? {
        Some(key) => Ok((key, false)),
        None => create(path).map(|key| (key, true)),
    }
}

/// The key kept at `path`, if there is one; reading never creates it (for `check-config`).
pub fn read(path: &Path) -> Result<Option<SecretString>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(format!(
            "the local seal key {} is empty; delete it to have a new one generated, or set secrets.seal_key",
            path.display()
        )),
        Ok(text) => Ok(Some(SecretString::from(text.trim().to_owned()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "cannot read the local seal key {} ({e}); set secrets.seal_key or fix the file",
            path.display()
        )),
    }
}

fn create(path: &Path) -> Result<SecretString, String> {
    let fail = |e: std::io::Error| {
        format!(
            "cannot keep a seal key in {} ({e}), so refresh handles stop working when the broker restarts; set secrets.seal_key",
            path.display()
        )
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let key = STANDARD.encode(crate::random::bytes::<32>());
    // Written whole under a name of its own, then linked into place: a broker starting at the
    // same moment sees either no key file or a complete one, and exactly one key wins.
    let draft = dir.join(format!(
        ".{FILE_NAME}.{}",
        STANDARD
            .encode(crate::random::bytes::<6>())
            .replace('/', "_")
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&draft).and_then(|mut file| {
        file.write_all(key.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Ok(SecretString::from(key)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| fail(std::io::Error::other("it vanished while being read")))
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_key_is_created_once_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(&dir.path().join("config"));
        let (first, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (second, created_again) = load_or_create(&path).unwrap();
        assert!(!created_again);
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert!(crate::sealing::RefreshSealer::from_base64(first.expose_secret()).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key file is readable by others");
        }
    }

    #[test]
    fn brokers_starting_together_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        let keys: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(&path).unwrap().0))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().expose_secret().to_owned())
                .collect()
        });
        assert!(
            keys.iter().all(|k| k == &keys[0] && k.len() == 44),
            "{keys:?}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no drafts are left behind");
    }

    #[test]
    fn reading_a_missing_key_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_in(dir.path());
        assert!(read(&path).unwrap().is_none());
        assert!(!path.exists());
    }
}
