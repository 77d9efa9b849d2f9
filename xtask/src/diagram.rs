//! The octet diagrams of Xen's pandoc specs: derived from the layout
//! descriptors, drawn as Xen draws them, and read back from a spec.
//!
//! A diagram is a list of [`Unit`]s between `+---+` borders: rows of
//! cells (an 8-octet line of the struct), a blob (a part of variable
//! length, `| context... |` followed by `...`), or a gap (`...` between
//! two array elements). The description says which fields there are, where
//! and how wide; [`FieldDiagram`](format_spec::layout::FieldDiagram) and
//! `RecordLayout::spec_body` say what the spec calls them.

use format_spec::layout::{Count, FieldKind, FieldLayout, LengthRule, RecordLayout, StructLayout};

/// Octets per diagram row.
const ROW: usize = 8;

/// One cell of a row: its label, first octet in the row and width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// What the cell shows (`count (C)`, `(reserved)`).
    pub label: String,
    /// Its first octet within the row (0 to 7).
    pub start: usize,
    /// Its width in octets.
    pub width: usize,
}

/// One part of a diagram between borders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// An 8-octet row of cells.
    Row(Vec<Cell>),
    /// A part of variable length: one full-width cell, then `...`.
    Blob(String),
    /// `...` between two elements of an array.
    Gap,
}

/// A full-width row with one cell.
fn full(label: String) -> Unit {
    Unit::Row(vec![Cell {
        label,
        start: 0,
        width: ROW,
    }])
}

/// The label of a fixed field.
fn label(f: &FieldLayout) -> String {
    if let Some(l) = f.diagram.label {
        return l.to_string();
    }
    match f.diagram.symbol {
        Some(s) => format!("{} ({s})", f.spec_name()),
        None => f.spec_name().to_string(),
    }
}

/// The rows of the fixed part of `s`: consecutive reserved fields in one
/// row share a `(reserved)` cell; a struct that ends inside a row is
/// followed by the record's `padding`.
fn fixed_rows(s: &StructLayout) -> Vec<Unit> {
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut prev_reserved = false;
    for f in s.fields.iter().filter(|f| !f.kind.is_trailing()) {
        let (row, start) = (f.offset / ROW, f.offset % ROW);
        if rows.len() <= row {
            rows.resize(row + 1, Vec::new());
            prev_reserved = false;
        }
        let cells = &mut rows[row];
        if f.is_reserved() && prev_reserved {
            if let Some(last) = cells.last_mut() {
                last.width += f.size();
                continue;
            }
        }
        prev_reserved = f.is_reserved();
        cells.push(Cell {
            label: if f.is_reserved() {
                "(reserved)".to_string()
            } else {
                label(f)
            },
            start,
            width: f.size(),
        });
    }
    let fixed: usize = s.fields.iter().map(|f| f.size()).sum();
    if !fixed.is_multiple_of(ROW) {
        if let Some(cells) = rows.last_mut() {
            cells.push(Cell {
                label: "padding".to_string(),
                start: fixed % ROW,
                width: ROW - fixed % ROW,
            });
        }
    }
    rows.into_iter().map(Unit::Row).collect()
}

/// The units of a trailing array: its first element, a gap, its last.
fn trailing_units(s: &StructLayout, t: &FieldLayout) -> Vec<Unit> {
    let symbol = match t.count {
        Count::Field(c) => s.field(c).and_then(|f| f.diagram.symbol).unwrap_or("C"),
        _ => "C",
    };
    let name = t.spec_name();
    let first = t.diagram.first.unwrap_or("0").to_string();
    let last = t
        .diagram
        .last
        .map_or_else(|| format!("{symbol}-1"), str::to_string);
    let element = |index: &str| -> Vec<Unit> {
        match t.kind {
            FieldKind::TrailingStruct(e) => e
                .fields
                .iter()
                .map(|m| full(format!("{name}[{index}].{}", m.spec_name())))
                .collect(),
            _ => vec![full(format!("{name}[{index}]"))],
        }
    };
    match t.kind {
        FieldKind::TrailingPrim(p) if p.size() == 1 => vec![Unit::Blob(format!("{name}..."))],
        _ => {
            let mut units = element(&first);
            units.push(Unit::Gap);
            units.extend(element(&last));
            units
        }
    }
}

/// The diagram of a struct (an image or stream header).
pub fn of_struct(s: &StructLayout) -> Vec<Unit> {
    let mut units = fixed_rows(s);
    if let Some(t) = s.trailing() {
        units.extend(trailing_units(s, t));
    }
    units
}

/// The diagram of a record's body.
pub fn of_record(r: &RecordLayout) -> Vec<Unit> {
    let body = r.body.filter(|b| b.size > 0 || r.spec_body.is_none());
    let Some(b) = body else {
        return r
            .spec_body
            .map(|l| Unit::Blob(l.to_string()))
            .into_iter()
            .collect();
    };
    let mut units = of_struct(b);
    match (r.length, r.spec_body) {
        (LengthRule::PageData, Some(pages)) => {
            // One page for each of N entries with data.
            units.push(Unit::Blob(format!("{pages}[0]...")));
            units.push(Unit::Blob(format!("{pages}[N-1]...")));
        }
        // The struct starts the body; the rest is what the spec names.
        (_, Some(rest)) => units.push(Unit::Blob(rest.to_string())),
        (_, None) => {}
    }
    units
}

