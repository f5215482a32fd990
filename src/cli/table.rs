//! Text tables for listings: each column as wide as its widest cell, and times shown
//! relative to now as Docker shows them ("3 hours ago"); `--json` keeps exact times.

use std::fmt::Write as _;

/// `rows` (the header first) as aligned columns two spaces apart; the columns in `right`
/// are right-aligned (sizes, counts).
pub(super) fn render(rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths = Vec::new();
    for row in rows {
        widths.resize(widths.len().max(row.len()), 0);
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, &width))| {
                if right.contains(&column) {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        let _ = writeln!(text, "{}", cells.join("  ").trim_end());
    }
    text
}

/// `time` (RFC 3339) relative to `now`, like Docker's `CREATED` column; a time that does not
/// parse is shown as it is, and an empty one as `-`.
pub(super) fn ago(time: &str, now: jiff::Timestamp) -> String {
    if time.is_empty() {
        return "-".to_string();
    }
    let Ok(then) = time.parse::<jiff::Timestamp>() else {
        return time.to_string();
    };
    let seconds = now.as_second() - then.as_second();
    if seconds < 0 {
        return "in the future".to_string();
    }
    format!("{} ago", human_duration(seconds))
}

/// Docker's (go-units') `HumanDuration`: the largest unit that keeps the number at 2 or more.
fn human_duration(seconds: i64) -> String {
    const HOUR: i64 = 3600;
    // Rounded, as Docker rounds them.
    let hours = (seconds + HOUR / 2) / HOUR;
    match seconds {
        0 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if seconds / 60 == 1 => "About a minute".to_string(),
        _ if seconds < HOUR => format!("{} minutes", seconds / 60),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / HOUR / 24 / 365),
    }
}

/// The PORTS column of `ps`, as Docker's: `127.0.0.1:8080->80/tcp, …`.
pub(super) fn ports(ports: &[crate::runtime::network::PublishedPort]) -> String {
    ports
        .iter()
        .map(|port| {
            format!(
                "{}:{}->{}/tcp",
                port.host_ip, port.host_port, port.container_port
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_the_widest_cell() {
        let rows = vec![
            vec!["IMAGE".into(), "CREATED".into(), "SIZE".into()],
            vec!["a:1".into(), "2 days ago".into(), "1.0 MB".into()],
            vec!["longer:name".into(), "26 years ago".into(), "12 B".into()],
        ];
        insta::assert_snapshot!(render(&rows, &[2]), @"
        IMAGE        CREATED         SIZE
        a:1          2 days ago    1.0 MB
        longer:name  26 years ago    12 B
        ");
    }

    #[test]
    fn times_read_as_docker_shows_them() {
        let now: jiff::Timestamp = "2026-01-10T12:00:00Z".parse().unwrap();
        for (time, expected) in [
            ("2026-01-10T11:59:30Z", "30 seconds ago"),
            ("2026-01-10T11:59:00Z", "About a minute ago"),
            ("2026-01-10T09:00:00Z", "3 hours ago"),
            ("2026-01-08T12:00:00Z", "2 days ago"),
            ("2025-12-01T12:00:00Z", "5 weeks ago"),
            ("2000-01-01T00:00:00Z", "26 years ago"),
            ("", "-"),
            ("not a time", "not a time"),
        ] {
            assert_eq!(ago(time, now), expected, "{time}");
        }
    }
}
