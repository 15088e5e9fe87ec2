//! API tokens and roles.
//!
//! A token is `kn1.<id>.<secret>`: the id names the token (in lists, logs and revocations), the
//! secret proves it. The node stores only SHA-256 of the secret, in the node's database (meta key
//! `api-tokens`), and keeps the table in memory, so checking a call costs one hash and one map
//! lookup and a revocation takes effect on the very next call. Tokens never appear in logs; only
//! their ids do.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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
    #[error("storage: {0}")]
    Storage(String),
}

const META_KEY: &str = "api-tokens";
const PREFIX: &str = "kn1";

/// The node's token table.
pub struct Tokens {
    store: Arc<dyn Store>,
    table: RwLock<HashMap<String, TokenRecord>>,
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
        })
    }

    pub fn is_empty(&self) -> bool {
        self.table.read().map(|t| t.is_empty()).unwrap_or(true)
    }

    fn save(&self, table: &HashMap<String, TokenRecord>) -> Result<(), TokenError> {
        let mut list: Vec<&TokenRecord> = table.values().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let bytes = serde_json::to_vec(&list).map_err(|e| TokenError::Storage(e.to_string()))?;
        self.store
            .put_meta(META_KEY, &bytes)
            .and_then(|()| self.store.flush())
            .map_err(|e| TokenError::Storage(e.to_string()))
    }

    /// Creates a token; returns its record and the secret token string (shown once).
    pub fn create(&self, name: &str, role: Role) -> Result<(TokenRecord, String), TokenError> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 100
            || name.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(TokenError::Invalid(
                "a token name is 1 to 100 characters without spaces, e.g. district-portal".into(),
            ));
        }
        let mut table = self
            .table
            .write()
            .map_err(|_| TokenError::Storage("token table poisoned".into()))?;
        if table.values().any(|t| t.name == name) {
            return Err(TokenError::Invalid(format!(
                "a token named \"{name}\" exists; revoke it or pick another name"
            )));
        }
        let id = random_base32(5);
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

    /// Revokes by id or name; true if one was found.
    pub fn revoke(&self, id_or_name: &str) -> Result<bool, TokenError> {
        let mut table = self
            .table
            .write()
            .map_err(|_| TokenError::Storage("token table poisoned".into()))?;
        let Some(id) = table
            .values()
            .find(|t| t.id == id_or_name || t.name == id_or_name)
            .map(|t| t.id.clone())
        else {
            return Ok(false);
        };
        let mut next = table.clone();
        next.remove(&id);
        self.save(&next)?;
        *table = next;
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
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Editor && Role::Editor > Role::Reader);
    }
}
