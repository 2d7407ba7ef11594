//! The disclosure control on random synthetic tables (deterministic seeds, many offices and
//! months, many small counts): no visible count from 1 to 10; an attacker who chains
//! differences (a total minus the visible cells, across categories, levels and months) — and
//! the exact audit — recovers no hidden cell; the merged national table keeps the same rules
//! and never turns a cell hidden in a body into a known one.

use std::collections::{BTreeMap, HashMap};

use passerelle_social_stats::*;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Many zeros and small counts, some large ones.
    fn count(&mut self) -> u64 {
        match self.next() % 8 {
            0 | 1 => 0,
            2..=4 => 1 + self.next() % 10,
            _ => 11 + self.next() % 50,
        }
    }
}

fn month(text: &str) -> Month {
    Month::parse(text).unwrap()
}

/// A body's random counts: every office, month, measure and category (files opened by sex
/// split from the same persons as by age).
fn counts(rng: &mut Rng, offices: &[String], months: &[Month]) -> Vec<Count> {
    let mut counts = Vec::new();
    for office in offices {
        for &m in months {
            for measure in Measure::ALL {
                let mut group_total = None;
                for (g, group) in measure.groups().iter().enumerate() {
                    let mut persons: Vec<u64> = group.iter().map(|_| rng.count()).collect();
                    if g == 0 {
                        group_total = Some(persons.iter().sum::<u64>());
                    } else {
                        // The same persons, split otherwise: all in random categories.
                        let total = group_total.unwrap();
                        persons = vec![0; group.len()];
                        for _ in 0..total {
                            persons[(rng.next() % group.len() as u64) as usize] += 1;
                        }
                    }
                    for (category, persons) in group.iter().zip(persons) {
                        let c = Count {
                            office: office.clone(),
                            month: m,
                            measure,
                            category: (*category).to_owned(),
                            persons,
                        };
                        counts.push(c);
                    }
                }
            }
        }
    }
    counts
}

/// A body's table and its true counts (every cell, before suppression).
fn body_table(seed: u64, body: &str, offices: usize, from: &str, to: &str) -> (Table, BTreeMap<CellKey, u64>) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let offices: Vec<String> = (0..offices).map(|o| format!("{body}-ss{o}")).collect();
    let months = month(from).through(month(to));
    let mut tab = Tabulation::new(body, offices.clone(), month(from), month(to)).unwrap();
    let mut truth: BTreeMap<CellKey, u64> = BTreeMap::new();
    for c in counts(&mut rng, &offices, &months) {
        assert!(tab.add(&c).unwrap());
        let category = c.measure.category(&c.category).unwrap();
        for (level, unit) in [(Level::Office, c.office.clone()), (Level::Body, body.to_owned())] {
            for slot in [Slot::Month(c.month), Slot::All] {
                for category in [category, TOTAL] {
                    if category == TOTAL && c.measure.groups()[0].iter().all(|g| *g != c.category) {
                        continue; // the second breakdown adds to the same total
                    }
                    let key = CellKey { level, unit: unit.clone(), slot, measure: c.measure, category };
                    *truth.entry(key).or_default() += c.persons;
                }
            }
        }
    }
    (tab.suppress().unwrap(), truth)
}