/// The column of the boundary before octet `k` (0 to 8).
fn column(k: usize) -> usize {
    // Xen's diagrams give each octet 6 columns and the last cell two more.
    if k >= ROW {
        54
    } else {
        4 + 6 * k
    }
}

/// A border with `+` at the boundaries of `rows`' cells.
fn border(rows: &[&Unit]) -> String {
    let mut marks = vec![0, ROW];
    for u in rows {
        if let Unit::Row(cells) = u {
            marks.extend(cells.iter().map(|c| c.start));
        }
    }
    let mut line: Vec<char> = format!("    +{}+", "-".repeat(column(ROW) - 5))
        .chars()
        .collect();
    for m in marks {
        line[column(m)] = '+';
    }
    line.into_iter().collect()
}

/// One row of cells as text.
fn row_line(cells: &[Cell]) -> String {
    let mut line = String::from("    ");
    for c in cells {
        let inner = column(c.start + c.width) - column(c.start) - 1;
        line.push_str(&format!("|{:<inner$}", format!(" {}", c.label)));
    }
    line + "|"
}

/// The diagram as Xen writes it: the octet ruler, then the units between
/// borders. A diagram without units is the ruler and one border.
pub fn render(units: &[Unit]) -> String {
    let mut out = String::from("     0     1     2     3     4     5     6     7 octet\n");
    let mut prev: Option<&Unit> = None;
    for u in units {
        out.push_str(&border(&prev.into_iter().chain([u]).collect::<Vec<_>>()));
        out.push('\n');
        match u {
            Unit::Row(cells) => out.push_str(&row_line(cells)),
            Unit::Blob(label) => {
                out.push_str(&row_line(&[Cell {
                    label: label.clone(),
                    start: 0,
                    width: ROW,
                }]));
                out.push_str("\n    ...");
            }
            Unit::Gap => out.push_str("    ..."),
        }
        out.push('\n');
        prev = Some(u);
    }
    out.push_str(&border(&prev.into_iter().collect::<Vec<_>>()));
    out.push('\n');
    out
}

/// The octet a column of a diagram line falls on.
fn octet(col: usize) -> usize {
    ((col.saturating_sub(4) as f64 / 6.0).round() as usize).min(ROW)
}

/// Whether a line belongs to a diagram's body (a border, a row or `...`).
pub fn is_diagram_line(line: &str) -> bool {
    let t = line.trim_start();
    line.starts_with("    ") && (t.starts_with('+') || t.starts_with('|') || t == "...")
}

/// Whether a line is a diagram's octet ruler.
pub fn is_ruler(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("0 ") && t.ends_with(" octet")
}

/// Reads a diagram back from a spec: `lines` from the ruler on. Returns
/// the units and the number of lines the diagram takes.
pub fn parse(lines: &[&str]) -> (Vec<Unit>, usize) {
    let mut n = usize::from(lines.first().is_some_and(|l| is_ruler(l)));
    let mut units = Vec::new();
    while n < lines.len() && is_diagram_line(lines[n]) {
        let line = lines[n].trim_end();
        let t = line.trim_start();
        if t == "..." {
            units.push(Unit::Gap);
        } else if t.starts_with('|') {
            let bars: Vec<usize> = line.match_indices('|').map(|(i, _)| i).collect();
            let cells: Vec<Cell> = bars
                .windows(2)
                .map(|w| Cell {
                    label: line[w[0] + 1..w[1]].trim().to_string(),
                    start: octet(w[0]),
                    width: octet(w[1]) - octet(w[0]),
                })
                .collect();
            if lines.get(n + 1).is_some_and(|l| l.trim() == "...") && cells.len() == 1 {
                units.push(Unit::Blob(cells[0].label.clone()));
                n += 1;
            } else {
                units.push(Unit::Row(cells));
            }
        }
        n += 1;
    }
    (units, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use format_spec::layout::Wire;
    use format_spec::libxc::{DomainHeader, LibxcRecord};

    fn record(name: &str) -> &'static RecordLayout {
        LibxcRecord::LAYOUT.by_name(name).unwrap()
    }

    #[test]
    fn diagrams_are_drawn_as_in_xen() {
        let pv_info = render(&of_record(record("X86_PV_INFO")));
        assert_eq!(
            pv_info,
            "     0     1     2     3     4     5     6     7 octet\n\
             \x20   +-----+-----+-------------------------------------+\n\
             \x20   | w   | ptl | (reserved)                          |\n\
             \x20   +-----+-----+-------------------------------------+\n"
        );
        let dhdr = render(&of_struct(&DomainHeader::LAYOUT));
        assert!(dhdr.contains("    | type                  | page_shift| (reserved)  |\n"));
        let end = render(&of_record(record("END")));
        assert_eq!(end.lines().count(), 2);
    }

    #[test]
    fn rendered_diagrams_read_back_as_they_were() {
        for r in LibxcRecord::LAYOUT.records {
            let units = of_record(r);
            let text = render(&units);
            let lines: Vec<&str> = text.lines().collect();
            let (back, n) = parse(&lines);
            assert_eq!(back, units, "{}", r.spec_name);
            assert_eq!(n, lines.len(), "{}", r.spec_name);
            assert!(lines.iter().all(|l| l.len() < 80));
        }
    }
}
