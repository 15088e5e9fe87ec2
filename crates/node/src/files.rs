//! Permissions of the data directory and the files in it that are not keys (the identity crate
//! checks the keys): a node refuses to start when others could change its configuration or read
//! its admin token, the same way it refuses keys readable by others.
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::auth::ADMIN_TOKEN_FILE;
use crate::config::CONFIG_FILE;

/// Refuses a data directory or configuration file that others may write (anyone could then
/// point the node at their own peers, or replace its files) and an `admin.token` that group or
/// others may read or write (it is an admin credential). Warns about group-writable ones.
pub fn check_permissions(data_dir: &Path) -> Result<(), String> {
    let mode_of = |path: &Path| -> Result<Option<u32>, String> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(Some(m.permissions().mode() & 0o7777)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot access {}: {e}", path.display())),
        }
    };
    let writable_by_others = |path: &Path, what: &str, fix: &str| -> Result<(), String> {
        match mode_of(path)? {
            Some(mode) if mode & 0o002 != 0 => Err(format!(
                "{} has mode {mode:04o}: the {what} is writable by every user of this machine, \
                 so the node does not start. Run `chmod {fix} {}` (and check that nothing in it \
                 was changed)",
                path.display(),
                path.display()
            )),
            Some(mode) if mode & 0o020 != 0 => {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:04o}"),
                    "the {what} is writable by its group; consider `chmod g-w`"
                );
                Ok(())
            }
            _ => Ok(()),
        }
    };
    writable_by_others(data_dir, "data directory", "700")?;
    writable_by_others(&data_dir.join(CONFIG_FILE), "configuration file", "600")?;
    let token = data_dir.join(ADMIN_TOKEN_FILE);
    if let Some(mode) = mode_of(&token)?
        && mode & 0o077 != 0
    {
        return Err(format!(
            "{} has mode {mode:04o}: the admin token is open to group or others, so the node \
             does not start. Run `chmod 600 {}` (and revoke the token with `kreisnetzctl token \
             revoke admin` if others could read it)",
            token.display(),
            token.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn loose_permissions_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        set_mode(dir.path(), 0o700);
        check_permissions(dir.path()).unwrap();

        let token = dir.path().join(ADMIN_TOKEN_FILE);
        std::fs::write(&token, "kn1.x.y\n").unwrap();
        set_mode(&token, 0o644);
        let err = check_permissions(dir.path()).unwrap_err();
        assert!(
            err.contains("admin.token") && err.contains("chmod 600"),
            "{err}"
        );
        set_mode(&token, 0o600);
        check_permissions(dir.path()).unwrap();

        let config = dir.path().join(CONFIG_FILE);
        std::fs::write(&config, "").unwrap();
        set_mode(&config, 0o666);
        let err = check_permissions(dir.path()).unwrap_err();
        assert!(err.contains("kreisnetz.toml"), "{err}");
        set_mode(&config, 0o644);
        check_permissions(dir.path()).unwrap();

        set_mode(dir.path(), 0o777);
        let err = check_permissions(dir.path()).unwrap_err();
        assert!(err.contains("data directory"), "{err}");
        set_mode(dir.path(), 0o700);
    }
}