/// Every relation of a table as (parent, children), built here from its structure alone.
fn relations(s: &Structure) -> Vec<(CellKey, Vec<CellKey>)> {
    let mut out = Vec::new();
    let slots = s.slots();
    let months: Vec<Slot> = slots.iter().copied().filter(|s| *s != Slot::All).collect();
    let key =
        |level, unit: &str, slot, measure, category| CellKey { level, unit: unit.to_owned(), slot, measure, category };
    let units = s.units();
    for measure in Measure::ALL {
        for (level, unit) in &units {
            for &slot in &slots {
                for group in measure.groups() {
                    let children = group.iter().map(|c| key(*level, unit, slot, measure, c)).collect();
                    out.push((key(*level, unit, slot, measure, TOTAL), children));
                }
            }
            for category in measure.categories() {
                let children = months.iter().map(|&m| key(*level, unit, m, measure, category)).collect();
                out.push((key(*level, unit, Slot::All, measure, category), children));
            }
        }
        for &slot in &slots {
            for category in measure.categories() {
                for body in &s.bodies {
                    let offices = s.offices.iter().filter(|(_, b)| *b == body);
                    let children = offices.map(|(o, _)| key(Level::Office, o, slot, measure, category)).collect();
                    out.push((key(Level::Body, body, slot, measure, category), children));
                }
                if s.national {
                    let children = s.bodies.iter().map(|b| key(Level::Body, b, slot, measure, category)).collect();
                    out.push((key(Level::National, NATIONAL, slot, measure, category), children));
                }
            }
        }
    }
    out
}

/// The differencing attacker: from the exact cells, solves every relation with one unknown
/// member, again and again; returns the hidden cells it recomputed.
fn attack(table: &Table) -> Vec<CellKey> {
    let mut known: HashMap<CellKey, i128> = table
        .cells()
        .iter()
        .filter_map(|(k, v)| match v {
            Value::Exact(n) => Some((k.clone(), *n as i128)),
            _ => None,
        })
        .collect();
    let relations = relations(table.structure());
    let mut found = Vec::new();
    loop {
        let mut progress = false;
        for (parent, children) in &relations {
            let unknown: Vec<&CellKey> =
                std::iter::once(parent).chain(children).filter(|k| !known.contains_key(*k)).collect();
            let [cell] = unknown[..] else { continue };
            let sum: i128 = children.iter().filter(|c| *c != cell).map(|c| known[c]).sum();
            let value = if cell == parent { sum } else { known[parent] - sum };
            if table.get(cell) == Some(Value::Hidden) {
                found.push(cell.clone());
            }
            known.insert(cell.clone(), value);
            progress = true;
        }
        if !progress {
            return found;
        }
    }
}

fn hidden(table: &Table) -> usize {
    table.cells().values().filter(|v| **v == Value::Hidden).count()
}

#[test]
fn random_body_tables_show_no_small_count_and_no_hidden_cell_can_be_recomputed() {
    let mut hidden_cells = 0;
    for seed in 1..=12 {
        let offices = 2 + (seed as usize % 7);
        let (table, truth) = body_table(seed, "body-a", offices, "2025-11", "2026-04");
        let audit = audit(&table);
        assert!(audit.small.is_empty(), "seed {seed}: visible counts from 1 to 10: {:?}", audit.small);
        assert!(audit.disclosed.is_empty(), "seed {seed}: the exact audit recomputes {:?}", audit.disclosed);
        assert_eq!(attack(&table), Vec::<CellKey>::new(), "seed {seed}: the differencing attack");
        for (key, value) in table.cells() {
            match value {
                Value::Exact(n) => assert_eq!(*n, truth.get(key).copied().unwrap_or(0), "seed {seed}: {key}"),
                Value::Hidden => hidden_cells += 1,
                Value::AtLeast(_) => panic!("a body's table has no lower bound"),
            }
            if let Some(&n) = truth.get(key) {
                if (1..THRESHOLD).contains(&n) {
                    assert_eq!(*value, Value::Hidden, "seed {seed}: {key} counts 1 to 10");
                }
            }
        }
    }
    assert!(hidden_cells > 1000, "the random tables have many small counts ({hidden_cells} hidden)");
}

#[test]
fn the_same_counts_always_publish_the_same_table() {
    let (a, _) = body_table(7, "body-a", 5, "2026-01", "2026-06");
    let (b, _) = body_table(7, "body-a", 5, "2026-01", "2026-06");
    assert_eq!(a, b);
}

