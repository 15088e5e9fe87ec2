//! API tokens and roles.
//!
//! A token is `kn1.<id>.<secret>`: the id names the token (in lists, logs and revocations), the
//! secret proves it. The node stores only SHA-256 of the secret, in the node's database (meta key
//! `api-tokens`), and keeps the table in memory, so checking a call costs one hash and one map
//! lookup and a revocation takes effect on the very next call. Tokens never appear in logs; only
//! their ids do.
//!
//! Open streams (`Watch`) outlive the call that authenticated them, so a revocation is also
//! announced on a `watch` channel ([`Tokens::revocations`]); a stream of a revoked token ends
//! with `UNAUTHENTICATED`. The "last used" time of each token is kept in memory on every call
//! and written to storage at most once per [`LAST_USED_SAVE_INTERVAL`] and at shutdown, never
//! once per call.
//!
//! A token's name can never be taken for another token's id: ids are eight characters of
//! base32 (`a-z`, `2-7`), and a name of that shape is refused, as is a `:` in a name.
//! `RevokeToken` takes `id:<id>`, `name:<name>`, or a bare string that is the id or the name of
//! exactly one token (tokens stored before the rule existed could make it ambiguous: then it is
//! refused).
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kreisnetz_model::Timestamp;
use kreisnetz_storage::Store;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do. Ordered: each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read and watch.
    Reader,
    /// Also write the own district's offerings and contacts.
    Editor,
    /// Everything, including tokens, peers and trusted districts.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

/// One stored token (without its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the secret part.
    pub hash: String,
    pub created_ms: i64,
    #[serde(default)]
    pub last_used_ms: Option<i64>,
}

/// The caller of an authenticated request (in the request's extensions).
#[derive(Clone, Debug)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    /// A name that is taken.
    #[error("{0}")]
    Exists(String),
    /// A revocation that could mean two tokens.
    #[error("{0}")]
    Ambiguous(String),
    #[error("storage: {0}")]
    Storage(String),
}

const META_KEY: &str = "api-tokens";
const PREFIX: &str = "kn1";

/// How often changed "last used" times are written to storage (and once more at shutdown).
pub const LAST_USED_SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// Bytes of randomness in a token id: 5 bytes are 8 base32 characters.
const ID_BYTES: usize = 5;
const ID_CHARS: usize = 8;

/// Whether `s` has the shape of a token id (8 characters of lower-case base32, any case here).
fn looks_like_id(s: &str) -> bool {
    s.len() == ID_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
}

/// The node's token table.
pub struct Tokens {
    store: Arc<dyn Store>,
    table: RwLock<HashMap<String, TokenRecord>>,
    /// Some "last used" time changed since the table was last written.
    last_used_dirty: AtomicBool,
    /// Bumped on every revocation; streams of a token watch it and check their token.
    revoked: tokio::sync::watch::Sender<u64>,
}

