//! `X-Chat-Signature`: HMAC-SHA256 of the exact body bytes, keyed with the
//! configured secret, as `sha256=<lower-case hex>`.

use std::fmt::Write;

use hmac::{Hmac, Mac, digest::InvalidLength};
use sha2::Sha256;

/// Signs bodies with one key; cheap to clone.
#[derive(Clone)]
pub struct Signer(Hmac<Sha256>);

impl Signer {
    pub fn new(secret: &[u8]) -> Result<Self, InvalidLength> {
        Hmac::new_from_slice(secret).map(Self)
    }

    /// The header value for `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let mut header = String::with_capacity(7 + 2 * digest.len());
        header.push_str("sha256=");
        for byte in digest {
            let _ = write!(header, "{byte:02x}");
        }
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &[u8], body: &[u8]) -> String {
        Signer::new(key).unwrap().sign(body)
    }

    #[test]
    fn the_signature_matches_rfc_4231_test_case_2() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn another_body_or_key_gives_another_signature() {
        let base = sign(b"key", b"{}");
        assert_ne!(base, sign(b"key", b"{} "));
        assert_ne!(base, sign(b"kez", b"{}"));
    }

    #[test]
    fn one_signer_signs_many_bodies_independently() {
        let signer = Signer::new(b"key").unwrap();
        let first = signer.sign(b"a");
        signer.sign(b"b");
        assert_eq!(signer.sign(b"a"), first);
    }
}
