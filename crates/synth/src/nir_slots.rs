//! Unique NIRs without remembering them: each NIR is built from a *slot*, a number drawn without
//! replacement from a keyed permutation.
//!
//! A NIR is `S AA MM PPPPP OOO KK` (sex, year, month, place, order, key). Two NIRs with different
//! birth-place prefixes cannot be equal, so the numbers are split into *classes* by the prefix:
//! - `Mainland`: places `dd` + 3 digits (mainland départements, `2A`/`2B`, `99` born abroad). In
//!   this class the triple (month, last 3 place digits, order) is unique, whatever the sex, year
//!   and département drawn around it.
//! - `Overseas(d)`: places `97d` + 2 digits. The triple (month, 2 commune digits, order) is
//!   unique within the class.
//!
//! Each class has two domains, real months (`01`–`12`) and the civil-status "fictitious" months
//! (`20`–`42`, `50`–`99`), each walked in the order of a keyed Feistel permutation: consecutive
//! persons get unrelated-looking numbers, and a domain is exhausted only after every number of it
//! was used.

use rand::Rng;

/// The overseas départements whose NIR place is `97d` + 2 digits (971 to 974, 976).
pub const OVERSEAS_DIGITS: [u8; 5] = [1, 2, 3, 4, 6];

/// The real birth months.
const REAL_MONTHS: u64 = 12;
/// The fictitious and pseudo-fictitious months `20`–`42` (23) and `50`–`99` (50).
const FICTITIOUS_MONTHS: u64 = 73;
/// Order numbers `001`–`999`.
const ORDERS: u64 = 999;
/// Mainland place suffixes `001`–`999` (a commune number, or a country code after `99`).
const MAINLAND_PLACES: u64 = 999;
/// Overseas commune numbers `01`–`99`.
const OVERSEAS_PLACES: u64 = 99;
/// Feistel rounds: four rounds of a good mixing function make a permutation that looks random.
const FEISTEL_ROUNDS: usize = 4;

/// A keyed bijection of `0..domain` (a Feistel network on the next even power of two, with
/// cycle walking back into the domain).
#[derive(Debug, Clone)]
pub struct Permutation {
    domain: u64,
    half_bits: u32,
    keys: [u64; FEISTEL_ROUNDS],
}

impl Permutation {
    pub fn new(domain: u64, rng: &mut impl Rng) -> Self {
        assert!(domain > 0, "an empty domain has no permutation");
        let bits = (64 - (domain - 1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        Permutation { domain, half_bits, keys: std::array::from_fn(|_| rng.gen()) }
    }

    /// The image of `x` (which must be below the domain size).
    pub fn apply(&self, x: u64) -> u64 {
        debug_assert!(x < self.domain);
        let mut y = self.feistel(x);
        // Cycle walking: the network permutes 0..4^half_bits, which contains the domain; following
        // the cycle until it re-enters the domain gives a permutation of the domain.
        while y >= self.domain {
            y = self.feistel(y);
        }
        y
    }

    fn feistel(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for key in self.keys {
            let mixed = splitmix64(right ^ key) & mask;
            (left, right) = (right, left ^ mixed);
        }
        (left << self.half_bits) | right
    }
}

/// SplitMix64's finaliser: a fast, well-mixing function of 64 bits.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The birth-place class of a NIR (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceClass {
    Mainland,
    /// `97d`: the digit `d` of [`OVERSEAS_DIGITS`].
    Overseas(u8),
}

/// The unique part of a NIR, drawn from a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub class: PlaceClass,
    /// `01`–`12`, `20`–`42` or `50`–`99`.
    pub month: u8,
    /// The place digits after the département: `001`–`999` (mainland) or `01`–`99` (overseas).
    pub place: u16,
    /// `001`–`999`.
    pub order: u16,
}

#[derive(Debug, Clone)]
struct Domain {
    permutation: Permutation,
    next: u64,
}

impl Domain {
    fn new(size: u64, rng: &mut impl Rng) -> Self {
        Domain { permutation: Permutation::new(size, rng), next: 0 }
    }