#[test]
fn a_lone_small_cell_is_protected_by_complementary_suppression() {
    // One office, one month: a single small category beside large ones; without more
    // suppression, total minus the others would give it.
    let mut tab =
        Tabulation::new("body-a", ["ss-1".to_owned(), "ss-2".to_owned()], month("2026-01"), month("2026-01")).unwrap();
    for (office, category, persons) in [("ss-1", "accepted", 40), ("ss-1", "declined", 3), ("ss-1", "no-reply", 25)] {
        let c = Count {
            office: office.into(),
            month: month("2026-01"),
            measure: Measure::OfferOutcomes,
            category: category.into(),
            persons,
        };
        tab.add(&c).unwrap();
    }
    let table = tab.suppress().unwrap();
    let key = |unit: &str, category| CellKey {
        level: if unit == "body-a" { Level::Body } else { Level::Office },
        unit: unit.into(),
        slot: Slot::Month(month("2026-01")),
        measure: Measure::OfferOutcomes,
        category,
    };
    assert_eq!(table.get(&key("ss-1", "declined")), Some(Value::Hidden));
    assert_eq!(table.get(&key("ss-2", "total")), Some(Value::Exact(0)), "a zero is shown");
    let others = ["accepted", "no-reply", "total"].map(|c| table.get(&key("ss-1", c)).unwrap());
    assert!(others.contains(&Value::Hidden), "a complement in the office's row: {others:?}");
    assert!(audit(&table).is_safe());
    assert!(attack(&table).is_empty());
}

#[test]
fn merged_national_tables_keep_the_rules_and_hidden_input_cells_stay_unknown() {
    for seed in 1..=6 {
        let bodies: Vec<(Table, BTreeMap<CellKey, u64>)> = (0..3)
            .map(|b| {
                body_table(
                    seed * 10 + b,
                    &format!("body-{b}"),
                    2 + (b as usize + seed as usize) % 4,
                    "2026-01",
                    "2026-04",
                )
            })
            .collect();
        let tables: Vec<Table> = bodies.iter().map(|(t, _)| t.clone()).collect();
        let merged = merge(&tables).unwrap();
        let audit = audit(&merged);
        assert!(audit.is_safe(), "seed {seed}: {audit:?}");
        assert!(attack(&merged).is_empty(), "seed {seed}: the differencing attack on the merged table");
        let mut bounds = 0;
        for (key, value) in merged.cells() {
            if key.level == Level::National {
                let truth: u64 = bodies
                    .iter()
                    .flat_map(|(table, truth)| table.structure().bodies.iter().map(move |b| (b, truth)))
                    .map(|(b, truth)| truth.get(&CellKey { level: Level::Body, unit: b.clone(), ..key.clone() }))
                    .map(|n| n.copied().unwrap_or(0))
                    .sum();
                match value {
                    Value::Exact(n) => assert_eq!(*n, truth, "seed {seed}: {key}"),
                    Value::AtLeast(n) => {
                        bounds += 1;
                        assert!(*n >= THRESHOLD && *n <= truth, "seed {seed}: {key} at least {n} of {truth}");
                    }
                    Value::Hidden => {}
                }
                continue;
            }
            let input = tables.iter().find_map(|t| t.get(key)).expect("every input cell is in the merge");
            match (input, value) {
                (Value::Hidden, v) => {
                    assert_eq!(*v, Value::Hidden, "seed {seed}: {key} hidden in its body stays unknown")
                }
                (Value::Exact(a), Value::Exact(b)) => assert_eq!(a, *b),
                (Value::Exact(_), Value::Hidden) => {} // hidden again by the merged table's suppression
                (a, b) => panic!("seed {seed}: {key} was {a:?}, merged {b:?}"),
            }
        }
        assert!(bounds > 0, "seed {seed}: some national cells are lower bounds");
        assert!(hidden(&merged) >= tables.iter().map(hidden).sum::<usize>());
    }
}