fn hash(secret: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

fn random_base32(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    data_encoding::BASE32_NOPAD.encode(&buf).to_lowercase()
}

impl Tokens {
    /// Loads the table from storage.
    pub fn load(store: Arc<dyn Store>) -> Result<Self, TokenError> {
        let table = match store
            .meta(META_KEY)
            .map_err(|e| TokenError::Storage(e.to_string()))?
        {
            Some(bytes) => {
                let list: Vec<TokenRecord> = serde_json::from_slice(&bytes).map_err(|e| {
                    TokenError::Storage(format!("the token table is unreadable: {e}"))
                })?;
                list.into_iter().map(|t| (t.id.clone(), t)).collect()
            }
            None => HashMap::new(),
        };
        Ok(Tokens {
            store,
            table: RwLock::new(table),
            last_used_dirty: AtomicBool::new(false),
            revoked: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Changes whenever a token is revoked: a long-lived call of a token (a `Watch` stream)
    /// waits on it and then asks [`Tokens::is_valid`].
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revoked.subscribe()
    }

    /// Whether the token with this id still exists.
    pub fn is_valid(&self, id: &str) -> bool {
        self.table
            .read()
            .map(|t| t.contains_key(id))
            .unwrap_or(false)
    }

    /// Writes the table if a "last used" time changed since it was last written. Called every
    /// [`LAST_USED_SAVE_INTERVAL`] and at shutdown; the write is not flushed here (the node's
    /// next flush, at the latest the one at shutdown, makes it durable).
    pub fn save_last_used(&self) -> Result<(), TokenError> {
        if !self.last_used_dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        // Under the write lock, so a concurrent create or revoke cannot be overwritten by an
        // older copy of the table.
        let table = self
            .table
            .write()
            .map_err(|_| TokenError::Storage("token table poisoned".into()))?;
        let result = self.write_table(&table);
        if result.is_err() {
            self.last_used_dirty.store(true, Ordering::Release);
        }
        result
    }

    pub fn is_empty(&self) -> bool {
        self.table.read().map(|t| t.is_empty()).unwrap_or(true)
    }

    fn write_table(&self, table: &HashMap<String, TokenRecord>) -> Result<(), TokenError> {
        let mut list: Vec<&TokenRecord> = table.values().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let bytes = serde_json::to_vec(&list).map_err(|e| TokenError::Storage(e.to_string()))?;
        self.store
            .put_meta(META_KEY, &bytes)
            .map_err(|e| TokenError::Storage(e.to_string()))
    }

    /// Writes and flushes the table (a created or revoked token is durable when acknowledged);
    /// the "last used" times go with it.
    fn save(&self, table: &HashMap<String, TokenRecord>) -> Result<(), TokenError> {
        self.write_table(table)?;
        self.last_used_dirty.store(false, Ordering::Release);
        self.store
            .flush()
            .map_err(|e| TokenError::Storage(e.to_string()))
    }

    /// Creates a token; returns its record and the secret token string (shown once).
    pub fn create(&self, name: &str, role: Role) -> Result<(TokenRecord, String), TokenError> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > 100
            || name
                .chars()
                .any(|c| c.is_control() || kreisnetz_model::is_invisible(c) || c == ':')
        {
            return Err(TokenError::Invalid(
                "a token name is 1 to 100 characters without spaces, control or invisible \
                 characters or ':', e.g. district-portal"
                    .into(),
            ));
        }
        if looks_like_id(name) {
            return Err(TokenError::Invalid(format!(
                "{} has the shape of a token id (eight letters and digits 2-7), so a revocation \
                 by name could hit another token; pick a name that is longer, shorter or has a \
                 '-' in it",
                kreisnetz_model::quote(name)
            )));
        }
        let mut table = self
            .table
            .write()
            .map_err(|_| TokenError::Storage("token table poisoned".into()))?;
        if table.values().any(|t| t.name == name) {
            return Err(TokenError::Exists(format!(
                "a token named \"{name}\" exists; revoke it or pick another name"
            )));
        }
        let id = loop {
            let id = random_base32(ID_BYTES);
            // No id equal to a stored name (possible for names stored before the rule above).
            if !table.contains_key(&id) && !table.values().any(|t| t.name == id) {
                break id;
            }
        };
        let secret = random_base32(20);
        let record = TokenRecord {
            id: id.clone(),
            name: name.to_string(),
            role,
            hash: hash(&secret),
            created_ms: Timestamp::now().0,
            last_used_ms: None,
        };
        let mut next = table.clone();
        next.insert(id.clone(), record.clone());
        self.save(&next)?;
        *table = next;
        tracing::info!(token = %id, name, role = role.name(), "API token created");
        Ok((record, format!("{PREFIX}.{id}.{secret}")))
    }

    /// Revokes `id:<id>`, `name:<name>`, or the one token whose id or name is `which`; true if
    /// one was found. Refused as [`TokenError::Ambiguous`] if `which` is one token's id and
    /// another's name. Every open stream of the revoked token ends.
    pub fn revoke(&self, which: &str) -> Result<bool, TokenError> {
        let which = which.trim();
        let mut table = self
            .table
            .write()
            .map_err(|_| TokenError::Storage("token table poisoned".into()))?;
        let by_id = |id: &str| table.get(id).map(|t| t.id.clone());
        let by_name = |name: &str| {
            table
                .values()
                .find(|t| t.name == name)
                .map(|t| t.id.clone())
        };
        let found = if let Some(id) = which.strip_prefix("id:") {
            by_id(id.trim())
        } else if let Some(name) = which.strip_prefix("name:") {
            by_name(name.trim())
        } else {
            match (by_id(which), by_name(which)) {
                (Some(a), Some(b)) if a != b => {
                    return Err(TokenError::Ambiguous(format!(
                        "{q} is the id of one token and the name of another ({b}); say which: \
                         id:{which} or name:{which}",
                        q = kreisnetz_model::quote(which)
                    )));
                }
                (a, b) => a.or(b),
            }
        };
        let Some(id) = found else {
            return Ok(false);
        };
        let mut next = table.clone();
        next.remove(&id);
        self.save(&next)?;
        *table = next;
        drop(table);
        self.revoked.send_modify(|n| *n += 1);
        tracing::info!(token = %id, "API token revoked");
        Ok(true)
    }

    /// Every token, by name.
    pub fn list(&self) -> Vec<TokenRecord> {
        let mut list: Vec<TokenRecord> = self
            .table
            .read()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Checks a presented token; records its use.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let mut parts = token.trim().splitn(3, '.');
        let (Some(PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let presented = hash(secret);
        let mut table = self.table.write().ok()?;
        let record = table.get_mut(id)?;
        // Both are hex digests of equal length; compare without an early exit.
        let same = record.hash.len() == presented.len()
            && record
                .hash
                .bytes()
                .zip(presented.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return None;
        }
        record.last_used_ms = Some(Timestamp::now().0);
        self.last_used_dirty.store(true, Ordering::Release);
        Some(Caller {
            token_id: record.id.clone(),
            role: record.role,
        })
    }
}

/// The tonic interceptor: every call must carry a valid bearer token.
#[derive(Clone)]
pub struct Authenticate(pub Arc<Tokens>);

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        }) else {
            return Err(tonic::Status::unauthenticated(
                "this call needs `authorization: Bearer <token>`; kreisnetzctl finds the admin token in the data directory, or pass --token",
            ));
        };
        match self.0.authenticate(token) {
            Some(caller) => {
                req.extensions_mut().insert(caller);
                Ok(req)
            }
            None => Err(tonic::Status::unauthenticated(
                "the token is not valid (unknown, revoked or mistyped)",
            )),
        }
    }
}