    fn take(&mut self) -> Option<u64> {
        (self.next < self.permutation.domain).then(|| {
            self.next += 1;
            self.permutation.apply(self.next - 1)
        })
    }
}

/// Hands out unique [`Slot`]s.
#[derive(Debug, Clone)]
pub struct SlotAllocator {
    /// Per class (mainland, then each overseas digit): the real-month and fictitious-month domains.
    domains: Vec<[Domain; 2]>,
}

impl SlotAllocator {
    pub fn new(rng: &mut impl Rng) -> Self {
        let mut domains = Vec::with_capacity(1 + OVERSEAS_DIGITS.len());
        for places in std::iter::once(MAINLAND_PLACES).chain(OVERSEAS_DIGITS.iter().map(|_| OVERSEAS_PLACES)) {
            let real = Domain::new(REAL_MONTHS * places * ORDERS, rng);
            let fictitious = Domain::new(FICTITIOUS_MONTHS * places * ORDERS, rng);
            domains.push([real, fictitious]);
        }
        SlotAllocator { domains }
    }

    /// A fresh slot of the wanted class and kind of month; when that domain is exhausted, the
    /// other kind of month, then the mainland class. `None` only when everything is used.
    pub fn take(&mut self, class: PlaceClass, fictitious_month: bool) -> Option<Slot> {
        let wanted = usize::from(fictitious_month);
        let order = [(class, wanted), (class, 1 - wanted), (PlaceClass::Mainland, 0), (PlaceClass::Mainland, 1)];
        order.into_iter().find_map(|(class, kind)| {
            let index = match class {
                PlaceClass::Mainland => 0,
                PlaceClass::Overseas(d) => 1 + OVERSEAS_DIGITS.iter().position(|&o| o == d)?,
            };
            let n = self.domains[index][kind].take()?;
            Some(decode(class, kind == 1, n))
        })
    }
}

fn decode(class: PlaceClass, fictitious: bool, n: u64) -> Slot {
    let places = match class {
        PlaceClass::Mainland => MAINLAND_PLACES,
        PlaceClass::Overseas(_) => OVERSEAS_PLACES,
    };
    let order = n % ORDERS + 1;
    let rest = n / ORDERS;
    let place = rest % places + 1;
    let month_index = rest / places;
    let month = if fictitious {
        // 0..23 → 20..42, 23..73 → 50..99.
        if month_index < 23 {
            20 + month_index
        } else {
            50 + month_index - 23
        }
    } else {
        month_index + 1
    };
    Slot { class, month: month as u8, place: place as u16, order: order as u16 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashSet;

    #[test]
    fn a_permutation_is_a_bijection_of_its_domain() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for domain in [1, 2, 3, 97, 1000, 12_345] {
            let p = Permutation::new(domain, &mut rng);
            let images: HashSet<u64> = (0..domain).map(|x| p.apply(x)).collect();
            assert_eq!(images.len() as u64, domain);
            assert!(images.iter().all(|&y| y < domain));
        }
    }

    #[test]
    fn slots_are_unique_and_well_formed_until_exhaustion() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut allocator = SlotAllocator::new(&mut rng);
        let mut seen = HashSet::new();
        // Overseas class 976: 12 × 99 × 999 real slots, then fictitious months.
        for i in 0..(REAL_MONTHS * OVERSEAS_PLACES * ORDERS + 5000) {
            let slot = allocator.take(PlaceClass::Overseas(6), false).unwrap();
            assert!(seen.insert((slot.class == PlaceClass::Mainland, slot.month, slot.place, slot.order)));
            assert!((1..=999).contains(&slot.order));
            if i < REAL_MONTHS * OVERSEAS_PLACES * ORDERS {
                assert!((1..=12).contains(&slot.month), "real months come first");
                assert!((1..=99).contains(&slot.place));
            } else {
                assert!((20..=42).contains(&slot.month) || (50..=99).contains(&slot.month), "{}", slot.month);
            }
        }
    }
}
