//! Synthetic persons: each test lays out its own NIRs (sex, birth, place, order), and this
//! computes their key, so no test copies the formula.

/// The 15-character NIR of the 13 digits `first13`, with its key `97 − (N mod 97)`.
pub fn nir_with_key(first13: &str) -> String {
    assert!(first13.len() == 13 && first13.bytes().all(|b| b.is_ascii_digit()), "13 digits: {first13:?}");
    let n: u64 = first13.parse().expect("13 digits");
    format!("{first13}{:02}", 97 - n % 97)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_makes_the_number_a_multiple_of_97() {
        let nir = super::nir_with_key("1500375001001");
        assert_eq!(nir.len(), 15);
        let n: u64 = nir[..13].parse().unwrap();
        let key: u64 = nir[13..].parse().unwrap();
        assert_eq!((n + key) % 97, 0);
    }
}