/// Refuses the call unless its caller has at least `role`.
pub fn require<T>(req: &tonic::Request<T>, role: Role) -> Result<(), tonic::Status> {
    match req.extensions().get::<Caller>() {
        Some(c) if c.role >= role => Ok(()),
        Some(c) => Err(tonic::Status::permission_denied(format!(
            "this call needs the {} role; token {} has {}",
            role.name(),
            c.token_id,
            c.role.name()
        ))),
        None => Err(tonic::Status::unauthenticated("no authenticated caller")),
    }
}

/// Writes changed "last used" times every [`LAST_USED_SAVE_INTERVAL`] until `shutdown` (the
/// node writes them once more after its servers stopped, see `RunningNode::shutdown`).
pub fn spawn_last_used_saver(tokens: Arc<Tokens>, shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(LAST_USED_SAVE_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        let stop = crate::stopped(shutdown);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = &mut stop => return,
            }
            let tokens = tokens.clone();
            match tokio::task::spawn_blocking(move || tokens.save_last_used()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot save the tokens' last-used times"),
                Err(e) => tracing::warn!(error = %e, "saving the tokens' last-used times failed"),
            }
        }
    });
}

/// The file in the data directory holding the first admin token (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Creates the first admin token if the node has none, writing it to `<data_dir>/admin.token`
/// (mode 0600, readable only by the operator). Returns the file's path when it created one.
pub fn ensure_admin_token(
    tokens: &Tokens,
    data_dir: &std::path::Path,
) -> Result<Option<std::path::PathBuf>, TokenError> {
    if !tokens.is_empty() {
        return Ok(None);
    }
    let (_, token) = tokens.create("admin", Role::Admin)?;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    write_secret(&path, &format!("{token}\n"))
        .map_err(|e| TokenError::Storage(format!("cannot write {}: {e}", path.display())))?;
    Ok(Some(path))
}

