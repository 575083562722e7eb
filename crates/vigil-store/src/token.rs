//! API tokens: bearer secrets with scopes, stored only as SHA-256 hashes.
//!
//! A secret is `vgl_` followed by 64 hex digits (256 random bits from the operating system).
//! It is shown once, when created; the store keeps its hash, so a copy of the database does not
//! hand out working tokens. Scopes are plain strings (`ingest`, `read`, `write`, `admin`): what
//! each allows is the server's business.

use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::time::Timestamp;

/// A token's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub i64);

/// A token just created: the only time its secret is known.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Row id.
    pub id: TokenId,
    /// The bearer secret.
    pub secret: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A token as stored (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Row id.
    pub id: TokenId,
    /// Its name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Created at.
    pub created_at: Timestamp,
    /// Last successful verification (kept to a minute's precision to spare writes).
    pub last_used_at: Option<Timestamp>,
    /// Revoked at; a revoked token never verifies.
    pub revoked_at: Option<Timestamp>,
}

/// The prefix that marks a vigil secret (helps secret scanners and humans).
pub const SECRET_PREFIX: &str = "vgl_";

/// A fresh random secret.
pub(crate) fn generate_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    let mut secret = String::with_capacity(SECRET_PREFIX.len() + 64);
    secret.push_str(SECRET_PREFIX);
    push_hex(&mut secret, &bytes);
    Ok(secret)
}

/// A random 128-bit id in hex (event ids).
pub(crate) fn random_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    let mut id = String::with_capacity(32);
    push_hex(&mut id, &bytes);
    Ok(id)
}

/// The stored form of a secret: SHA-256, lower-case hex.
pub(crate) fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    push_hex(&mut out, &digest);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_are_prefixed_random_hex() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 68);
        assert!(a.starts_with(SECRET_PREFIX));
        assert!(a[4..].bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