#[test]
fn an_export_reads_back_the_same_and_a_doctored_one_is_refused_by_field() {
    let (table, _) = body_table(3, "body-a", 3, "2026-01", "2026-03");
    let text = serde_json::to_string(&table).unwrap();
    assert!(text.starts_with(r#"{"format":"passerelle.social-service-stats/1""#));
    let back: Table = serde_json::from_str(&text).unwrap();
    assert_eq!(back, table);

    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cells = json["cells"].as_array_mut().unwrap();
    let hidden = cells.iter_mut().find(|c| c["shown"] == "hidden").unwrap();
    hidden["shown"] = "exact".into();
    hidden["persons"] = 4.into();
    let e = serde_json::from_value::<Table>(json.clone()).unwrap_err().to_string();
    assert!(e.contains("a count from 1 to 10 is never shown") && e.contains("cells["), "{e}");
    assert!(!e.contains(" 4 "), "the refusal names the cell, not the count: {e}");

    json["cells"].as_array_mut().unwrap().pop();
    let e = serde_json::from_value::<Table>(json).unwrap_err().to_string();
    assert!(e.contains("exactly those"), "{e}");
}

#[test]
fn merge_refuses_tables_of_different_periods_or_the_same_body() {
    let (a, _) = body_table(1, "body-a", 2, "2026-01", "2026-03");
    let (b, _) = body_table(2, "body-b", 2, "2026-01", "2026-04");
    let e = merge(&[a.clone(), b]).unwrap_err().to_string();
    assert!(e.contains("same period"), "{e}");
    let e = merge(&[a.clone(), a]).unwrap_err().to_string();
    assert!(e.contains("one table only"), "{e}");
}

#[test]
fn the_text_shows_s_for_hidden_cells_and_the_legend() {
    let (table, _) = body_table(5, "body-a", 2, "2026-01", "2026-02");
    let text = text::render(&table);
    assert!(text.contains("\nfiles-opened\n") && text.contains("\noffer-outcomes\n"));
    assert!(text.contains("office body-a-ss0 2026-01") && text.contains("body body-a all"));
    assert!(text.contains(" s") && text.contains("s  = suppressed"));
}

#[test]
fn the_audit_and_the_attack_find_a_cell_hidden_alone() {
    // Every count large: nothing hidden. Then one cell hidden by hand, alone in its relations.
    let mut tab =
        Tabulation::new("body-a", ["ss-1".to_owned(), "ss-2".to_owned()], month("2026-01"), month("2026-02")).unwrap();
    for office in ["ss-1", "ss-2"] {
        for m in ["2026-01", "2026-02"] {
            for measure in Measure::ALL {
                for category in measure.groups()[0] {
                    let c = Count {
                        office: office.into(),
                        month: month(m),
                        measure,
                        category: (*category).into(),
                        persons: 20,
                    };
                    tab.add(&c).unwrap();
                }
                for category in measure.groups().iter().skip(1).flat_map(|g| g.iter()) {
                    let persons = if *category == "female" { 140 } else { 0 };
                    let c = Count {
                        office: office.into(),
                        month: month(m),
                        measure,
                        category: (*category).into(),
                        persons,
                    };
                    tab.add(&c).unwrap();
                }
            }
        }
    }
    let table = tab.suppress().unwrap();
    assert_eq!(hidden(&table), 0);
    assert!(audit(&table).is_safe());
    let mut json = serde_json::to_value(&table).unwrap();
    let cell = json["cells"].as_array_mut().unwrap().iter_mut().find(|c| c["category"] == "declined").unwrap();
    cell["shown"] = "hidden".into();
    cell.as_object_mut().unwrap().remove("persons");
    let doctored: Table = serde_json::from_value(json).unwrap();
    let disclosed = audit(&doctored).disclosed;
    assert_eq!(disclosed.len(), 1, "{disclosed:?}");
    assert_eq!(attack(&doctored), disclosed);
}