fn write_secret(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// For `kreisnetz init`: opens the node's database in `data_dir` and creates the first admin
/// token (see [`ensure_admin_token`]).
pub fn init_admin_token(
    data_dir: &std::path::Path,
) -> Result<Option<std::path::PathBuf>, TokenError> {
    let store = kreisnetz_storage::SledStore::open(&data_dir.join(crate::node::DB_DIR))
        .map_err(|e| TokenError::Storage(e.to_string()))?;
    let tokens = Tokens::load(Arc::new(store))?;
    ensure_admin_token(&tokens, data_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_authenticate_until_revoked_and_survive_a_reload() {
        let store: Arc<dyn Store> = Arc::new(kreisnetz_storage::MemStore::new());
        let tokens = Tokens::load(store.clone()).unwrap();
        let (record, token) = tokens.create("district-portal", Role::Editor).unwrap();
        assert!(token.starts_with("kn1."));
        assert!(
            !serde_json::to_string(&tokens.list())
                .unwrap()
                .contains(token.rsplit('.').next().unwrap())
        );
        assert_eq!(tokens.authenticate(&token).unwrap().role, Role::Editor);
        assert!(tokens.authenticate(&token.replace(".", ".x")).is_none());
        assert!(tokens.authenticate("kn1.nope.nope").is_none());
        assert!(tokens.authenticate("").is_none());
        assert!(
            tokens.create("district-portal", Role::Reader).is_err(),
            "names are unique"
        );
        let reloaded = Tokens::load(store).unwrap();
        assert_eq!(reloaded.authenticate(&token).unwrap().token_id, record.id);
        assert!(reloaded.revoke("district-portal").unwrap());
        assert!(reloaded.authenticate(&token).is_none());
        assert!(!reloaded.revoke(&record.id).unwrap());
    }

    #[test]
    fn a_name_never_collides_with_an_id_and_ambiguous_revocations_are_refused() {
        let store: Arc<dyn Store> = Arc::new(kreisnetz_storage::MemStore::new());
        let tokens = Tokens::load(store.clone()).unwrap();
        let (alpha, alpha_token) = tokens.create("alpha", Role::Reader).unwrap();
        // A name with the shape of an id, this id in particular, is refused.
        let err = tokens.create(&alpha.id, Role::Reader).unwrap_err();
        assert!(matches!(err, TokenError::Invalid(_)), "{err}");
        assert!(tokens.create("abcdefgh", Role::Reader).is_err());
        assert!(tokens.create("ABCD2345", Role::Reader).is_err());
        assert!(tokens.create("id:alpha", Role::Reader).is_err());
        assert!(tokens.create("\u{200B}", Role::Reader).is_err());
        assert!(matches!(
            tokens.create("alpha", Role::Reader),
            Err(TokenError::Exists(_))
        ));
        tokens.create("district-portal", Role::Reader).unwrap();
        tokens.create("abcdefgh1", Role::Reader).unwrap();

        // A table from before the rule: a token named like another's id.
        let (beta, beta_token) = tokens.create("beta", Role::Reader).unwrap();
        {
            let mut table = tokens.table.write().unwrap();
            table.get_mut(&beta.id).unwrap().name = alpha.id.clone();
        }
        let err = tokens.revoke(&alpha.id).unwrap_err();
        assert!(matches!(err, TokenError::Ambiguous(_)), "{err}");
        assert!(
            err.to_string().contains(&format!("id:{}", alpha.id)),
            "{err}"
        );
        assert!(tokens.authenticate(&alpha_token).is_some());
        assert!(tokens.authenticate(&beta_token).is_some());
        // Saying which revokes exactly that one.
        assert!(tokens.revoke(&format!("name:{}", alpha.id)).unwrap());
        assert!(tokens.authenticate(&beta_token).is_none());
        assert!(tokens.authenticate(&alpha_token).is_some());
        assert!(tokens.revoke(&format!("id:{}", alpha.id)).unwrap());
        assert!(tokens.authenticate(&alpha_token).is_none());
        assert!(!tokens.revoke("id:nope").unwrap());
    }

    #[test]
    fn revocations_are_announced_and_last_used_is_saved_only_when_changed() {
        let store: Arc<dyn Store> = Arc::new(kreisnetz_storage::MemStore::new());
        let tokens = Tokens::load(store.clone()).unwrap();
        let (portal, token) = tokens.create("portal", Role::Reader).unwrap();
        let revocations = tokens.revocations();
        assert!(!revocations.has_changed().unwrap());
        for _ in 0..100 {
            tokens.authenticate(&token).unwrap();
        }
        // Not yet written: a reload sees no use.
        let reloaded = Tokens::load(store.clone()).unwrap();
        assert_eq!(reloaded.list()[0].last_used_ms, None);
        tokens.save_last_used().unwrap();
        let used = Tokens::load(store.clone()).unwrap().list()[0].last_used_ms;
        assert!(used.is_some());
        assert!(!tokens.last_used_dirty.load(Ordering::Acquire));
        tokens.save_last_used().unwrap(); // nothing changed: no write

        assert!(tokens.is_valid(&portal.id));
        tokens.revoke("portal").unwrap();
        assert!(revocations.has_changed().unwrap());
        assert!(!tokens.is_valid(&portal.id));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Editor && Role::Editor > Role::Reader);
    }
}
