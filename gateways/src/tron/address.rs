//! TRON addresses: Base58Check of `0x41 ‖ 20 bytes`. Logs carry the 20-byte
//! (EVM) form in hex, `contract_address` the 21-byte form.
use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a TRON address: {0}")]
pub struct InvalidAddress(pub String);

fn checksum(payload: &[u8]) -> [u8; 4] {
    let twice = Sha256::digest(Sha256::digest(payload));
    [twice[0], twice[1], twice[2], twice[3]]
}

/// The 21 bytes (`0x41` first) of a base58 `T…` address, checksum verified.
pub fn decode(address: &str) -> Result<[u8; 21], InvalidAddress> {
    let bad = || InvalidAddress(address.to_string());
    let mut bytes: Vec<u8> = Vec::with_capacity(25);
    for c in address.bytes() {
        let mut carry = ALPHABET.iter().position(|a| *a == c).ok_or_else(bad)? as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = address.bytes().take_while(|c| *c == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend(bytes);
    if full.len() != 25 || full[0] != 0x41 || checksum(&full[..21]) != full[21..25] {
        return Err(bad());
    }
    let mut out = [0u8; 21];
    out.copy_from_slice(&full[..21]);
    Ok(out)
}

/// The base58 `T…` form of 21 bytes.
pub fn encode(bytes: &[u8; 21]) -> String {
    let mut full = bytes.to_vec();
    full.extend_from_slice(&checksum(bytes));
    let mut digits: Vec<u8> = Vec::new();
    for b in &full {
        let mut carry = u32::from(*b);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = full.iter().take_while(|b| **b == 0).count();
    let mut s: String = std::iter::repeat_n('1', zeros).collect();
    s.extend(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char));
    s
}

/// Lower-case hex of the 20-byte EVM form (as in logs and topics).
pub fn evm_hex(address: &str) -> Result<String, InvalidAddress> {
    Ok(hex(&decode(address)?[1..]))
}

/// Lower-case hex of the 21-byte form (as in `contract_address`).
pub fn tron_hex(address: &str) -> Result<String, InvalidAddress> {
    Ok(hex(&decode(address)?))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A valid address made from a seed, for fakes and tests.
pub fn from_seed(seed: u64) -> String {
    let mut bytes = [0u8; 21];
    bytes[0] = 0x41;
    let digest = Sha256::digest(seed.to_be_bytes());
    bytes[1..].copy_from_slice(&digest[..20]);
    encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdt_mainnet_round_trips_to_its_documented_hex() {
        assert_eq!(
            tron_hex(super::super::USDT_MAINNET).unwrap(),
            "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
        );
        assert_eq!(
            evm_hex(super::super::USDT_MAINNET).unwrap(),
            "a614f803b6fd780986a42c78ec9c7f77e6ded13c"
        );
        let bytes = decode(super::super::USDT_MAINNET).unwrap();
        assert_eq!(encode(&bytes), super::super::USDT_MAINNET);
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        assert!(decode("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u").is_err());
        assert!(decode("0R7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").is_err());
        let a = from_seed(7);
        assert!(a.starts_with('T'));
        assert_eq!(encode(&decode(&a).unwrap()), a);
    }
}
