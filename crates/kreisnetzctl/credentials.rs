//! Which bearer token the calls carry, and where it came from.
//!
//! First found wins: `--token`, `--token-file`, `KREISNETZ_TOKEN`, `KREISNETZ_TOKEN_FILE` (flags
//! beat variables), then
//! the node's admin token `$KREISNETZ_DATA_DIR/admin.token` if that file exists, else
//! `./kreisnetz-data/admin.token`. [`resolve`] is a pure function of the flags, an environment
//! lookup and the working directory, so it is tested without touching the process environment.
//!
//! The token itself is a [`Secret`]: it has no `Display`, its `Debug` is redacted, and no error
//! message ever contains it (they name the flag, variable or file instead).
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::errors::Usage;

pub const TOKEN_ENV: &str = "KREISNETZ_TOKEN";
pub const TOKEN_FILE_ENV: &str = "KREISNETZ_TOKEN_FILE";
pub const DATA_DIR_ENV: &str = "KREISNETZ_DATA_DIR";
/// The node's default data directory (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "kreisnetz-data";
/// The file in the node's data directory holding the first admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// A token file is one short line; more than this is not a token (e.g. `--token-file /dev/zero`).
const MAX_FILE_BYTES: u64 = 4096;

/// A bearer token. Shown only by [`Secret::expose`], never by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The token, checked: printable ASCII without spaces, not empty. The error says what is
    /// wrong without repeating the value.
    pub fn new(s: &str) -> Result<Secret, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the token is empty".into());
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "that is not a token (a token is one word of printable ASCII, e.g. kn1.<id>.<secret>)"
                    .into(),
            );
        }
        Ok(Secret(s.to_string()))
    }

    /// The value as given, unchecked (a flag's value before [`resolve`] checks it).
    pub fn unchecked(s: &str) -> Secret {
        Secret(s.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where the token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--token`.
    Flag,
    /// `KREISNETZ_TOKEN`.
    Env,
    /// `--token-file` or `KREISNETZ_TOKEN_FILE`.
    File(PathBuf),
    /// The node's `admin.token` in its data directory.
    AdminFile(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("--token"),
            Source::Env => f.write_str(TOKEN_ENV),
            Source::File(p) | Source::AdminFile(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The outcome of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Token {
        secret: Secret,
        source: Source,
    },
    /// No token: the calls go without one. `notes` say why an admin token file that exists was
    /// not used (unreadable, empty, ...).
    None {
        notes: Vec<String>,
    },
}

impl Resolved {
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Resolved::Token { secret, .. } => Some(secret),
            Resolved::None { .. } => None,
        }
    }
}

/// Finds the token: `token` and `token_file` are the flags' values, `env` looks up an
/// environment variable, and relative paths are taken from `cwd`.
///
/// A token given by flag or variable that is not a token, and a token file given by flag or
/// variable that cannot be read or holds no token, are usage errors naming where it came from.
/// A missing admin token file only means no token; one that exists but cannot be used is a note.
/// Empty environment variables count as unset.
pub fn resolve(
    token: Option<&str>,
    token_file: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
    cwd: &Path,
) -> Result<Resolved, Usage> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());

    // Flags first, then variables (a flag given now beats a variable set long ago).
    if let Some(t) = token {
        let secret = Secret::new(t).map_err(|e| Usage(format!("--token: {e}")))?;
        return Ok(Resolved::Token {
            secret,
            source: Source::Flag,
        });
    }
    if let Some(p) = token_file {
        let path = cwd.join(p);
        let secret = read_token_file(&path)
            .map_err(|e| Usage(format!("--token-file {}: {e}", path.display())))?;
        return Ok(Resolved::Token {
            secret,
            source: Source::File(path),
        });
    }
    if let Some(t) = env(TOKEN_ENV) {
        let secret = t
            .to_str()
            .ok_or_else(|| "the token is not ASCII".to_string())
            .and_then(Secret::new)
            .map_err(|e| Usage(format!("{TOKEN_ENV}: {e}")))?;
        return Ok(Resolved::Token {
            secret,
            source: Source::Env,
        });
    }

    if let Some(path) = env(TOKEN_FILE_ENV).map(PathBuf::from) {
        let path = cwd.join(path);
        let secret = read_token_file(&path)
            .map_err(|e| Usage(format!("{TOKEN_FILE_ENV} {}: {e}", path.display())))?;
        return Ok(Resolved::Token {
            secret,
            source: Source::File(path),
        });
    }

    let data_dir = env(DATA_DIR_ENV)
        .map(|d| cwd.join(d).join(ADMIN_TOKEN_FILE))
        .filter(|p| p.exists());
    let path = data_dir.unwrap_or_else(|| cwd.join(DEFAULT_DATA_DIR).join(ADMIN_TOKEN_FILE));
    if !path.exists() {
        return Ok(Resolved::None { notes: Vec::new() });
    }
    Ok(match read_token_file(&path) {
        Ok(secret) => Resolved::Token {
            secret,
            source: Source::AdminFile(path),
        },
        Err(e) => Resolved::None {
            notes: vec![format!("{} exists but was not used: {e}", path.display())],
        },
    })
}

/// The token in a file: its contents without surrounding whitespace and newline.
fn read_token_file(path: &Path) -> Result<Secret, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read it: {}", io_reason(&e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "more than {MAX_FILE_BYTES} bytes: not a token file"
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "it does not hold a token".to_string())?;
    match text.trim() {
        "" => Err("the file is empty".into()),
        t => Secret::new(t).map_err(|_| {
            "it does not hold a token (expected one line like kn1.<id>.<secret>)".to_string()
        }),
    }
}

/// `permission denied` rather than `Permission denied (os error 13)`.
fn io_reason(e: &std::io::Error) -> String {
    let text = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const ADMIN: &str = "kn1.admin000.secretofthedatadir";
    const OTHER: &str = "kn1.other000.secretoftheenvdir";

    /// An environment with just these variables.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn token_of(r: &Resolved) -> (&str, &Source) {
        match r {
            Resolved::Token { secret, source } => (secret.expose(), source),
            Resolved::None { .. } => panic!("no token: {r:?}"),
        }
    }

    /// A working directory with `./kreisnetz-data/admin.token`, a data directory `other/` with
    /// its own admin token, and a token file `portal.token`.
    fn workdir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("kreisnetz-data/admin.token"),
            &format!("{ADMIN}\n"),
        );
        write(&dir.path().join("other/admin.token"), &format!("{OTHER}\n"));
        write(
            &dir.path().join("portal.token"),
            "  kn1.portal00.fromfile \n\n",
        );
        dir
    }

    #[test]
    fn the_first_source_given_wins() {
        let dir = workdir();
        let cwd = dir.path();
        let file = Path::new("portal.token");
        let all = env(&[
            (TOKEN_ENV, "kn1.env00000.fromenv"),
            (TOKEN_FILE_ENV, "other/admin.token"),
            (DATA_DIR_ENV, "other"),
        ]);

        let r = resolve(Some("kn1.flag0000.fromflag"), Some(file), &all, cwd).unwrap();
        assert_eq!(token_of(&r), ("kn1.flag0000.fromflag", &Source::Flag));

        // An explicit --token-file beats the variables.
        let r = resolve(None, Some(file), &all, cwd).unwrap();
        assert_eq!(
            token_of(&r),
            (
                "kn1.portal00.fromfile",
                &Source::File(cwd.join("portal.token"))
            )
        );
        let r = resolve(None, None, &all, cwd).unwrap();
        assert_eq!(token_of(&r), ("kn1.env00000.fromenv", &Source::Env));

        let no_token_env = env(&[
            (TOKEN_FILE_ENV, "other/admin.token"),
            (DATA_DIR_ENV, "other"),
        ]);
        let r = resolve(None, Some(file), &no_token_env, cwd).unwrap();
        assert_eq!(
            token_of(&r),
            (
                "kn1.portal00.fromfile",
                &Source::File(cwd.join("portal.token"))
            )
        );

        let r = resolve(None, None, &no_token_env, cwd).unwrap();
        assert_eq!(
            token_of(&r),
            (OTHER, &Source::File(cwd.join("other/admin.token")))
        );

        let r = resolve(None, None, env(&[(DATA_DIR_ENV, "other")]), cwd).unwrap();
        assert_eq!(
            token_of(&r),
            (OTHER, &Source::AdminFile(cwd.join("other/admin.token")))
        );

        let r = resolve(None, None, env(&[]), cwd).unwrap();
        assert_eq!(
            token_of(&r),
            (
                ADMIN,
                &Source::AdminFile(cwd.join("kreisnetz-data/admin.token"))
            )
        );
    }

    #[test]
    fn a_data_dir_without_a_token_falls_back_to_the_default_one() {
        let dir = workdir();
        let r = resolve(None, None, env(&[(DATA_DIR_ENV, "nowhere")]), dir.path()).unwrap();
        assert_eq!(token_of(&r).0, ADMIN);
        // An absolute data directory is used as it is.
        let absolute = dir.path().join("other");
        let r = resolve(
            None,
            None,
            env(&[(DATA_DIR_ENV, absolute.to_str().unwrap())]),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(token_of(&r).0, OTHER);
    }

    #[test]
    fn no_admin_token_file_means_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let r = resolve(None, None, env(&[(DATA_DIR_ENV, "x")]), dir.path()).unwrap();
        assert_eq!(r, Resolved::None { notes: vec![] });
        assert!(r.secret().is_none());
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let dir = workdir();
        let r = resolve(
            None,
            None,
            env(&[(TOKEN_ENV, ""), (TOKEN_FILE_ENV, ""), (DATA_DIR_ENV, "")]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(token_of(&r).0, ADMIN);
    }

    #[test]
    fn a_given_token_file_that_cannot_be_read_is_a_usage_error_naming_it() {
        let dir = workdir();
        let cwd = dir.path();
        write(&cwd.join("empty.token"), " \n");
        write(&cwd.join("two-words.token"), "kn1.a.b kn1.c.d\n");
        for (file, reason) in [
            ("missing.token", "cannot read it: no such file"),
            ("empty.token", "the file is empty"),
            ("two-words.token", "does not hold a token"),
            (".", "cannot read it"),
        ] {
            let err = resolve(None, Some(Path::new(file)), env(&[]), cwd).unwrap_err();
            let text = err.to_string();
            let path = cwd.join(file).display().to_string();
            assert!(
                text.starts_with(&format!("--token-file {path}: ")) && text.contains(reason),
                "{file}: {text}"
            );
            assert!(!text.contains("kn1.a.b"), "{text}");
        }
        let err = resolve(None, None, env(&[(TOKEN_FILE_ENV, "missing.token")]), cwd).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{TOKEN_FILE_ENV} {}: cannot read it",
                cwd.join("missing.token").display()
            )),
            "{err}"
        );
    }

    #[test]
    fn an_unusable_admin_token_file_is_a_note_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("kreisnetz-data/admin.token"), "\n");
        let r = resolve(None, None, env(&[]), dir.path()).unwrap();
        let Resolved::None { notes } = r else {
            panic!("{r:?}")
        };
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0]
                .contains("kreisnetz-data/admin.token exists but was not used: the file is empty"),
            "{notes:?}"
        );
    }

    #[test]
    fn bad_tokens_are_refused_without_being_repeated() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "  ", "kn1.a b", "kn1.ä.b"] {
            let err = resolve(Some(bad), None, env(&[]), dir.path()).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("--token: "), "{text}");
            if !bad.trim().is_empty() {
                assert!(!text.contains(bad.trim()), "{text}");
            }
        }
        let err = resolve(None, None, env(&[(TOKEN_ENV, "a b")]), dir.path()).unwrap_err();
        assert!(err.to_string().starts_with("KREISNETZ_TOKEN: "), "{err}");
        // Surrounding whitespace is not part of the token.
        let r = resolve(Some(" kn1.x.y\n"), None, env(&[]), dir.path()).unwrap();
        assert_eq!(token_of(&r).0, "kn1.x.y");
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let secret = Secret::new("kn1.abc.topsecret").unwrap();
        let r = Resolved::Token {
            secret: secret.clone(),
            source: Source::Flag,
        };
        assert!(!format!("{secret:?} {r:?} {r:#?}").contains("topsecret"));
    }

    #[test]
    fn oversized_files_are_not_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, "a".repeat(10_000)).unwrap();
        let err = resolve(None, Some(&big), env(&[]), dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a token file"), "{err}");
    }
}
