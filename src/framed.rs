//! The framing of edgeclip's binary files (prompt caches, calibrations, monitor state):
//! an 8-byte magic, a format version, the payload length, the payload, and its SHA-256,
//! so a truncated, foreign or bit-flipped file is a clear error, never a wrong result.

use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

const HEADER_LEN: usize = 8 + 4 + 8;
const CHECKSUM_LEN: usize = 32;

/// Frames `payload` under `magic` and `version`.
pub fn encode(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + CHECKSUM_LEN);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&Sha256::digest(payload));
    out
}

/// Checks the frame and returns the payload; `what` names the file kind in errors
/// ("prompt cache"), `remedy` says how to make a new one.
pub fn decode<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    version: u32,
    what: &str,
    remedy: &str,
) -> Result<&'a [u8]> {
    if bytes.len() < magic.len() || &bytes[..magic.len()] != magic {
        bail!("not an edgeclip {what} (bad magic bytes)");
    }
    if bytes.len() < HEADER_LEN {
        bail!("{what} is truncated ({} bytes)", bytes.len());
    }
    let found = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if found != version {
        bail!("{what} format version {found} is not supported (this edgeclip reads version {version}); {remedy}");
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len_bytes);
    let expected = (HEADER_LEN as u64)
        .checked_add(len)
        .and_then(|n| n.checked_add(CHECKSUM_LEN as u64));
    match expected {
        Some(n) if n == bytes.len() as u64 => {}
        Some(n) if n > bytes.len() as u64 => {
            bail!("{what} is truncated ({} of {n} bytes)", bytes.len())
        }
        _ => bail!("{what} is corrupted (length field does not match the file)"),
    }
    let payload = &bytes[HEADER_LEN..HEADER_LEN + len as usize];
    if Sha256::digest(payload).as_slice() != &bytes[HEADER_LEN + len as usize..] {
        bail!("{what} is corrupted (checksum mismatch)");
    }
    Ok(payload)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::model::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_truncation_and_every_bit_flip_is_an_error() {
        let bytes = encode(b"ECTESTXX", 3, b"hello payload");
        fn dec(b: &[u8]) -> Result<&[u8]> {
            decode(b, b"ECTESTXX", 3, "test file", "remake it")
        }
        assert_eq!(dec(&bytes).unwrap(), b"hello payload");
        for n in 0..bytes.len() {
            assert!(dec(&bytes[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(dec(&b).is_err(), "flip at {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(dec(&longer).is_err());
        let other = encode(b"ECTESTXX", 4, b"x");
        assert!(format!("{:#}", dec(&other).unwrap_err()).contains("remake it"));
    }
}
